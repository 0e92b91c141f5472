/*
 * fuzz/xmpp_stream.c - libFuzzer harness for the XMPP stream reader on hostile bytes. The input
 * is what a peer wrote on an s2s connection. It is read with the default limits and with tiny
 * ones (so every limit path is reached by small inputs), each time fed at once, byte by byte, in
 * two pieces at a point the input chooses, and in irregular pieces; all feedings must give the
 * same events, byte ranges, error and error offset, and so must a reader that replaces its
 * expat parser after every stanza. Besides the sanitizers it checks the reader's contracts as
 * events arrive (ranges inside the input, markup ranges are '<'...'>' with the element's own
 * name and end tag, keepalives are whitespace, attribute bytes are the input's and decode,
 * consumed_upto never passes an element not yet reported) and aborts when one is broken. A last
 * run stops on each element and restarts the stream on the rest of the bytes, as STARTTLS and
 * SASL do.
 *
 * Then the s2s state machine (xmpp/s2s.h) is driven with the reader's events, as the proxy
 * drives it, in the role, policy and TLS mode the input chooses, with TLS handshakes and
 * dialback verifications whose outcomes the input chooses too. The input is the stream, then
 * optionally a NUL and control bytes (without them, choices come from a hash of the stream, so
 * the plain corpus streams also get varied runs). Checked as the actions come: nothing is
 * delivered before its domain pair was authenticated (PAIR_READY; on the receiving side only by
 * our dialback answer or a SASL EXTERNAL the certificate covers), every DELIVER is the stanza
 * just read and inside the bytes fed, every error ends the stream (<stream:error> and
 * </stream:stream> then CLOSE, and nothing after CLOSE whatever is called), and everything we
 * send parses as an XMPP stream in a second reader.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_check.h"
#include "s2s.h"
#include "xmpp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 8192

typedef struct {
    xmpp_event_kind_t kind;
    uint64_t start, end;
    uint64_t names; /* hash of name, ns and prefix */
    xmpp_attr_t a[8];
    unsigned ver_major, ver_minor;
    int legacy;
} ev_t;

typedef struct {
    const char *in;
    size_t len;
    ev_t ev[MAX_EVENTS];
    size_t n, total;
    uint64_t consumed;   /* highest consumed_upto seen */
    uint64_t open_start; /* start of the last ELEMENT_START not yet closed, or UINT64_MAX */
    xmpp_attr_t open_a[4];
    int stop_on_element;
    xmpp_err_t err;
    uint64_t err_off;
    int err_by_expat; /* expat's position: may move by a token with the split */
} log_t;

static log_t logs[2];

