/*
 * test_xmpp_reader.c - the stream reader's behaviour, one area per test: byte ranges (the
 * element bytes are exactly the input's, whatever the split), keepalives, the stream close,
 * each limit at its exact boundary, the namespace and version rules, restricted XML and
 * encodings, stopping and restarting a stream, end of input, the relay buffer's low-water mark,
 * re-parse deferral (no stanza held back; no quadratic re-scanning), the error table and the
 * <stream:error> rendering, and the attribute helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <expat.h>

#include "xmpp_test_util.h"

#define HDR_OPEN                                                                                   \
    "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "        \
    "xmlns:db='jabber:server:dialback' from='capulet.example' to='montague.example' "              \
    "version='1.0'>"
#define DECL "<?xml version='1.0'?>"

static xt_run_t run, other;

/* One-shot, byte by byte and every two-piece split must agree; returns the one-shot error. */
static xmpp_err_t all_splits(const xmpp_reader_opts_t *opts, const char *in)
{
    size_t len = strlen(in);
    char why[256];
    run.stop_after = other.stop_after = -1;
    xmpp_err_t e = xt_oneshot(&run, opts, in, len);
    if (run.broken)
        fail_msg("one-shot: %s", run.broken_why);
    xt_run(&other, opts, in, len, 1, NULL, 0);
    if (other.broken || xt_diff(&run, &other, why, sizeof why)[0])
        fail_msg("byte by byte: %s%s", other.broken_why, why);
    for (size_t cut = 1; cut < len; cut++) {
        size_t cuts[2] = {cut, len};
        xt_run(&other, opts, in, len, 0, cuts, 2);
        if (other.broken || xt_diff(&run, &other, why, sizeof why)[0])
            fail_msg("split at %zu: %s%s", cut, other.broken_why, why);
    }
    return e;
}

/* The offset of needle in the run's input (which must contain it). */
static uint64_t at(const char *needle)
{
    const char *p = strstr(run.in, needle);
    if (p == NULL)
        fail_msg("'%s' not in the input", needle);
    return (uint64_t)(p - run.in);
}

/* The recorded event covers exactly the bytes of text, which occur once in the input. */
static void assert_range(const xt_event_t *e, const char *text)
{
    assert_non_null(e);
    uint64_t s = at(text);
    assert_int_equal(e->start, s);
    assert_int_equal(e->end, s + strlen(text));
}

/* ---------------------------------------------------------------- byte ranges */

#define MSG1                                                                                       \
    "<message from='juliet@capulet.example/balcony' to='romeo@montague.example' type='chat' "      \
    "id='m1'>\r\n  <body>caf\xc3\xa9 &lt;3 &#x263A; \xf0\x9f\x98\x80</body>\r\n"                   \
    "<x xmlns='x'><x><x/></x></x><![CDATA[ <message> ]]></message>"
#define PRES1 "<presence from='a&amp;b@capulet.example' to='romeo@montague.example'/>"
#define IQ1                                                                                        \
    "<iq type=\"get\" id=\"p&#x31;\" from='capulet.example'\n    to='montague.example'>"           \
    "<ping xmlns='urn:xmpp:ping'/></iq>"
#define DB1  "<db:result from='capulet.example' to='montague.example'>key</db:result>"
#define FEAT "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>"

static void test_ranges(void **state)
{
    (void)state;
    const char *in = DECL HDR_OPEN MSG1 PRES1 IQ1 DB1 FEAT;
    assert_int_equal(all_splits(NULL, in), XMPP_E_NONE);
    assert_int_equal(xt_count(&run, XMPP_EV_ELEMENT), 5);
    assert_int_equal(xt_count(&run, XMPP_EV_ELEMENT_START), 5);
    assert_int_equal(xt_count(&run, XMPP_EV_KEEPALIVE), 0);

    const xt_event_t *h = xt_find(&run, XMPP_EV_HEADER, 0);
    assert_range(h, HDR_OPEN);
    assert_true(xt_attr_is(&run, &h->a[0], "montague.example"));
    assert_true(xt_attr_is(&run, &h->a[1], "capulet.example"));
    assert_false(h->a[2].present); /* no id */
    assert_true(xt_attr_is(&run, &h->a[3], "1.0"));
    assert_true(xt_attr_is(&run, &h->a[7], XMPP_NS_DIALBACK));

    const xt_event_t *m = xt_find(&run, XMPP_EV_ELEMENT, 0);
    assert_range(m, MSG1);
    assert_string_equal(m->name, "message");
    assert_string_equal(m->ns, XMPP_NS_SERVER);
    assert_string_equal(m->prefix, "");
    assert_true(xt_attr_is(&run, &m->a[0], "romeo@montague.example"));
    assert_true(xt_attr_is(&run, &m->a[1], "juliet@capulet.example/balcony"));
    assert_true(xt_attr_is(&run, &m->a[2], "chat"));
    assert_true(xt_attr_is(&run, &m->a[3], "m1"));
    assert_false(m->a[1].escaped);
    const xt_event_t *ms = xt_find(&run, XMPP_EV_ELEMENT_START, 0);
    assert_int_equal(ms->start, m->start);
    assert_int_equal(ms->end, at("\r\n  <body>"));

    const xt_event_t *p = xt_find(&run, XMPP_EV_ELEMENT, 1);
    assert_range(p, PRES1);
    assert_true(xt_attr_is(&run, &p->a[1], "a&amp;b@capulet.example"));
    assert_true(p->a[1].escaped);
    assert_false(p->a[2].present);
    const xt_event_t *ps = xt_find(&run, XMPP_EV_ELEMENT_START, 1);
    assert_int_equal(ps->start, p->start); /* an empty element: start tag is all of it */
    assert_int_equal(ps->end, p->end);

    const xt_event_t *iq = xt_find(&run, XMPP_EV_ELEMENT, 2);
    assert_range(iq, IQ1);
    assert_true(xt_attr_is(&run, &iq->a[0], "montague.example"));
    assert_true(xt_attr_is(&run, &iq->a[2], "get"));
    assert_true(xt_attr_is(&run, &iq->a[3], "p&#x31;"));
    assert_true(iq->a[3].escaped);

    const xt_event_t *db = xt_find(&run, XMPP_EV_ELEMENT, 3);
    assert_range(db, DB1);
    assert_string_equal(db->name, "result");
    assert_string_equal(db->ns, XMPP_NS_DIALBACK);
    assert_string_equal(db->prefix, "db");

    const xt_event_t *f = xt_find(&run, XMPP_EV_ELEMENT, 4);
    assert_range(f, FEAT);
    assert_string_equal(f->ns, XMPP_NS_STREAMS);
    assert_string_equal(f->prefix, "stream");
    assert_int_equal(run.state_at_eof, XMPP_STATE_OPEN);
}

/* Element names: any prefix bound to a namespace, no namespace at all, a default redeclared. */
static void test_element_names(void **state)
{
    (void)state;
    const char *in = HDR_OPEN "<foo:message xmlns:foo='jabber:server' to='a'/>"
                              "<bare xmlns=''/>"
                              "<q xmlns='urn:x y|z'><r/></q>";
    assert_int_equal(all_splits(NULL, in), XMPP_E_NONE);
    const xt_event_t *e = xt_find(&run, XMPP_EV_ELEMENT, 0);
    assert_string_equal(e->name, "message");
    assert_string_equal(e->ns, XMPP_NS_SERVER);
    assert_string_equal(e->prefix, "foo");
    e = xt_find(&run, XMPP_EV_ELEMENT, 1);
    assert_string_equal(e->name, "bare");
    assert_string_equal(e->ns, "");
    e = xt_find(&run, XMPP_EV_ELEMENT, 2);
    assert_string_equal(e->name, "q");
    assert_string_equal(e->ns, "urn:x y|z");
    assert_string_equal(e->prefix, "");
}

