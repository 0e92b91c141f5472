/*
 * xmpp_reader_bench.c - throughput of the XMPP stream reader against expat alone. The input is
 * a generated server-to-server stream (header, then messages, presences and iqs of the shapes
 * real servers exchange, with the odd whitespace keepalive), about 1.5 MB, fed in 16 KiB pieces
 * as TLS records would deliver it. The limit is a bare expat parser configured the same way
 * (namespaces, UTF-8) with no handlers at all: what parsing costs before anyone looks at it.
 * The reader's cost above that is its callbacks, offsets, limit checks and attribute ranges.
 * Build it in Release for meaningful figures.
 *
 * Usage: xmpp_reader_bench [--quick] [--seconds=S]
 * The last line of output is machine-readable:
 *   xmpp_reader: <A> MB/s, bare expat <B> MB/s
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <expat.h>

#include "xmpp.h"

#define PIECE       16384
#define STREAM_SIZE (1500 * 1000)

static char *stream;
static size_t stream_len, stream_cap, stanzas;

/* Every result is folded in here so the compiler cannot drop the work being timed. */
static volatile uint64_t sink;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------- the stream */

static uint32_t rng = 0x9e3779b9u;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng % n;
}

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void put(const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(stream + stream_len, stream_cap - stream_len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < stream_cap - stream_len) {
            stream_len += (size_t)n;
            return;
        }
        stream_cap *= 2;
        stream = realloc(stream, stream_cap);
        if (stream == NULL)
            abort();
    }
}

static const char *const words[] = {
    "the",   "meeting", "is",    "moved", "to",     "three", "o'clock", "&amp;", "caf\xc3\xa9",
    "we",    "need",    "the",   "draft", "before", "noon",  "&lt;3",   "ok",    "thanks",
    "see",   "you",     "at",    "the",   "edge",   "proxy", "review",  "later", "\xe2\x9c\x93",
    "build", "is",      "green", "again", "shall",  "we",    "ship",    "it",    "today?"};

static void body_text(size_t words_n)
{
    for (size_t i = 0; i < words_n; i++)
        put("%s%s", i ? " " : "", words[rnd(sizeof words / sizeof words[0])]);
}

static void jid(const char *domain, int full)
{
    put("user%u@%s", rnd(5000), domain);
    if (full)
        put("/res-%08x", rnd(0x7fffffff));
}

static void message(void)
{
    put("<message from='");
    jid("capulet.example", 1);
    put("' to='");
    jid("montague.example", rnd(2));
    put("' type='chat' id='%08x-%04x'>", rnd(0x7fffffff), rnd(0xffff));
    put("<body>");
    body_text(3 + rnd(40));
    put("</body>");
    if (rnd(2))
        put("<active xmlns='http://jabber.org/protocol/chatstates'/>");
    put("<request xmlns='urn:xmpp:receipts'/>");
    put("<origin-id xmlns='urn:xmpp:sid:0' id='%08x%08x'/>", rnd(0x7fffffff), rnd(0x7fffffff));
    if (rnd(4) == 0)
        put("<thread>%08x</thread>", rnd(0x7fffffff));
    put("</message>");
}

static void presence(void)
{
    put("<presence from='");
    jid("capulet.example", 1);
    put("' to='");
    jid("montague.example", 0);
    if (rnd(5) == 0) {
        put("' type='unavailable'/>");
        return;
    }
    put("'>");
    static const char *const show[] = {"away", "chat", "dnd", "xa"};
    if (rnd(2))
        put("<show>%s</show>", show[rnd(4)]);
    if (rnd(2)) {
        put("<status>");
        body_text(1 + rnd(8));
        put("</status>");
    }
    put("<priority>%u</priority>", rnd(10));
    put("<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
        "node='https://conversations.im' ver='%08xABCDEFGH%08x='/>",
        rnd(0x7fffffff), rnd(0x7fffffff));
    if (rnd(3) == 0)
        put("<delay xmlns='urn:xmpp:delay' from='capulet.example' "
            "stamp='2026-11-24T10:%02u:%02uZ'/>",
            rnd(60), rnd(60));
    put("</presence>");
}