static uint64_t hash(uint64_t h, xmpp_slice_t s)
{
    for (size_t i = 0; i < s.len; i++)
        h = (h ^ (unsigned char)s.p[i]) * 1099511628211u;
    return (h ^ 0xff) * 1099511628211u;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The bytes at b are '<' [prefix ':'] name, and for an ELEMENT end with its own end tag. */
static void check_qname(const char *b, size_t len, const xmpp_elem_t *el, int whole)
{
    size_t q = 1 + (el->prefix.len ? el->prefix.len + 1 : 0) + el->name.len;
    CHECK(el->name.len > 0 && len > q);
    const char *p = b + 1;
    if (el->prefix.len) {
        CHECK(memcmp(p, el->prefix.p, el->prefix.len) == 0 && p[el->prefix.len] == ':');
        p += el->prefix.len + 1;
    }
    CHECK(memcmp(p, el->name.p, el->name.len) == 0);
    CHECK(is_ws(b[q]) || b[q] == '/' || b[q] == '>');
    if (!whole)
        return;
    /* no '<' can occur between an end tag's '</' and its '>' */
    size_t lt = len - 1;
    while (b[lt] != '<')
        lt--;
    if (lt == 0) {
        CHECK(b[len - 2] == '/');
        return;
    }
    CHECK(b[lt + 1] == '/' && len - lt >= q + 2);
    CHECK(memcmp(b + lt + 2, b + 1, q - 1) == 0);
    for (size_t i = lt + 1 + q; i < len - 1; i++)
        CHECK(is_ws(b[i]));
}

static void check_attr(const log_t *lg, const xmpp_event_t *ev, const xmpp_attr_t *a, ev_t *e,
                       int k)
{
    e->a[k].off = a->off;
    e->a[k].len = a->len;
    e->a[k].present = a->present;
    e->a[k].escaped = a->escaped;
    if (!a->present)
        return;
    CHECK(a->off >= ev->start && a->len <= ev->end - a->off);
    if (ev->kind == XMPP_EV_ELEMENT) {
        CHECK(a->p == NULL);
    } else {
        CHECK(a->p != NULL && memcmp(a->p, lg->in + a->off, a->len) == 0);
    }
    const char *raw = lg->in + a->off;
    CHECK(memchr(raw, '<', a->len) == NULL);
    int esc = 0;
    for (size_t i = 0; i < a->len; i++)
        esc |= raw[i] == '&' || raw[i] == '\t' || raw[i] == '\r' || raw[i] == '\n';
    CHECK(esc == a->escaped);
    /* expat accepted the value, so it decodes; unescaped values decode to themselves */
    char *out = malloc(a->len + 1);
    size_t n = xmpp_attr_unescape((xmpp_slice_t){raw, a->len}, out, a->len);
    CHECK(n != (size_t)-1 && n <= a->len);
    CHECK(a->escaped || (n == a->len && memcmp(out, raw, n) == 0));
    xmpp_slice_t s = xmpp_attr_slice(a, lg->in, 0, lg->len);
    CHECK(s.p == raw && s.len == a->len);
    free(out);
}

static int record(void *ud, const xmpp_event_t *ev)
{
    log_t *lg = ud;
    lg->total++;
    CHECK(ev->start <= ev->end && ev->end <= lg->len);
    const char *b = lg->in + ev->start;
    size_t len = (size_t)(ev->end - ev->start);
    switch (ev->kind) {
    case XMPP_EV_HEADER:
        CHECK(ev->header != NULL && ev->elem == NULL);
        CHECK(len >= 2 && b[0] == '<' && b[len - 1] == '>');
        break;
    case XMPP_EV_ELEMENT_START:
        CHECK(ev->elem != NULL && ev->header == NULL);
        CHECK(len >= 2 && b[0] == '<' && b[len - 1] == '>');
        CHECK(lg->open_start == UINT64_MAX);
        CHECK(ev->start >= lg->consumed);
        check_qname(b, len, ev->elem, 0);
        lg->open_start = ev->start;
        break;
    case XMPP_EV_ELEMENT:
        CHECK(ev->elem != NULL && ev->header == NULL);
        CHECK(len >= 2 && b[0] == '<' && b[len - 1] == '>');
        CHECK(ev->start == lg->open_start);
        CHECK(ev->start >= lg->consumed);
        check_qname(b, len, ev->elem, 1);
        lg->open_start = UINT64_MAX;
        break;
    case XMPP_EV_KEEPALIVE:
        CHECK(len > 0);
        for (size_t i = 0; i < len; i++)
            CHECK(is_ws(b[i]));
        break;
    case XMPP_EV_CLOSE:
        CHECK(len == 0 || (len >= 3 && b[0] == '<' && b[1] == '/' && b[len - 1] == '>'));
        break;
    }
    if (lg->n < MAX_EVENTS) {
        ev_t *e = &lg->ev[lg->n++];
        memset(e, 0, sizeof *e);
        e->kind = ev->kind;
        e->start = ev->start;
        e->end = ev->end;
        if (ev->elem) {
            const xmpp_elem_t *el = ev->elem;
            e->names = hash(hash(hash(14695981039346656037u, el->name), el->ns), el->prefix);
            const xmpp_attr_t *src[4] = {&el->to, &el->from, &el->type, &el->id};
            for (int k = 0; k < 4; k++) {
                check_attr(lg, ev, src[k], e, k);
                if (ev->kind == XMPP_EV_ELEMENT_START) {
                    lg->open_a[k] = e->a[k];
                } else {
                    CHECK(lg->open_a[k].present == e->a[k].present &&
                          lg->open_a[k].off == e->a[k].off && lg->open_a[k].len == e->a[k].len);
                }
            }
        }
        if (ev->header) {
            const xmpp_header_t *h = ev->header;
            const xmpp_attr_t *src[8] = {&h->to,   &h->from,  &h->id,           &h->version,
                                         &h->lang, &h->xmlns, &h->xmlns_stream, &h->xmlns_db};
            for (int k = 0; k < 8; k++)
                check_attr(lg, ev, src[k], e, k);
            e->ver_major = h->ver_major;
            e->ver_minor = h->ver_minor;
            e->legacy = h->legacy;
            CHECK(h->legacy == !h->version.present);
        }
    }
    return lg->stop_on_element && ev->kind == XMPP_EV_ELEMENT;
}

static int same_event(const ev_t *x, const ev_t *y)
{
    if (x->kind != y->kind || x->start != y->start || x->end != y->end || x->names != y->names ||
        x->ver_major != y->ver_major || x->ver_minor != y->ver_minor || x->legacy != y->legacy)
        return 0;
    for (int k = 0; k < 8; k++) {
        if (x->a[k].present != y->a[k].present || x->a[k].escaped != y->a[k].escaped ||
            x->a[k].off != y->a[k].off || x->a[k].len != y->a[k].len)
            return 0;
    }
    return 1;
}

/* Feeds in pieces ending at cuts[] (ascending, last = size) and finishes. */
static void feed(log_t *lg, const xmpp_reader_opts_t *o, const uint8_t *data, size_t size,
                 const size_t *cuts, size_t ncuts)
{
    lg->in = (const char *)data;
    lg->len = size;
    lg->n = lg->total = 0;
    lg->consumed = 0;
    lg->open_start = UINT64_MAX;
    lg->stop_on_element = 0;
    xmpp_reader_t *r = xmpp_reader_new(o, record, lg);
    CHECK(r != NULL);
    xmpp_err_t e = XMPP_E_NONE;
    size_t off = 0;
    for (size_t k = 0; k < ncuts && e == XMPP_E_NONE; k++) {
        if (cuts[k] <= off)
            continue;
        e = xmpp_reader_feed(r, (const char *)data + off, cuts[k] - off);
        off = cuts[k];
        uint64_t c = xmpp_reader_consumed_upto(r);
        if (e == XMPP_E_NONE) {
            CHECK(c >= lg->consumed && c <= xmpp_reader_offset(r));
            CHECK(xmpp_reader_offset(r) == off);
            lg->consumed = c;
        }
    }
    if (e == XMPP_E_NONE)
        e = xmpp_reader_finish(r);
    CHECK(e != XMPP_E_STOPPED && e != XMPP_E_FINISHED);
    CHECK(e == xmpp_reader_error(r));
    CHECK(xmpp_reader_state(r) == (e == XMPP_E_NONE ? XMPP_STATE_DONE : XMPP_STATE_ERROR));
    CHECK(xmpp_err_condition(e) != NULL || e == XMPP_E_NONE);
    if (e != XMPP_E_NONE) {
        CHECK(xmpp_reader_error_offset(r) <= size);
        CHECK(xmpp_reader_feed(r, "<", 1) == e);
        char buf[512];
        size_t n = xmpp_stream_error_render(e, "fuzz", buf, sizeof buf);
        CHECK(n > 0 && n <= sizeof buf);
    }
    lg->err = e;
    lg->err_off = xmpp_reader_error_offset(r);
    lg->err_by_expat = e != XMPP_E_NONE && xmpp_reader_error_detail(r) != xmpp_strerror(e);
    xmpp_reader_free(r);
}

static void compare(const log_t *a, const log_t *b)
{
    CHECK(a->total == b->total && a->n == b->n);
    /* Where expat finds the error, it may name another one (not-well-formed, both) or place
     * it a token away when the input is split differently: expat's tokenizer does that. */
    if (a->err_by_expat && b->err_by_expat) {
        CHECK(strcmp(xmpp_err_condition(a->err), xmpp_err_condition(b->err)) == 0);
    } else {
        CHECK(a->err == b->err);
        CHECK(a->err == XMPP_E_NONE || a->err_off == b->err_off);
    }
    for (size_t i = 0; i < a->n; i++)
        CHECK(same_event(&a->ev[i], &b->ev[i]));
}

static void read_all_ways(const xmpp_reader_opts_t *o, const uint8_t *data, size_t size)
{
    static size_t cuts[1 << 16];
    size_t n;

    cuts[0] = size;
    feed(&logs[0], o, data, size, cuts, 1);

    /* byte by byte (the last piece takes what is left of a very long input) */
    n = size < sizeof cuts / sizeof cuts[0] ? size : sizeof cuts / sizeof cuts[0];
    for (size_t i = 0; i < n; i++)
        cuts[i] = i + 1;
    if (n > 0) {
        cuts[n - 1] = size;
        feed(&logs[1], o, data, size, cuts, n);
        compare(&logs[0], &logs[1]);
    }

    /* two pieces, at a point the input chooses */
    if (size > 1) {
        cuts[0] = 1 + (data[size - 1] * 251u + data[0]) % (size - 1);
        cuts[1] = size;
        feed(&logs[1], o, data, size, cuts, 2);
        compare(&logs[0], &logs[1]);
    }

    /* irregular pieces */
    uint32_t x = 2463534242u ^ (uint32_t)size;
    size_t at = 0;
    n = 0;
    while (at < size && n < sizeof cuts / sizeof cuts[0] - 1) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        at += 1 + x % 97;
        cuts[n++] = at < size ? at : size;
    }
    cuts[n++] = size;
    feed(&logs[1], o, data, size, cuts, n);
    compare(&logs[0], &logs[1]);
}