/* ---------------------------------------------------------------- keepalives and close */

static void test_keepalives(void **state)
{
    (void)state;
    const char *in = HDR_OPEN " \n\t\r\n " PRES1 "\r\n" PRES1 PRES1 "   ";
    assert_int_equal(all_splits(NULL, in), XMPP_E_NONE);
    /* one event per run of whitespace, reported when it ends */
    assert_int_equal(xt_count(&run, XMPP_EV_KEEPALIVE), 3);
    const xt_event_t *k = xt_find(&run, XMPP_EV_KEEPALIVE, 0);
    assert_range(k, " \n\t\r\n ");
    assert_int_equal(run.ev[1].kind, XMPP_EV_KEEPALIVE); /* before the element it precedes */
    assert_int_equal(run.ev[2].kind, XMPP_EV_ELEMENT_START);
    k = xt_find(&run, XMPP_EV_KEEPALIVE, 1);
    assert_int_equal(k->end - k->start, 2);
    k = xt_find(&run, XMPP_EV_KEEPALIVE, 2); /* the trailing run comes with finish */
    assert_int_equal(k->end, strlen(in));
    assert_int_equal(k->end - k->start, 3);

    /* counters */
    xmpp_reader_t *r = xmpp_reader_new(NULL, xt_record, &run);
    xt_init(&run, in, strlen(in));
    assert_int_equal(xmpp_reader_feed(r, in, strlen(in)), XMPP_E_NONE);
    const xmpp_reader_stats_t *st = xmpp_reader_stats(r);
    assert_int_equal(st->keepalive_bytes, 6 + 2 + 3); /* counted as the bytes arrive */
    assert_int_equal(st->keepalives, 2);              /* the last run is still open */
    assert_int_equal(st->elements, 3);
    assert_int_equal(xmpp_reader_finish(r), XMPP_E_NONE);
    assert_int_equal(st->keepalives, 3);
    xmpp_reader_free(r);
}

static void test_stream_level_text(void **state)
{
    (void)state;
    /* the first non-whitespace byte is the error's offset, however the input is split */
    assert_int_equal(all_splits(NULL, HDR_OPEN "  \r\n GET / HTTP/1.1\r\n"), XMPP_E_TEXT);
    assert_int_equal(run.err_off, at("GET"));
    assert_int_equal(xt_count(&run, XMPP_EV_KEEPALIVE), 0);
    /* a reference is not literal whitespace, nor is a CDATA section */
    assert_int_equal(all_splits(NULL, HDR_OPEN " &#32; "), XMPP_E_TEXT);
    assert_int_equal(run.err_off, at("&#32;"));
    assert_int_equal(all_splits(NULL, HDR_OPEN "&#10;"), XMPP_E_TEXT);
    assert_int_equal(all_splits(NULL, HDR_OPEN "<![CDATA[ ]]>"), XMPP_E_TEXT);
    assert_int_equal(all_splits(NULL, HDR_OPEN PRES1 "x" PRES1), XMPP_E_TEXT);
    assert_int_equal(all_splits(NULL, HDR_OPEN "\xc2\xa0"), XMPP_E_TEXT); /* U+00A0 */
    assert_int_equal(xmpp_err_condition(XMPP_E_TEXT)[0], 'b');
    /* text inside a stanza is the stanza's */
    assert_int_equal(all_splits(NULL, HDR_OPEN "<message><body>&#32; x</body></message>"),
                     XMPP_E_NONE);
}

static void test_close(void **state)
{
    (void)state;
    assert_int_equal(all_splits(NULL, HDR_OPEN PRES1 "\n</stream:stream>\n \n"), XMPP_E_NONE);
    const xt_event_t *c = xt_find(&run, XMPP_EV_CLOSE, 0);
    assert_range(c, "</stream:stream>");
    assert_int_equal(run.ev[run.n - 1].kind, XMPP_EV_CLOSE);
    assert_int_equal(run.ev[run.n - 2].kind, XMPP_EV_KEEPALIVE);
    assert_int_equal(run.state_at_eof, XMPP_STATE_CLOSED);

    /* a self-closing stream element: header, then an empty close */
    assert_int_equal(all_splits(NULL, "<stream:stream xmlns='jabber:server' "
                                      "xmlns:stream='http://etherx.jabber.org/streams'/>"),
                     XMPP_E_NONE);
    assert_int_equal(run.n, 2);
    assert_int_equal(run.ev[1].kind, XMPP_EV_CLOSE);
    assert_int_equal(run.ev[1].start, run.ev[1].end);
    assert_int_equal(run.ev[1].end, run.ev[0].end);

    /* nothing but whitespace may follow */
    assert_int_equal(all_splits(NULL, HDR_OPEN "</stream:stream>" PRES1), XMPP_E_XML);
    assert_int_equal(all_splits(NULL, HDR_OPEN "</stream:stream><!--x-->"), XMPP_E_COMMENT);
    assert_int_equal(all_splits(NULL, HDR_OPEN "</stream:stream>x"), XMPP_E_XML);
}

/* ---------------------------------------------------------------- limits */

/* "<message>" + body text + "</message>" of exactly n bytes (n >= 19). */
static char *stanza_of(size_t n)
{
    char *s = malloc(n + 1);
    memcpy(s, "<message>", 9);
    memset(s + 9, 'a', n - 19);
    memcpy(s + n - 10, "</message>", 11);
    return s;
}

static char *cat(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

static void test_limit_stanza(void **state)
{
    (void)state;
    xmpp_reader_opts_t o = {.max_stanza = 100};
    char *ok = stanza_of(100), *big = stanza_of(101);
    char *in = cat(HDR_OPEN, ok, ok);
    assert_int_equal(all_splits(&o, in), XMPP_E_NONE);
    assert_int_equal(xt_count(&run, XMPP_EV_ELEMENT), 2);
    free(in);
    in = cat(HDR_OPEN, ok, big);
    assert_int_equal(all_splits(&o, in), XMPP_E_STANZA_SIZE);
    assert_int_equal(run.err_off, strlen(HDR_OPEN) + 100 + 100); /* the first byte too many */
    assert_int_equal(xt_count(&run, XMPP_EV_ELEMENT), 1);
    assert_string_equal(xmpp_err_condition(run.err), "policy-violation");
    free(in);
    /* a start tag alone longer than the limit, still open when the limit passes */
    in = cat(HDR_OPEN "\n\r\n", "<message to='",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(all_splits(&o, in), XMPP_E_STANZA_SIZE);
    assert_int_equal(run.err_off, at("<message") + 100);
    free(in);
    free(ok);
    free(big);
}

/* The limit is raised while the bytes arrive: a 1 MiB stanza is refused after 256 KiB. */
static void test_limit_stanza_streaming(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *big = stanza_of(n), *in = cat(DECL HDR_OPEN "\n", big, "");
    size_t len = strlen(in), off = 0, piece = 1000;
    uint64_t start = strlen(DECL HDR_OPEN "\n");
    xmpp_reader_t *r = xmpp_reader_new(NULL, xt_record, &run);
    xt_init(&run, in, len);
    xmpp_err_t e = XMPP_E_NONE;
    while (e == XMPP_E_NONE && off < len) {
        e = xmpp_reader_feed(r, in + off, piece);
        off += piece;
        if (e == XMPP_E_NONE)
            assert_int_equal(xmpp_reader_consumed_upto(r), start);
    }
    assert_int_equal(e, XMPP_E_STANZA_SIZE);
    assert_int_equal(xmpp_reader_error_offset(r), start + XMPP_DEFAULT_MAX_STANZA);
    assert_true(off <= start + XMPP_DEFAULT_MAX_STANZA + piece);       /* no later than the piece */
    assert_int_equal(xmpp_reader_feed(r, "x", 1), XMPP_E_STANZA_SIZE); /* sticky */
    xmpp_reader_free(r);
    free(in);
    free(big);
}

static void test_limit_depth(void **state)
{
    (void)state;
    xmpp_reader_opts_t o = {.max_depth = 3};
    assert_int_equal(all_splits(&o, HDR_OPEN "<a><b><c/></b></a>"), XMPP_E_NONE);
    assert_int_equal(all_splits(&o, HDR_OPEN "<a><b><c><d/></c></b></a>"), XMPP_E_DEPTH);
    assert_int_equal(run.err_off, at("<d/>"));
    /* 10000 levels with the default limit of 64: refused at the 65th */
    size_t n = 10000;
    char *deep = malloc(strlen(HDR_OPEN) + 7 * n + 1), *p = deep;
    p += sprintf(p, "%s", HDR_OPEN);
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "<x>");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "</x>");
    xt_oneshot(&run, NULL, deep, strlen(deep));
    assert_int_equal(run.err, XMPP_E_DEPTH);
    assert_int_equal(run.err_off, strlen(HDR_OPEN) + 3 * 64);
    free(deep);
}