static void iq(void)
{
    unsigned kind = rnd(4);
    put("<iq from='");
    jid("capulet.example", 1);
    put("' to='");
    jid("montague.example", 1);
    put("' id='iq%u' type='%s'>", rnd(100000), kind == 0 ? "get" : kind == 1 ? "get" : "result");
    switch (kind) {
    case 0:
        put("<ping xmlns='urn:xmpp:ping'/>");
        break;
    case 1:
        put("<query xmlns='http://jabber.org/protocol/disco#info' "
            "node='https://conversations.im#%08x='/>",
            rnd(0x7fffffff));
        break;
    case 2:
        put("<query xmlns='http://jabber.org/protocol/disco#info'>"
            "<identity category='client' type='phone' name='Conversations'/>"
            "<feature var='http://jabber.org/protocol/caps'/>"
            "<feature var='http://jabber.org/protocol/chatstates'/>"
            "<feature var='http://jabber.org/protocol/disco#info'/>"
            "<feature var='urn:xmpp:receipts'/><feature var='urn:xmpp:ping'/>"
            "<feature var='urn:xmpp:time'/><feature var='jabber:iq:version'/>"
            "</query>");
        break;
    default:
        put("<vCard xmlns='vcard-temp'><FN>");
        body_text(2);
        put("</FN><NICKNAME>nick%u</NICKNAME><URL>https://example.org/~u%u</URL></vCard>",
            rnd(1000), rnd(1000));
    }
    put("</iq>");
}

static void make_stream(void)
{
    stream_cap = STREAM_SIZE + 65536;
    stream = malloc(stream_cap);
    if (stream == NULL)
        abort();
    put("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
        "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
        "from='capulet.example' to='montague.example' id='D60000229F' version='1.0'>");
    while (stream_len < STREAM_SIZE) {
        unsigned k = rnd(8);
        if (k < 4)
            message();
        else if (k < 6)
            presence();
        else
            iq();
        stanzas++;
        if (rnd(4) == 0)
            put("\n");
        if (rnd(200) == 0)
            put(" ");
    }
}

/* ---------------------------------------------------------------- the two sides */

static int count_cb(void *ud, const xmpp_event_t *ev)
{
    uint64_t *n = ud;
    *n += ev->kind == XMPP_EV_ELEMENT ? ev->end - ev->start : 1;
    if (ev->elem != NULL)
        *n += ev->elem->to.len + ev->elem->from.len;
    return 0;
}

/* One pass of the reader over the stream; 0 when every stanza came out. */
static int run_reader(void)
{
    uint64_t n = 0;
    xmpp_reader_t *r = xmpp_reader_new(NULL, count_cb, &n);
    if (r == NULL)
        return -1;
    xmpp_err_t e = XMPP_E_NONE;
    for (size_t off = 0; off < stream_len && e == XMPP_E_NONE; off += PIECE)
        e = xmpp_reader_feed(r, stream + off, stream_len - off < PIECE ? stream_len - off : PIECE);
    if (e == XMPP_E_NONE)
        e = xmpp_reader_finish(r);
    int ok = e == XMPP_E_NONE && xmpp_reader_stats(r)->elements == stanzas;
    if (!ok)
        fprintf(stderr, "reader: %s at %llu (%s), %llu of %zu stanzas\n", xmpp_err_name(e),
                (unsigned long long)xmpp_reader_error_offset(r), xmpp_reader_error_detail(r),
                (unsigned long long)xmpp_reader_stats(r)->elements, stanzas);
    sink += n;
    xmpp_reader_free(r);
    return ok ? 0 : -1;
}