/* Stop on the first element and read the rest of the bytes as a new stream. */
static void restart(const uint8_t *data, size_t size)
{
    log_t *lg = &logs[1];
    lg->in = (const char *)data;
    lg->len = size;
    lg->n = lg->total = 0;
    lg->consumed = 0;
    lg->open_start = UINT64_MAX;
    lg->stop_on_element = 1;
    xmpp_reader_t *r = xmpp_reader_new(NULL, record, lg);
    CHECK(r != NULL);
    size_t off = 0;
    int restarts = 0;
    while (off < size) {
        size_t n = size - off < 61 ? size - off : 61;
        xmpp_err_t e = xmpp_reader_feed(r, (const char *)data + off, n);
        if (e == XMPP_E_STOPPED) {
            uint64_t stop = xmpp_reader_offset(r);
            CHECK(stop > off && stop <= off + n);
            CHECK(xmpp_reader_reset(r) == 0);
            CHECK(xmpp_reader_offset(r) == stop);
            lg->open_start = UINT64_MAX;
            lg->consumed = stop;
            off = (size_t)stop;
            if (++restarts > 64)
                lg->stop_on_element = 0;
            continue;
        }
        if (e != XMPP_E_NONE)
            break;
        off += n;
        CHECK(xmpp_reader_offset(r) == off);
    }
    xmpp_reader_finish(r);
    xmpp_reader_free(r);
}