static void test_limit_attrs(void **state)
{
    (void)state;
    xmpp_reader_opts_t o = {.max_attrs = 4};
    const char *hdr = "<stream:stream xmlns='jabber:server' "
                      "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
    char *in =
        cat(hdr, "<m a='1' b='2' c='3' d='4'/>", "<n><o a='1' b='2' xmlns='x' xmlns:p='y'/></n>");
    assert_int_equal(all_splits(&o, in), XMPP_E_NONE);
    free(in);
    in = cat(hdr, "<m a='1' b='2' c='3' d='4' e='5'/>", "");
    assert_int_equal(all_splits(&o, in), XMPP_E_ATTR_COUNT);
    assert_int_equal(run.err_off, at("<m "));
    free(in);
    /* namespace declarations count: expat does not pass them as attributes */
    in = cat(hdr, "<n><o a='1' b='2' c='3' xmlns:q='y' xmlns='x'/></n>", "");
    assert_int_equal(all_splits(&o, in), XMPP_E_ATTR_COUNT);
    assert_int_equal(run.err_off, at("<o "));
    free(in);
    /* and on the header itself: xmlns, xmlns:stream plus three more */
    o.max_attrs = 4;
    assert_int_equal(all_splits(&o, "<stream:stream xmlns='jabber:server' "
                                    "xmlns:stream='http://etherx.jabber.org/streams' a='' b='' "
                                    "c=''>"),
                     XMPP_E_ATTR_COUNT);
}

static void test_limit_attr_len(void **state)
{
    (void)state;
    /* 40: the streams namespace URI on the header (32 bytes) must pass too */
    xmpp_reader_opts_t o = {.max_attr_len = 40};
    char in[1024], v40[41], amp40[201];
    memset(v40, 'v', 40);
    v40[40] = '\0';
    for (int i = 0; i < 40; i++)
        memcpy(amp40 + 5 * i, "&amp;", 5);
    amp40[200] = '\0';
    /* the limit is on the decoded value: 40 '&amp;' are 40 bytes */
    snprintf(in, sizeof in, "%s<m id='%s' x='%s'/>", HDR_OPEN, v40, amp40);
    assert_int_equal(all_splits(&o, in), XMPP_E_NONE);
    snprintf(in, sizeof in, "%s<m><n id='%sv'/></m>", HDR_OPEN, v40);
    assert_int_equal(all_splits(&o, in), XMPP_E_ATTR_LEN);
    assert_int_equal(run.err_off, at("<n "));
    snprintf(in, sizeof in, "%s<m xmlns:p='%sv'/>", HDR_OPEN, v40);
    assert_int_equal(all_splits(&o, in), XMPP_E_ATTR_LEN);
    assert_int_equal(run.err_off, at("<m "));
    o.max_attr_len = 31;
    assert_int_equal(all_splits(&o, HDR_OPEN), XMPP_E_ATTR_LEN);
}

static void test_limit_header(void **state)
{
    (void)state;
    size_t hl = strlen(DECL HDR_OPEN);
    xmpp_reader_opts_t o = {.max_header = hl};
    assert_int_equal(all_splits(&o, DECL HDR_OPEN PRES1), XMPP_E_NONE);
    o.max_header = hl - 1;
    assert_int_equal(all_splits(&o, DECL HDR_OPEN PRES1), XMPP_E_HEADER_SIZE);
    assert_int_equal(run.err_off, hl - 1);
    assert_int_equal(run.n, 0);
}

/* ---------------------------------------------------------------- the stream header */

static xmpp_err_t header(const char *attrs)
{
    static char in[1024]; /* the run keeps pointing at it */
    snprintf(in, sizeof in, "%s%s>", "<stream:stream", attrs);
    return all_splits(NULL, in);
}

#define NSS " xmlns:stream='http://etherx.jabber.org/streams'"

static void test_namespaces(void **state)
{
    (void)state;
    assert_int_equal(header(" xmlns='jabber:server'" NSS), XMPP_E_NONE);
    assert_int_equal(header(" xmlns='jabber:server' xmlns:stream='http://wrong.example/streams'"),
                     XMPP_E_STREAM_NS);
    assert_int_equal(all_splits(NULL, "<stream xmlns='jabber:server'>"), XMPP_E_STREAM_NS);
    assert_int_equal(all_splits(NULL, "<html><body>"), XMPP_E_STREAM_NS);
    assert_int_equal(all_splits(NULL, "<stream:features xmlns='jabber:server'" NSS ">"),
                     XMPP_E_STREAM_NAME);
    assert_int_equal(all_splits(NULL, "<s:stream xmlns='jabber:server' "
                                      "xmlns:s='http://etherx.jabber.org/streams'>"),
                     XMPP_E_STREAM_PREFIX);
    assert_int_equal(all_splits(NULL, "<stream xmlns='http://etherx.jabber.org/streams'>"),
                     XMPP_E_STREAM_PREFIX);
    assert_string_equal(xmpp_err_condition(XMPP_E_STREAM_PREFIX), "bad-namespace-prefix");
    assert_int_equal(header(" xmlns='jabber:client'" NSS), XMPP_E_CONTENT_NS);
    assert_int_equal(header(NSS), XMPP_E_CONTENT_NS);
    assert_int_equal(header(" xmlns=''" NSS), XMPP_E_CONTENT_NS);
    assert_string_equal(xmpp_err_condition(XMPP_E_CONTENT_NS), "invalid-namespace");
    /* a client stream is fine when the caller says so */
    xmpp_reader_opts_t o = {.content_ns = XMPP_NS_CLIENT};
    assert_int_equal(all_splits(&o, "<stream:stream xmlns='jabber:client'" NSS ">"), XMPP_E_NONE);
    /* an unbound prefix anywhere */
    assert_int_equal(all_splits(NULL, HDR_OPEN "<message><foo:bar/></message>"),
                     XMPP_E_UNBOUND_PREFIX);
    assert_string_equal(xmpp_err_condition(run.err), "not-well-formed");
    assert_int_equal(all_splits(NULL, "<stream:stream xmlns='jabber:server'>"),
                     XMPP_E_UNBOUND_PREFIX);
}