/* One pass of expat with no handlers; ns selects namespace processing. */
static int run_expat(int ns)
{
    XML_Parser p = ns ? XML_ParserCreateNS("UTF-8", '\x01') : XML_ParserCreate("UTF-8");
    if (p == NULL)
        return -1;
    int ok = 1;
    for (size_t off = 0; off < stream_len && ok; off += PIECE) {
        size_t n = stream_len - off < PIECE ? stream_len - off : PIECE;
        ok = XML_Parse(p, stream + off, (int)n, 0) == XML_STATUS_OK;
    }
    /* the stream is still open: the end of input is expected to be "no element found" */
    if (ok)
        ok = XML_Parse(p, "</stream:stream>", 16, 1) == XML_STATUS_OK;
    if (!ok)
        fprintf(stderr, "expat: %s\n", XML_ErrorString(XML_GetErrorCode(p)));
    sink += (uint64_t)XML_GetCurrentByteIndex(p);
    XML_ParserFree(p);
    return ok ? 0 : -1;
}

typedef int (*side_fn)(void);

static int side_reader(void)
{
    return run_reader();
}

static int side_expat_ns(void)
{
    return run_expat(1);
}

static int side_expat_plain(void)
{
    return run_expat(0);
}

/* MB/s of `iters` passes. */
static double time_side(side_fn fn, int iters, int *failed)
{
    double t0 = now_s();
    for (int i = 0; i < iters; i++)
        *failed |= fn() != 0;
    double dt = now_s() - t0;
    return (double)stream_len * iters / dt / 1e6;
}

int main(int argc, char **argv)
{
    int quick = 0;
    double seconds = 1.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strncmp(argv[i], "--seconds=", 10) == 0)
            seconds = atof(argv[i] + 10);
        else {
            fprintf(stderr, "usage: %s [--quick] [--seconds=S]\n", argv[0]);
            return 2;
        }
    }
    make_stream();
    printf("stream: %zu bytes, %zu stanzas (%.0f bytes each), fed in %d-byte pieces\n", stream_len,
           stanzas, (double)stream_len / (double)stanzas, PIECE);

    int failed = 0;
    /* Calibrate to about seconds/rounds per measurement, then alternate the sides so that a
     * busy neighbour slows both alike; keep each side's best round. */
    int rounds = quick ? 1 : 7, iters = 1;
    if (!quick) {
        double t0 = now_s();
        failed |= run_reader() != 0;
        double one = now_s() - t0;
        iters = (int)(seconds / rounds / (one > 1e-6 ? one : 1e-6));
        if (iters < 1)
            iters = 1;
    }
    double best_r = 0, best_e = 0, best_p = 0, worst_r = 1e18, worst_e = 1e18;
    for (int k = 0; k < rounds; k++) {
        double r = time_side(side_reader, iters, &failed);
        double e = time_side(side_expat_ns, iters, &failed);
        double p = time_side(side_expat_plain, iters, &failed);
        best_r = r > best_r ? r : best_r;
        best_e = e > best_e ? e : best_e;
        best_p = p > best_p ? p : best_p;
        worst_r = r < worst_r ? r : worst_r;
        worst_e = e < worst_e ? e : worst_e;
        printf("round %d: reader %.1f MB/s, bare expat %.1f MB/s (%.0f%%), expat without "
               "namespaces %.1f MB/s\n",
               k + 1, r, e, 100 * r / e, p);
    }
    if (failed) {
        fprintf(stderr, "a pass failed: no figures\n");
        return 1;
    }
    printf("best of %d rounds x %d passes: reader %.1f MB/s (%.0f ns/stanza), bare expat %.1f "
           "MB/s, reader/expat %.0f%% (rounds: reader %.1f-%.1f, expat %.1f-%.1f)\n",
           rounds, iters, best_r, 1e3 * (double)stream_len / (double)stanzas / best_r, best_e,
           100 * best_r / best_e, worst_r, best_r, worst_e, best_e);
    printf("xmpp_reader: %.1f MB/s, bare expat %.1f MB/s\n", best_r, best_e);
    return 0;
}