/* Replacing the parser after every stanza changes nothing a caller can see. */
static void recycling(const uint8_t *data, size_t size)
{
    static const xmpp_reader_opts_t never = {.recycle_bytes = SIZE_MAX};
    static const xmpp_reader_opts_t always = {.recycle_bytes = 1};
    size_t cut = size;
    feed(&logs[0], &never, data, size, &cut, 1);
    feed(&logs[1], &always, data, size, &cut, 1);
    compare(&logs[0], &logs[1]);
}

/* ---------------------------------------------------------------- the s2s state machine */

static const char *const recv_domains[] = {"montague.example", "chat.montague.example"};
static const char *const orig_domains[] = {"capulet.example", "rooms.capulet.example"};
static const char *const optional_for[] = {"capulet.example"};
static const char *const cert_pool[] = {"capulet.example", "*.capulet.example", "montague.example",
                                        "rooms.capulet.example"};

#define MAX_DEFER 32

typedef struct {
    xmpp_s2s_t *s;
    xmpp_reader_t *r;    /* the peer's stream, as we read it */
    xmpp_reader_t *outr; /* our stream, as the peer reads it */
    xmpp_s2s_role_t role;
    const uint8_t *ctl; /* control bytes */
    size_t nctl, ci;
    uint64_t rng;
    char *rb; /* the relay buffer: the stream as fed to the reader, at its offsets */
    size_t rb_len;
    const xmpp_event_t *ev; /* the event being fed */
    int tls_wait, restart, closed;
    int in_verified_call; /* inside our dialback_verified(VALID) call: pair index, else -1 */
    xmpp_s2s_state_t st_before;
    int ready[64];
    int defer[MAX_DEFER];
    size_t ndefer;
    int tls_verified;
    const char *names[4];
    size_t nnames;
    int out_open; /* our stream has a header in outr */
    int trace;    /* XMPP_S2S_TRACE set: print the actions (replaying an input by hand) */
} drive_t;