static void test_version(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        xmpp_err_t err;
        unsigned major, minor;
    } cases[] = {
        {"1.0", XMPP_E_NONE, 1, 0},
        {"1.1", XMPP_E_NONE, 1, 1},
        {"01.00", XMPP_E_NONE, 1, 0},
        {"0.9", XMPP_E_NONE, 0, 9},
        {"2.0", XMPP_E_VERSION, 2, 0},
        {"11.0", XMPP_E_VERSION, 11, 0},
        {"abc", XMPP_E_VERSION_SYNTAX, 0, 0},
        {"1", XMPP_E_VERSION_SYNTAX, 0, 0},
        {"1.", XMPP_E_VERSION_SYNTAX, 0, 0},
        {".1", XMPP_E_VERSION_SYNTAX, 0, 0},
        {"1.0.0", XMPP_E_VERSION_SYNTAX, 0, 0},
        {" 1.0", XMPP_E_VERSION_SYNTAX, 0, 0},
        {"-1.0", XMPP_E_VERSION_SYNTAX, 0, 0},
        {"99999999999999999999.0", XMPP_E_VERSION, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char attrs[256];
        snprintf(attrs, sizeof attrs, " xmlns='jabber:server'" NSS " version='%s'", cases[i].v);
        xmpp_err_t e = header(attrs);
        if (e != cases[i].err)
            fail_msg("version '%s': %s", cases[i].v, xmpp_err_name(e));
        if (e == XMPP_E_NONE) {
            const xt_event_t *h = xt_find(&run, XMPP_EV_HEADER, 0);
            assert_int_equal(h->ver_major, cases[i].major);
            assert_int_equal(h->ver_minor, cases[i].minor);
            assert_false(h->legacy);
        } else {
            assert_string_equal(xmpp_err_condition(e), "unsupported-version");
        }
    }
    assert_int_equal(header(" xmlns='jabber:server'" NSS " to='x'"), XMPP_E_NONE);
    const xt_event_t *h = xt_find(&run, XMPP_EV_HEADER, 0);
    assert_true(h->legacy);
    assert_int_equal(h->ver_major, 0);
    assert_int_equal(h->ver_minor, 9);
    assert_false(h->a[3].present);
    /* xml:lang, id and the declarations are reported raw */
    assert_int_equal(header(" xmlns='jabber:server'" NSS " xml:lang='en' id='a&lt;b'"),
                     XMPP_E_NONE);
    h = xt_find(&run, XMPP_EV_HEADER, 0);
    assert_true(xt_attr_is(&run, &h->a[4], "en"));
    assert_true(xt_attr_is(&run, &h->a[2], "a&lt;b"));
    assert_true(h->a[2].escaped);
    assert_true(xt_attr_is(&run, &h->a[5], "jabber:server"));
    assert_true(xt_attr_is(&run, &h->a[6], XMPP_NS_STREAMS));
    assert_false(h->a[7].present);
}

/* ---------------------------------------------------------------- restricted XML, encodings */

static void test_restricted(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        xmpp_err_t err;
    } cases[] = {
        {DECL "<!DOCTYPE stream:stream>" HDR_OPEN, XMPP_E_DOCTYPE},
        {"<!DOCTYPE x [<!ENTITY a 'b'>]>" HDR_OPEN, XMPP_E_DOCTYPE},
        {"<!DOCTYPE x SYSTEM 'http://attacker.example/x.dtd'>" HDR_OPEN, XMPP_E_DOCTYPE},
        {DECL "<!-- c -->" HDR_OPEN, XMPP_E_COMMENT},
        {HDR_OPEN "<!-- c -->", XMPP_E_COMMENT},
        {HDR_OPEN "<message><!-- c --></message>", XMPP_E_COMMENT},
        {"<?pi x?>" HDR_OPEN, XMPP_E_PI},
        {HDR_OPEN "<?xml-stylesheet href='x'?>", XMPP_E_PI},
        {HDR_OPEN "<message><?pi?></message>", XMPP_E_PI},
        {HDR_OPEN "<message>&nbsp;</message>", XMPP_E_ENTITY},
        {HDR_OPEN "<message a='&x;'/>", XMPP_E_ENTITY},
        {HDR_OPEN "<?xml version='1.0'?>", XMPP_E_XML}, /* misplaced declaration */
        {HDR_OPEN "<!DOCTYPE x>", XMPP_E_XML},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xmpp_err_t e = all_splits(NULL, cases[i].in);
        if (e != cases[i].err)
            fail_msg("case %zu: %s, want %s", i, xmpp_err_name(e), xmpp_err_name(cases[i].err));
    }
    assert_string_equal(xmpp_err_condition(XMPP_E_DOCTYPE), "restricted-xml");
    /* the predefined entities and character references are fine */
    assert_int_equal(all_splits(NULL, HDR_OPEN "<m a='&lt;&gt;&amp;&apos;&quot;&#65;&#x42;'>"
                                               "&lt;&gt;&amp;&apos;&quot;&#65;&#x42;</m>"),
                     XMPP_E_NONE);
}

static void test_encodings(void **state)
{
    (void)state;
    assert_int_equal(all_splits(NULL, "<?xml version='1.0' encoding='UTF-8'?>" HDR_OPEN),
                     XMPP_E_NONE);
    assert_int_equal(all_splits(NULL, "<?xml version='1.0' encoding='utf-8'?>" HDR_OPEN),
                     XMPP_E_NONE);
    assert_int_equal(all_splits(NULL, "<?xml version='1.0' encoding='ISO-8859-1'?>" HDR_OPEN),
                     XMPP_E_ENCODING);
    assert_int_equal(all_splits(NULL, "<?xml version='1.0' encoding='US-ASCII'?>" HDR_OPEN),
                     XMPP_E_ENCODING);
    assert_string_equal(xmpp_err_condition(XMPP_E_ENCODING), "unsupported-encoding");
    /* the first bytes of UTF-16/32, checked before expat sees them (binary: not strings) */
    static const struct {
        const char *in;
        size_t len;
        xmpp_err_t err;
    } heads[] = {
        {"\xff\xfe<\0s\0", 6, XMPP_E_ENCODING},
        {"\xfe\xff\0<\0s", 6, XMPP_E_ENCODING},
        {"\0<\0s", 4, XMPP_E_ENCODING},
        {"<\0s\0", 4, XMPP_E_ENCODING},
        {"\0\0\xfe\xff", 4, XMPP_E_ENCODING},
        {"\xef\xbb\xbf<stream", 10, XMPP_E_BOM},
        {"\xef\xbb", 2, XMPP_E_TRUNCATED},
        {"<s\xc0\xbc", 4, XMPP_E_XML},
        /* found by the fuzzer: expat alone gives different errors for these split or not */
        {"\x8e\0\0\0a", 5, XMPP_E_ENCODING},
        {"'\0\xfd\0", 4, XMPP_E_ENCODING},
        {"<", 1, XMPP_E_TRUNCATED},
        {"<a", 2, XMPP_E_TRUNCATED},
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        char why[256];
        run.stop_after = other.stop_after = -1;
        xt_oneshot(&run, NULL, heads[i].in, heads[i].len);
        if (run.err != heads[i].err)
            fail_msg("head %zu: %s", i, xmpp_err_name(run.err));
        xt_run(&other, NULL, heads[i].in, heads[i].len, 1, NULL, 0);
        if (xt_diff(&run, &other, why, sizeof why)[0])
            fail_msg("head %zu byte by byte: %s", i, why);
    }
    /* invalid UTF-8 in a stanza is expat's not-well-formed */
    assert_int_equal(all_splits(NULL, HDR_OPEN "<m>\xc3\x28</m>"), XMPP_E_XML);
    assert_int_equal(all_splits(NULL, HDR_OPEN "<m>\xed\xa0\x80</m>"), XMPP_E_XML);  /* surrogate */
    assert_int_equal(all_splits(NULL, HDR_OPEN "<m>\xef\xbb\xbf</m>"), XMPP_E_NONE); /* U+FEFF */
}

/* ---------------------------------------------------------------- errors, end of input */

static void test_error_sticky(void **state)
{
    (void)state;
    const char *in = HDR_OPEN "<message><!-- x --></message>" PRES1;
    xt_init(&run, in, strlen(in));
    xmpp_reader_t *r = xmpp_reader_new(NULL, xt_record, &run);
    assert_int_equal(xmpp_reader_feed(r, in, strlen(in)), XMPP_E_COMMENT);
    size_t n = run.total;
    assert_int_equal(xmpp_reader_state(r), XMPP_STATE_ERROR);
    assert_int_equal(xmpp_reader_error(r), XMPP_E_COMMENT);
    assert_int_equal(xmpp_reader_error_offset(r), strstr(in, "<!--") - in);
    assert_int_equal(xmpp_reader_feed(r, PRES1, strlen(PRES1)), XMPP_E_COMMENT);
    assert_int_equal(xmpp_reader_finish(r), XMPP_E_COMMENT);
    assert_int_equal(run.total, n);
    assert_string_equal(xmpp_reader_error_detail(r), xmpp_strerror(XMPP_E_COMMENT));
    xmpp_reader_free(r);

    /* an expat error carries expat's message */
    in = HDR_OPEN "<a></b>";
    xt_init(&run, in, strlen(in));
    r = xmpp_reader_new(NULL, xt_record, &run);
    assert_int_equal(xmpp_reader_feed(r, in, strlen(in)), XMPP_E_XML);
    assert_string_equal(xmpp_reader_error_detail(r), "mismatched tag");
    xmpp_reader_free(r);
}

static void test_finish(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        xmpp_err_t err;
        xmpp_reader_state_t at_eof;
    } cases[] = {
        {"", XMPP_E_NONE, XMPP_STATE_PROLOG},
        {DECL, XMPP_E_TRUNCATED, XMPP_STATE_PROLOG},
        {"<stream:stream xmlns='jab", XMPP_E_TRUNCATED, XMPP_STATE_PROLOG},
        {HDR_OPEN, XMPP_E_NONE, XMPP_STATE_OPEN},
        {HDR_OPEN PRES1 "\n\r", XMPP_E_NONE, XMPP_STATE_OPEN},
        {HDR_OPEN "<message><body>x", XMPP_E_TRUNCATED, XMPP_STATE_OPEN},
        {HDR_OPEN "<message><body>x</body></message", XMPP_E_TRUNCATED, XMPP_STATE_OPEN},
        {HDR_OPEN "<pres", XMPP_E_TRUNCATED, XMPP_STATE_OPEN},
        {HDR_OPEN "<m><![CDATA[ x", XMPP_E_TRUNCATED, XMPP_STATE_OPEN},
        {HDR_OPEN "<m>\xc3", XMPP_E_TRUNCATED, XMPP_STATE_OPEN},
        {HDR_OPEN "\xc3", XMPP_E_TRUNCATED, XMPP_STATE_OPEN},
        {HDR_OPEN "]", XMPP_E_TEXT, XMPP_STATE_OPEN},
        {HDR_OPEN "</stream:stream>", XMPP_E_NONE, XMPP_STATE_CLOSED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xmpp_err_t e = all_splits(NULL, cases[i].in);
        if (e != cases[i].err || run.state_at_eof != cases[i].at_eof)
            fail_msg("case %zu: %s in state %d", i, xmpp_err_name(e), run.state_at_eof);
        if (e == XMPP_E_TRUNCATED) {
            assert_int_equal(run.err_off, strlen(cases[i].in));
            assert_string_equal(xmpp_err_condition(e), "not-well-formed");
        }
    }
    /* the trailing CR was whitespace: reported as part of the last keepalive */
    all_splits(NULL, HDR_OPEN PRES1 "\n\r");
    const xt_event_t *k = xt_find(&run, XMPP_EV_KEEPALIVE, 0);
    assert_int_equal(k->end - k->start, 2);

    /* finish twice, feed after finish */
    xmpp_reader_t *r = xmpp_reader_new(NULL, xt_record, &run);
    xt_init(&run, HDR_OPEN, strlen(HDR_OPEN));
    assert_int_equal(xmpp_reader_feed(r, HDR_OPEN, strlen(HDR_OPEN)), XMPP_E_NONE);
    assert_int_equal(xmpp_reader_finish(r), XMPP_E_NONE);
    assert_int_equal(xmpp_reader_state(r), XMPP_STATE_DONE);
    assert_int_equal(xmpp_reader_finish(r), XMPP_E_NONE);
    assert_int_equal(xmpp_reader_feed(r, " ", 1), XMPP_E_FINISHED);
    assert_null(xmpp_err_condition(XMPP_E_FINISHED));
    xmpp_reader_free(r);
}

/* ---------------------------------------------------------------- stop and restart */

typedef struct {
    xt_run_t *run;
    const char *stop_name; /* stop after the ELEMENT with this local name */
} stopper_t;

static int stop_on(void *ud, const xmpp_event_t *ev)
{
    stopper_t *s = ud;
    xt_record(s->run, ev);
    return ev->kind == XMPP_EV_ELEMENT && ev->elem->name.len == strlen(s->stop_name) &&
           memcmp(ev->elem->name.p, s->stop_name, ev->elem->name.len) == 0;
}

/*
 * SASL on one connection: the peer's <auth/> ends the first stream's negotiation, the relay
 * answers success and the peer's next bytes are a new stream header. The reader stops exactly
 * after <auth/>, the caller resets it and feeds the bytes after the stop as the new stream.
 */
static void test_restart(void **state)
{
    (void)state;
    const char *auth =
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>";
    char in[2048];
    snprintf(in, sizeof in, "%s\n%s%s%s%s", DECL HDR_OPEN, auth, DECL, HDR_OPEN, PRES1);
    size_t len = strlen(in);

    for (size_t piece = 1; piece <= len; piece++) {
        stopper_t st = {&run, "auth"};
        xt_init(&run, in, len);
        xmpp_reader_t *r = xmpp_reader_new(NULL, stop_on, &st);
        size_t off = 0;
        int restarted = 0;
        while (off < len) {
            size_t n = len - off < piece ? len - off : piece;
            xmpp_err_t e = xmpp_reader_feed(r, in + off, n);
            if (e == XMPP_E_STOPPED) {
                assert_false(restarted);
                uint64_t stop = xmpp_reader_offset(r);
                assert_int_equal(stop, (uint64_t)(strstr(in, auth) - in + strlen(auth)));
                assert_int_equal(xmpp_reader_consumed_upto(r), stop);
                assert_int_equal(xmpp_reader_feed(r, "x", 1), XMPP_E_FINISHED);
                assert_int_equal(xmpp_reader_reset(r), 0);
                assert_int_equal(xmpp_reader_state(r), XMPP_STATE_PROLOG);
                assert_int_equal(xmpp_reader_offset(r), stop);
                st.stop_name = "-";
                restarted = 1;
                off = (size_t)stop; /* the bytes after the stop belong to the new stream */
                continue;
            }
            assert_int_equal(e, XMPP_E_NONE);
            off += n;
        }
        assert_true(restarted);
        assert_int_equal(xmpp_reader_finish(r), XMPP_E_NONE);
        assert_false(run.broken);
        /* header, keepalive, auth (start, end), new header, presence (start, end) */
        assert_int_equal(xt_count(&run, XMPP_EV_HEADER), 2);
        const xt_event_t *h2 = xt_find(&run, XMPP_EV_HEADER, 1);
        assert_int_equal(h2->start, (uint64_t)(strrchr(in, '?') + 2 - in)); /* offsets go on */
        const xt_event_t *p = xt_find(&run, XMPP_EV_ELEMENT, 1);
        assert_int_equal(p->end, len);
        assert_string_equal(p->name, "presence");
        xmpp_reader_free(r);
    }
}