static int starts(const char *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n > l && memcmp(p, lit, l) == 0 && (is_ws(p[l]) || p[l] == '/' || p[l] == '>');
}

static int contains(const char *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    for (size_t i = 0; i + l <= n; i++) {
        if (memcmp(p + i, lit, l) == 0)
            return 1;
    }
    return 0;
}

static uint8_t pick(drive_t *d)
{
    if (d->ci < d->nctl)
        return d->ctl[d->ci++];
    d->rng ^= d->rng << 13;
    d->rng ^= d->rng >> 7;
    d->rng ^= d->rng << 17;
    return (uint8_t)(d->rng >> 24);
}

static int out_cb(void *ud, const xmpp_event_t *ev)
{
    (void)ud;
    (void)ev;
    return 0;
}

/* The harness's own reading of a certificate name (RFC 6125 left-most wildcard). */
static int covers(const drive_t *d, const char *dom)
{
    if (!d->tls_verified)
        return 0;
    for (size_t i = 0; i < d->nnames; i++) {
        const char *n = d->names[i];
        if (strcasecmp(n, dom) == 0)
            return 1;
        const char *dot = strchr(dom, '.');
        if (n[0] == '*' && dot != NULL && dot != dom && strcasecmp(n + 1, dot) == 0)
            return 1;
    }
    return 0;
}

static void drain_s2s(drive_t *d)
{
    xmpp_s2s_action_t a;
    int last_send_ends = 0, last_send_error = 0, writable;
    writable = d->st_before != XMPP_S2S_ST_TLS && d->st_before != XMPP_S2S_ST_INIT;
    while (xmpp_s2s_next_action(d->s, &a)) {
        if (d->trace)
            fprintf(stderr, "  %s pair=%d %s %s %.*s\n", xmpp_s2s_action_name(a.kind), a.pair,
                    a.from ? a.from : "", a.to ? a.to : "",
                    a.kind == XMPP_S2S_SEND ? (int)a.data.len : 0, a.data.p ? a.data.p : "");
        CHECK(!d->closed); /* nothing after CLOSE */
        xmpp_s2s_pair_t pi;
        switch (a.kind) {
        case XMPP_S2S_SEND: {
            CHECK(a.data.p != NULL && a.data.len > 0);
            static const char hdr[] = "<?xml version='1.0'?><stream:stream ";
            if (a.data.len >= sizeof hdr - 1 && memcmp(a.data.p, hdr, sizeof hdr - 1) == 0) {
                CHECK(xmpp_reader_reset(d->outr) == 0);
                d->out_open = 1;
            }
            CHECK(d->out_open); /* nothing before our header */
            xmpp_err_t oe = xmpp_reader_feed(d->outr, a.data.p, a.data.len);
            if (oe != XMPP_E_NONE) {
                fprintf(stderr, "our output does not parse (%s): %.*s\n", xmpp_err_name(oe),
                        (int)a.data.len, a.data.p);
                CHECK(oe == XMPP_E_NONE);
            }
            last_send_ends =
                a.data.len >= 16 && memcmp(a.data.p + a.data.len - 16, "</stream:stream>", 16) == 0;
            last_send_error = last_send_ends && contains(a.data.p, a.data.len, "<stream:error>");
            break;
        }
        case XMPP_S2S_DELIVER:
            /* the stanza just read, in the bytes fed, for an authenticated pair */
            CHECK(d->ev != NULL && d->ev->kind == XMPP_EV_ELEMENT);
            CHECK(a.start == d->ev->start && a.end == d->ev->end);
            CHECK(a.start < a.end && a.end <= d->rb_len);
            CHECK(d->rb[a.start] == '<');
            CHECK(starts(d->rb + a.start + 1, a.end - a.start - 1, "message") ||
                  starts(d->rb + a.start + 1, a.end - a.start - 1, "presence") ||
                  starts(d->rb + a.start + 1, a.end - a.start - 1, "iq"));
            CHECK(a.pair >= 0 && a.pair < 64 && d->ready[a.pair]);
            CHECK(xmpp_s2s_pair(d->s, a.pair, &pi) == 0 && pi.state == XMPP_PAIR_VALID);
            CHECK(xmpp_s2s_state(d->s) == XMPP_S2S_ST_OPEN);
            break;
        case XMPP_S2S_START_TLS_SERVER:
        case XMPP_S2S_START_TLS_CLIENT:
            CHECK((a.kind == XMPP_S2S_START_TLS_SERVER) == (d->role == XMPP_S2S_RECEIVING));
            d->tls_wait = 1;
            break;
        case XMPP_S2S_RESTART:
            d->restart = 1;
            break;
        case XMPP_S2S_VERIFY_DIALBACK:
            CHECK(d->role == XMPP_S2S_RECEIVING);
            CHECK(xmpp_s2s_pair(d->s, a.pair, &pi) == 0 && pi.state == XMPP_PAIR_PENDING);
            CHECK(a.key != NULL && a.stream_id != NULL && a.from != NULL && a.to != NULL);
            CHECK(a.cert_covers == covers(d, a.from));
            if (d->ndefer < MAX_DEFER)
                d->defer[d->ndefer++] = a.pair;
            break;
        case XMPP_S2S_PAIR_READY:
            CHECK(a.pair >= 0 && a.pair < 64);
            CHECK(xmpp_s2s_pair(d->s, a.pair, &pi) == 0 && pi.state == XMPP_PAIR_VALID);
            if (d->role == XMPP_S2S_RECEIVING) {
                CHECK(a.pair == d->in_verified_call || (pi.sasl && covers(d, pi.from)));
                /* the target is a domain we serve */
                CHECK(strcasecmp(pi.to, recv_domains[0]) == 0 ||
                      strcasecmp(pi.to, recv_domains[1]) == 0);
            }
            d->ready[a.pair] = 1;
            break;
        case XMPP_S2S_PAIR_FAILED:
            CHECK(a.pair >= 0 && a.pair < 64);
            CHECK(xmpp_s2s_pair(d->s, a.pair, &pi) == 0 && pi.state == XMPP_PAIR_FAILED);
            d->ready[a.pair] = 0;
            break;
        case XMPP_S2S_VERIFY_RESULT:
            CHECK(d->role == XMPP_S2S_ORIGINATING);
            break;
        case XMPP_S2S_CLOSE:
            /* every end: </stream:stream> last, after the <stream:error> if there is one */
            if (writable) {
                CHECK(last_send_ends);
                CHECK(a.err == XMPP_E_NONE || last_send_error);
            }
            CHECK(a.reason != NULL);
            d->closed = 1;
            CHECK(xmpp_s2s_state(d->s) == XMPP_S2S_ST_CLOSED);
            break;
        }
    }
}