/* reset works in any state and forgets the old stream entirely */
static void test_reset_states(void **state)
{
    (void)state;
    xt_init(&run, NULL, 0);
    xmpp_reader_t *r = xmpp_reader_new(NULL, xt_record, &run);
    const char *bad = HDR_OPEN "<!-- -->";
    run.in = bad;
    run.in_len = strlen(bad);
    assert_int_equal(xmpp_reader_feed(r, bad, strlen(bad)), XMPP_E_COMMENT);
    assert_int_equal(xmpp_reader_reset(r), 0);
    assert_int_equal(xmpp_reader_error(r), XMPP_E_NONE);
    /* the new stream starts at offset strlen(bad); events are absolute */
    char in[1024];
    snprintf(in, sizeof in, "%s%s%s", bad, HDR_OPEN, "<message><body>");
    run.in = in;
    run.in_len = strlen(in);
    run.n = run.total = 0;
    assert_int_equal(xmpp_reader_feed(r, HDR_OPEN "<message><body>", strlen(in) - strlen(bad)),
                     XMPP_E_NONE);
    assert_int_equal(run.ev[0].start, strlen(bad));
    assert_int_equal(xmpp_reader_consumed_upto(r), strlen(bad) + strlen(HDR_OPEN));
    /* reset mid-stanza, then after finish */
    assert_int_equal(xmpp_reader_reset(r), 0);
    assert_int_equal(xmpp_reader_consumed_upto(r), strlen(in));
    assert_int_equal(xmpp_reader_finish(r), XMPP_E_NONE);
    assert_int_equal(xmpp_reader_reset(r), 0);
    assert_int_equal(xmpp_reader_state(r), XMPP_STATE_PROLOG);
    xmpp_reader_free(r);
}

/* Stopping on every event in turn: the stop offset is always that event's end. */
static void test_stop_each_event(void **state)
{
    (void)state;
    const char *in = DECL HDR_OPEN " " MSG1 "\n" PRES1 IQ1 " </stream:stream>";
    size_t len = strlen(in);
    xt_oneshot(&run, NULL, in, len);
    size_t total = run.total;
    for (size_t k = 1; k <= total; k++) {
        other.stop_after = (long)k;
        xt_init(&other, in, len);
        other.stop_after = (long)k;
        xmpp_reader_t *r = xmpp_reader_new(NULL, xt_record, &other);
        xmpp_err_t e = xmpp_reader_feed(r, in, len);
        if (e == XMPP_E_NONE) /* the last keepalive only comes with finish */
            e = xmpp_reader_finish(r);
        assert_int_equal(e, XMPP_E_STOPPED);
        assert_int_equal(other.total, k);
        assert_int_equal(xmpp_reader_offset(r), other.ev[k - 1].end);
        assert_true(xmpp_reader_consumed_upto(r) <= xmpp_reader_offset(r));
        assert_int_equal(xmpp_reader_state(r), XMPP_STATE_STOPPED);
        xmpp_reader_free(r);
    }
}

/* ---------------------------------------------------------------- parser recycling */

/*
 * A stream long enough for many recycles: fresh element and attribute names, prefixes bound on
 * the header (db, and x) used after the swap, keepalives, then what is given as tail.
 */
static char *long_stream(const char *tail)
{
    size_t cap = 64 * 1024, len = 0;
    char *s = malloc(cap);
    len += (size_t)snprintf(s, cap,
                            "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                            "xmlns:stream='http://etherx.jabber.org/streams' "
                            "xmlns:db='jabber:server:dialback' xmlns:x='urn:x' id='i' "
                            "version='1.0'>");
    for (int i = 0; i < 120; i++) {
        len += (size_t)snprintf(s + len, cap - len,
                                "<message to='a@b' id='m%d'><n%d a%d='%d'/><x:y%d/></message>%s"
                                "<db:result from='c' to='d'>k%d</db:result>"
                                "<stream:features><f%d xmlns='urn:f%d'/></stream:features>",
                                i, i, i, i, i, i % 3 ? "" : "\n ", i, i, i);
    }
    len += (size_t)snprintf(s + len, cap - len, "%s", tail);
    return s;
}

static void test_recycle(void **state)
{
    (void)state;
    static const char *const tails[] = {"",       "\n</stream:stream>\n", "<a></b>",
                                        "<q:r/>", "<m><!-- --></m>",      "  x"};
    for (size_t k = 0; k < sizeof tails / sizeof tails[0]; k++) {
        char *in = long_stream(tails[k]);
        size_t len = strlen(in);
        char why[256];
        xmpp_reader_opts_t often = {.recycle_bytes = 300}, never = {.recycle_bytes = SIZE_MAX};
        run.stop_after = other.stop_after = -1;
        xt_oneshot(&run, &never, in, len);
        assert_int_equal(run.recycles, 0);
        assert_int_equal(xt_count(&run, XMPP_EV_ELEMENT), 360);
        static const size_t steps[] = {0, 1, 7, 299, 300, 301, 4096};
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
            xt_run(&other, &often, in, len, steps[i], NULL, 0);
            if (other.broken || xt_diff(&run, &other, why, sizeof why)[0])
                fail_msg("tail %zu, pieces of %zu: %s%s", k, steps[i], other.broken_why, why);
            if (other.recycles < 50)
                fail_msg("only %llu recycles", (unsigned long long)other.recycles);
        }
        free(in);
    }
    /* the default window: a few recycles on a long stream, none on a short one */
    char *in = long_stream("");
    xt_oneshot(&run, NULL, in, strlen(in));
    assert_int_equal(run.recycles, 0);
    free(in);
}

/* ---------------------------------------------------------------- the relay's low-water mark */

static void test_consumed_upto(void **state)
{
    (void)state;
    const char *in = DECL HDR_OPEN "\n  " MSG1 " \n" PRES1;
    size_t len = strlen(in);
    xt_init(&run, in, len);
    xmpp_reader_t *r = xmpp_reader_new(NULL, xt_record, &run);
    uint64_t hdr_end = strlen(DECL HDR_OPEN), msg = strstr(in, "<message") - in;
    uint64_t msg_end = msg + strlen(MSG1);
    assert_int_equal(xmpp_reader_consumed_upto(r), 0);
    assert_int_equal(xmpp_reader_feed(r, in, hdr_end - 5), XMPP_E_NONE);
    assert_true(xmpp_reader_consumed_upto(r) < hdr_end - 5 + 1);
    assert_int_equal(xmpp_reader_feed(r, in + hdr_end - 5, 5), XMPP_E_NONE);
    assert_int_equal(xmpp_reader_consumed_upto(r), hdr_end);
    /* whitespace is consumed as it comes; then the partial start tag holds the mark */
    assert_int_equal(xmpp_reader_feed(r, in + hdr_end, msg - hdr_end + 4), XMPP_E_NONE);
    assert_int_equal(xmpp_reader_consumed_upto(r), msg);
    assert_int_equal(xmpp_reader_feed(r, in + msg + 4, msg_end - msg - 5), XMPP_E_NONE);
    assert_int_equal(xmpp_reader_consumed_upto(r), msg);
    assert_int_equal(xmpp_reader_stats(r)->elements, 0);
    assert_int_equal(xmpp_reader_feed(r, in + msg_end - 1, 3), XMPP_E_NONE);
    assert_int_equal(xmpp_reader_stats(r)->elements, 1);
    assert_int_equal(xmpp_reader_consumed_upto(r), msg_end + 2);
    assert_int_equal(xmpp_reader_feed(r, in + msg_end + 2, len - msg_end - 2), XMPP_E_NONE);
    assert_int_equal(xmpp_reader_consumed_upto(r), len);
    assert_int_equal(xmpp_reader_offset(r), len);
    xmpp_reader_free(r);
}