static int drive_cb(void *ud, const xmpp_event_t *ev)
{
    drive_t *d = ud;
    if (d->trace)
        fprintf(stderr, "event %d [%llu, %llu)\n", ev->kind, (unsigned long long)ev->start,
                (unsigned long long)ev->end);
    d->ev = ev;
    d->st_before = xmpp_s2s_state(d->s);
    int rc = xmpp_s2s_feed(d->s, ev, d->rb, 0, d->rb_len);
    CHECK(rc == 0 || rc == 1);
    drain_s2s(d);
    d->ev = NULL;
    CHECK(rc == 1 || (!d->closed && !d->tls_wait && !d->restart));
    CHECK(rc == 0 || d->closed || d->tls_wait || d->restart);
    return rc;
}

/* Calls other than feed, between two reads. */
static void call(drive_t *d, int what)
{
    d->st_before = xmpp_s2s_state(d->s);
    switch (what) {
    case 0:
        xmpp_s2s_timeout(d->s);
        break;
    case 1:
        xmpp_s2s_close(d->s);
        break;
    case 2:
        xmpp_s2s_add_pair(d->s, orig_domains[pick(d) & 1]);
        break;
    case 3:
        xmpp_s2s_verify_request(d->s, orig_domains[0], "montague.example", "D60000229F",
                                "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3",
                                pick(d));
        break;
    default: {
        /* the outcome of a pending dialback verification */
        if (d->ndefer == 0)
            break;
        size_t k = pick(d) % d->ndefer;
        int pair = d->defer[k];
        d->defer[k] = d->defer[--d->ndefer];
        uint8_t o = pick(d);
        xmpp_s2s_db_result_t r = o % 3 == 0   ? XMPP_S2S_DB_VALID
                                 : o % 3 == 1 ? XMPP_S2S_DB_INVALID
                                              : XMPP_S2S_DB_ERROR;
        static const char *const conds[] = {NULL, "remote-server-timeout", "bogus", "<&'>"};
        d->in_verified_call = r == XMPP_S2S_DB_VALID ? pair : -1;
        int rc = xmpp_s2s_dialback_verified(d->s, pair, r, conds[(o >> 2) & 3]);
        drain_s2s(d);
        d->in_verified_call = -1;
        CHECK(rc == 0 || d->closed);
        break;
    }
    }
    drain_s2s(d);
}