/* ---------------------------------------------------------------- re-parse deferral */

/*
 * A stanza is delivered by the feed that completes it, whatever came before: expat's own
 * deferral would hold a big start tag back until the pending bytes doubled.
 */
static void test_no_stanza_held_back(void **state)
{
    (void)state;
    size_t tag = 3000;
    char *in = malloc(strlen(HDR_OPEN) + tag + 64), *p = in;
    p += sprintf(p, "%s<message to='", HDR_OPEN);
    memset(p, 'a', tag);
    p += tag;
    p += sprintf(p, "'/>");
    size_t len = strlen(in), hl = strlen(HDR_OPEN);
    static const size_t patterns[][8] = {
        {600, 1, 10, 400, 400, 400, 400, 0},
        {1, 1, 1, 1, 1, 1, 1, 0},
        {2000, 100, 100, 100, 0},
        {1000, 1000, 0},
    };
    for (size_t k = 0; k < sizeof patterns / sizeof patterns[0]; k++) {
        xt_init(&run, in, len);
        xmpp_reader_t *r = xmpp_reader_new(NULL, xt_record, &run);
        assert_int_equal(xmpp_reader_feed(r, in, hl), XMPP_E_NONE);
        size_t off = hl;
        for (size_t i = 0; patterns[k][i] && off < len - 1; i++) {
            size_t n = patterns[k][i] < len - 1 - off ? patterns[k][i] : len - 1 - off;
            assert_int_equal(xmpp_reader_feed(r, in + off, n), XMPP_E_NONE);
            off += n;
        }
        /* small pieces up to the last byte, then the '>' */
        while (off < len - 1) {
            assert_int_equal(xmpp_reader_feed(r, in + off, 7 < len - 1 - off ? 7 : len - 1 - off),
                             XMPP_E_NONE);
            off = off + 7 < len - 1 ? off + 7 : len - 1;
        }
        assert_int_equal(xmpp_reader_stats(r)->elements, 0);
        assert_int_equal(xmpp_reader_feed(r, in + len - 1, 1), XMPP_E_NONE);
        assert_int_equal(xmpp_reader_stats(r)->elements, 1);
        xmpp_reader_free(r);
    }
    free(in);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * A peer dribbling a 200 KB start tag one byte at a time with a '>' in every byte of its
 * attribute value: re-parsing the whole pending tag on every '>' would be about 2e10 byte scans
 * (minutes); the budget keeps it linear. The stanza still comes out, at the latest at finish.
 */
static void test_rescan_bounded(void **state)
{
    (void)state;
    size_t n = 200 * 1000;
    char *in = malloc(strlen(HDR_OPEN) + n + 64), *p = in;
    p += sprintf(p, "%s<message id='", HDR_OPEN);
    memset(p, '>', n);
    p += n;
    p += sprintf(p, "'/>");
    size_t len = strlen(in);
    xmpp_reader_opts_t o = {.max_attr_len = n};
    xt_init(&run, in, len);
    xmpp_reader_t *r = xmpp_reader_new(&o, xt_record, &run);
    double t0 = now();
    for (size_t i = 0; i < len; i++)
        assert_int_equal(xmpp_reader_feed(r, in + i, 1), XMPP_E_NONE);
    assert_int_equal(xmpp_reader_finish(r), XMPP_E_NONE);
    double dt = now() - t0;
    printf("200 KB tag with '>' in every byte, fed byte by byte: %.3f s\n", dt);
    assert_true(dt < 5.0);
    assert_int_equal(xt_count(&run, XMPP_EV_ELEMENT), 1);
    const xt_event_t *e = xt_find(&run, XMPP_EV_ELEMENT, 0);
    assert_int_equal(e->a[3].len, n);
    xmpp_reader_free(r);
    free(in);
}

/* ---------------------------------------------------------------- errors and rendering */

static void test_err_table(void **state)
{
    (void)state;
    static const char *const rfc[] = {"bad-format",
                                      "bad-namespace-prefix",
                                      "conflict",
                                      "connection-timeout",
                                      "host-gone",
                                      "host-unknown",
                                      "improper-addressing",
                                      "internal-server-error",
                                      "invalid-from",
                                      "invalid-namespace",
                                      "invalid-xml",
                                      "not-authorized",
                                      "not-well-formed",
                                      "policy-violation",
                                      "remote-connection-failed",
                                      "reset",
                                      "resource-constraint",
                                      "restricted-xml",
                                      "see-other-host",
                                      "system-shutdown",
                                      "undefined-condition",
                                      "unsupported-encoding",
                                      "unsupported-feature",
                                      "unsupported-stanza-type",
                                      "unsupported-version"};
    size_t nrfc = sizeof rfc / sizeof rfc[0];
    assert_int_equal(nrfc, 25);
    for (int e = 0; e < XMPP_ERR__COUNT; e++) {
        const char *c = xmpp_err_condition((xmpp_err_t)e);
        assert_non_null(xmpp_strerror((xmpp_err_t)e));
        assert_true(strlen(xmpp_strerror((xmpp_err_t)e)) > 5);
        assert_true(strlen(xmpp_err_name((xmpp_err_t)e)) > 1);
        if (e == XMPP_E_NONE || e == XMPP_E_STOPPED || e == XMPP_E_FINISHED) {
            assert_null(c);
            continue;
        }
        size_t k = 0;
        while (k < nrfc && strcmp(rfc[k], c) != 0)
            k++;
        if (k == nrfc)
            fail_msg("%s maps to '%s', not an RFC 6120 condition", xmpp_err_name(e), c);
    }
    for (size_t k = 0; k < nrfc; k++) {
        xmpp_err_t e = xmpp_err_from_condition(rfc[k], strlen(rfc[k]));
        assert_int_not_equal(e, XMPP_E_NONE);
        assert_string_equal(xmpp_err_condition(e), rfc[k]);
    }
    assert_int_equal(xmpp_err_from_condition("bad", 3), XMPP_E_NONE);
    assert_string_equal(xmpp_err_name(XMPP_E_DOCTYPE), "DOCTYPE");
    assert_string_equal(xmpp_err_name((xmpp_err_t)9999), "UNKNOWN");
}

static void test_render(void **state)
{
    (void)state;
    char buf[512];
    size_t n = xmpp_stream_error_render(XMPP_E_DOCTYPE, NULL, buf, sizeof buf);
    const char *want = "<stream:error><restricted-xml xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                       "</stream:error></stream:stream>";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    n = xmpp_stream_error_render(XMPP_E_HOST_UNKNOWN, "no <such> & host", buf, sizeof buf);
    want = "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
           "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>no &lt;such&gt; &amp; host</text>"
           "</stream:error></stream:stream>";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    n = xmpp_stream_error_render(XMPP_E_SEE_OTHER_HOST, "[2001:db8::1]:5269", buf, sizeof buf);
    want = "<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>"
           "[2001:db8::1]:5269</see-other-host></stream:error></stream:stream>";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    /* too small: the length, nothing written */
    memset(buf, 'z', sizeof buf);
    assert_int_equal(xmpp_stream_error_render(XMPP_E_XML, NULL, buf, 20),
                     xmpp_stream_error_render(XMPP_E_XML, NULL, NULL, 0));
    assert_int_equal(buf[0], 'z');
    assert_int_equal(xmpp_stream_error_render(XMPP_E_NONE, NULL, buf, sizeof buf), 0);
    assert_int_equal(xmpp_stream_error_render(XMPP_E_STOPPED, NULL, buf, sizeof buf), 0);

    /* what we send reads back, through our own reader, as that condition and a close */
    for (int e = XMPP_E_NOMEM; e < XMPP_ERR__COUNT; e++) {
        char in[1024];
        size_t hl = (size_t)snprintf(in, sizeof in, "%s", HDR_OPEN);
        size_t m = xmpp_stream_error_render((xmpp_err_t)e, "why & <how>", in + hl, sizeof in - hl);
        assert_true(m > 0 && hl + m < sizeof in);
        in[hl + m] = '\0';
        assert_int_equal(all_splits(NULL, in), XMPP_E_NONE);
        const xt_event_t *el = xt_find(&run, XMPP_EV_ELEMENT, 0);
        assert_string_equal(el->name, "error");
        assert_string_equal(el->ns, XMPP_NS_STREAMS);
        assert_int_equal(el->end, hl + m - strlen("</stream:stream>"));
        assert_non_null(xt_find(&run, XMPP_EV_CLOSE, 0));
        /* the condition element is the first child */
        const char *cond = xmpp_err_condition((xmpp_err_t)e);
        assert_memory_equal(in + hl + strlen("<stream:error><"), cond, strlen(cond));
    }
}

/* ---------------------------------------------------------------- attribute helpers */

/* expat's own decoding of an attribute value, the reference for xmpp_attr_unescape. */
static char expat_value[256];

static void XMLCALL grab(void *ud, const XML_Char *name, const XML_Char **atts)
{
    (void)ud;
    (void)name;
    snprintf(expat_value, sizeof expat_value, "%s", atts[1] ? atts[1] : "");
}

static void test_attr_unescape(void **state)
{
    (void)state;
    static const char *const values[] = {
        "plain",
        "a&amp;b",
        "&lt;&gt;&amp;&apos;&quot;",
        "&#65;&#x42;",
        "&#x263A;&#128512;&#xE9;",
        "tab\there",
        "lf\nx",
        "crlf\r\ny",
        "cr\rz",
        "\r\n\r\n",
        "&#9;&#10;&#13;",
        "",
        "caf\xc3\xa9",
        "&#x10FFFF;",
        "x&#38;y",
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char doc[256], out[256];
        snprintf(doc, sizeof doc, "<a v='%s'/>", values[i]);
        XML_Parser p = XML_ParserCreate("UTF-8");
        XML_SetStartElementHandler(p, grab);
        assert_int_equal(XML_Parse(p, doc, (int)strlen(doc), 1), XML_STATUS_OK);
        XML_ParserFree(p);
        xmpp_slice_t raw = {values[i], strlen(values[i])};
        size_t n = xmpp_attr_unescape(raw, out, raw.len);
        if (n == (size_t)-1 || n != strlen(expat_value) || memcmp(out, expat_value, n) != 0)
            fail_msg("value %zu: got %zu bytes, expat %zu", i, n, strlen(expat_value));
    }
    static const char *const bad[] = {
        "&",    "&amp",     "&foo;",      "&#;",    "&#x;",
        "&#0;", "&#xD800;", "&#x110000;", "&#12a;", "&#99999999999999;"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[64];
        xmpp_slice_t raw = {bad[i], strlen(bad[i])};
        if (xmpp_attr_unescape(raw, out, sizeof out) != (size_t)-1)
            fail_msg("'%s' decoded", bad[i]);
    }
    char small[2];
    assert_int_equal(xmpp_attr_unescape((xmpp_slice_t){"abc", 3}, small, 2), (size_t)-1);
}

static void test_attr_slice(void **state)
{
    (void)state;
    const char buf[] = "0123456789";
    xmpp_attr_t a = {NULL, 103, 4, 1, 0};
    xmpp_slice_t s = xmpp_attr_slice(&a, buf, 100, 10);
    assert_ptr_equal(s.p, buf + 3);
    assert_int_equal(s.len, 4);
    a.off = 106;
    assert_int_equal(xmpp_attr_slice(&a, buf, 100, 10).len, 4);
    a.off = 107; /* one byte past the buffer */
    assert_null(xmpp_attr_slice(&a, buf, 100, 10).p);
    a.off = 99;
    assert_null(xmpp_attr_slice(&a, buf, 100, 10).p);
    a.off = 103;
    a.present = 0;
    assert_null(xmpp_attr_slice(&a, buf, 100, 10).p);
    assert_null(xmpp_attr_slice(NULL, buf, 100, 10).p);
}

static void test_new_defaults(void **state)
{
    (void)state;
    assert_null(xmpp_reader_new(NULL, NULL, NULL));
    xmpp_reader_t *r = xmpp_reader_new(NULL, xt_record, &run);
    assert_non_null(r);
    assert_int_equal(xmpp_reader_state(r), XMPP_STATE_PROLOG);
    assert_int_equal(xmpp_reader_offset(r), 0);
    assert_int_equal(xmpp_reader_stats(r)->elements, 0);
    assert_int_equal(xmpp_reader_feed(r, "", 0), XMPP_E_NONE);
    xmpp_reader_free(r);
    xmpp_reader_free(NULL);
    /* a 3071-byte JID (RFC 7622's maximum) passes the default limits */
    size_t j = 3071;
    char *in = malloc(strlen(HDR_OPEN) + 2 * j + 64), *p = in;
    p += sprintf(p, "%s<message to='", HDR_OPEN);
    memset(p, 'j', j);
    p += j;
    p += sprintf(p, "' from='");
    memset(p, 'k', j);
    p += j;
    p += sprintf(p, "'/>");
    xt_oneshot(&run, NULL, in, strlen(in));
    assert_int_equal(run.err, XMPP_E_NONE);
    assert_int_equal(xt_find(&run, XMPP_EV_ELEMENT, 0)->a[1].len, j);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_element_names),
        cmocka_unit_test(test_keepalives),
        cmocka_unit_test(test_stream_level_text),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_limit_stanza),
        cmocka_unit_test(test_limit_stanza_streaming),
        cmocka_unit_test(test_limit_depth),
        cmocka_unit_test(test_limit_attrs),
        cmocka_unit_test(test_limit_attr_len),
        cmocka_unit_test(test_limit_header),
        cmocka_unit_test(test_namespaces),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_restricted),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_error_sticky),
        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_reset_states),
        cmocka_unit_test(test_stop_each_event),
        cmocka_unit_test(test_recycle),
        cmocka_unit_test(test_consumed_upto),
        cmocka_unit_test(test_no_stanza_held_back),
        cmocka_unit_test(test_rescan_bounded),
        cmocka_unit_test(test_err_table),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_attr_unescape),
        cmocka_unit_test(test_attr_slice),
        cmocka_unit_test(test_new_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