static void handshake(drive_t *d)
{
    uint8_t c = pick(d);
    xmpp_s2s_tls_t tls = {0};
    d->tls_verified = c & 1;
    d->nnames = (c >> 1) % 3;
    for (size_t i = 0; i < d->nnames; i++)
        d->names[i] = cert_pool[(c >> (3 + 2 * i)) & 3];
    tls.verified = d->tls_verified;
    tls.names = d->names;
    tls.nnames = d->nnames;
    d->st_before = xmpp_s2s_state(d->s);
    CHECK(xmpp_s2s_tls_done(d->s, &tls) == 0);
    drain_s2s(d);
    d->tls_wait = 0;
}

/* Feeds rb[from, rb_len) (already appended), through stops and restarts. */
static void feed_rb(drive_t *d, size_t from)
{
    while (from < d->rb_len && !d->closed && !d->tls_wait) {
        xmpp_err_t e = xmpp_reader_feed(d->r, d->rb + from, d->rb_len - from);
        if (d->trace)
            fprintf(stderr, "feed [%zu, %zu): %s\n", from, d->rb_len, xmpp_err_name(e));
        if (e == XMPP_E_STOPPED) {
            uint64_t stop = xmpp_reader_offset(d->r);
            CHECK(stop >= from && stop <= d->rb_len);
            if (d->closed)
                return;
            if (d->tls_wait) {
                /* sent before TLS: dropped, the reader starts over after the handshake */
                d->rb_len = (size_t)stop;
                CHECK(xmpp_reader_reset(d->r) == 0);
                return;
            }
            CHECK(d->restart);
            d->restart = 0;
            CHECK(xmpp_reader_reset(d->r) == 0);
            from = (size_t)stop;
            continue;
        }
        if (e != XMPP_E_NONE) {
            d->st_before = xmpp_s2s_state(d->s);
            xmpp_s2s_fail(d->s, e, NULL);
            drain_s2s(d);
            CHECK(d->closed);
        }
        return;
    }
}

/*
 * Control bytes, in the order they are taken (after the stream's NUL; then from a PRNG seeded
 * with the stream): mode (bit 0 originating, 1 direct TLS, 2 TLS optional, 3 pre-1.0 allowed,
 * 5 sasl_external, 6-7 feeding: 0 at once, 1 or 3 line by line, 2 pieces of 1-32 bytes), limits
 * (bits 0-1 max_pairs - 1, 2-4 max_dialback - 1, 5-6 max_sasl_failures - 1, 7 TLS optional for
 * capulet.example), extra (bits 0-1: 1 verify-only, 2 dialback off). Then one byte per TLS
 * handshake (bit 0 verified, the rest the certificate's names) and, before each piece, one
 * byte: under 24 it makes a call (timeout, close, add_pair, verify_request, or the answer to a
 * pending dialback verification: two more bytes say which and what).
 */
static void s2s_drive(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t len = nul ? (size_t)(nul - data) : size;
    static drive_t d;
    memset(&d, 0, sizeof d);
    d.ctl = nul ? nul + 1 : NULL;
    d.nctl = nul ? size - len - 1 : 0;
    d.rng = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < len; i++)
        d.rng = (d.rng ^ data[i]) * 1099511628211u;
    d.rng |= 1;
    d.in_verified_call = -1;
    d.trace = getenv("XMPP_S2S_TRACE") != NULL;

    uint8_t mode = pick(&d), limits = pick(&d), extra = pick(&d);
    xmpp_s2s_config_t cfg = {0};
    xmpp_s2s_params_t p = {0};
    static const unsigned char seed[16] = "fuzz-stream-ids!";
    d.role = (mode & 1) ? XMPP_S2S_ORIGINATING : XMPP_S2S_RECEIVING;
    p.role = d.role;
    p.direct_tls = (mode >> 1) & 1;
    p.seed = seed;
    p.seed_len = sizeof seed;
    cfg.tls_optional = (mode >> 2) & 1;
    cfg.tls_optional_for = optional_for;
    cfg.ntls_optional_for = (limits >> 7) & 1;
    cfg.allow_legacy = (mode >> 3) & 1;
    cfg.dialback_off = (extra & 3) == 2;
    cfg.max_pairs = 1 + (limits & 3);
    cfg.max_dialback = 1 + ((limits >> 2) & 7);
    cfg.max_sasl_failures = 1 + ((limits >> 5) & 3);
    if (d.role == XMPP_S2S_RECEIVING) {
        cfg.domains = recv_domains;
        cfg.secret = "d14lb4ck43v3r";
    } else {
        cfg.domains = orig_domains;
        cfg.secret = "s3cr3tf0rd14lb4ck";
        p.local = orig_domains[0];
        p.remote = "montague.example";
        p.sasl_external = (mode >> 5) & 1;
        p.verify_only = (extra & 3) == 1;
    }
    cfg.ndomains = 2;
    cfg.secret_len = strlen(cfg.secret);
    int pieces = mode >> 6; /* 0 at once, 1 and 3 line by line, 2 small pieces */

    d.s = xmpp_s2s_new(&cfg, &p);
    CHECK(d.s != NULL);
    d.r = xmpp_reader_new(NULL, drive_cb, &d);
    d.outr = xmpp_reader_new(NULL, out_cb, NULL);
    d.rb = malloc(len + 1);
    CHECK(d.r != NULL && d.outr != NULL && d.rb != NULL);

    if (p.direct_tls)
        handshake(&d);
    if (d.role == XMPP_S2S_ORIGINATING) {
        if (p.verify_only)
            call(&d, 3);
        d.st_before = xmpp_s2s_state(d.s);
        CHECK(xmpp_s2s_start(d.s) == 0);
        drain_s2s(&d);
    }
    size_t off = 0;
    while (off < len && !d.closed) {
        if (d.tls_wait)
            handshake(&d);
        uint8_t c = pick(&d);
        if (d.trace)
            fprintf(stderr, "loop off=%zu len=%zu c=%u\n", off, len, c);
        if (c < 24)
            call(&d, c % 6);
        if (d.closed)
            break;
        size_t n = len - off;
        if (pieces == 2) {
            n = 1 + pick(&d) % 32;
        } else if (pieces != 0) {
            const uint8_t *nl = memchr(data + off, '\n', len - off);
            n = nl ? (size_t)(nl - (data + off)) + 1 : len - off;
        }
        if (n > len - off)
            n = len - off;
        size_t from = d.rb_len;
        memcpy(d.rb + d.rb_len, data + off, n);
        d.rb_len += n;
        off += n;
        if (!d.tls_wait)
            feed_rb(&d, from);
    }
    if (!d.closed && !d.tls_wait) {
        xmpp_err_t e = xmpp_reader_finish(d.r);
        if (e != XMPP_E_NONE && e != XMPP_E_STOPPED) {
            d.st_before = xmpp_s2s_state(d.s);
            xmpp_s2s_fail(d.s, e, NULL);
            drain_s2s(&d);
        }
    }
    /* the answers still pending, then some calls; after CLOSE none may produce an action */
    while (d.ndefer > 0 && !d.closed)
        call(&d, 5);
    for (int k = 0; k < 4; k++)
        call(&d, pick(&d) % 6);
    if (d.closed) {
        xmpp_s2s_action_t a;
        xmpp_event_t ka = {XMPP_EV_KEEPALIVE, 0, 0, NULL, NULL};
        CHECK(xmpp_s2s_feed(d.s, &ka, d.rb, 0, d.rb_len) == 1);
        CHECK(xmpp_s2s_next_action(d.s, &a) == 0);
        CHECK(xmpp_s2s_state(d.s) == XMPP_S2S_ST_CLOSED);
    }
    xmpp_s2s_free(d.s);
    xmpp_reader_free(d.r);
    xmpp_reader_free(d.outr);
    free(d.rb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const xmpp_reader_opts_t tiny = {.max_stanza = 200,
                                            .max_header = 300,
                                            .max_depth = 4,
                                            .max_attrs = 6,
                                            .max_attr_len = 40,
                                            .recycle_bytes = 64};
    read_all_ways(NULL, data, size);
    read_all_ways(&tiny, data, size);
    recycling(data, size);
    restart(data, size);
    s2s_drive(data, size);
    return 0;
}
