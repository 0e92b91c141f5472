/*
 * test_xmpp_corpus.c - every stream of tests/corpus/xmpp/INDEX.tsv through the stream reader,
 * and the negotiation verdicts through the reader and the s2s state machine.
 *
 * The reader decides the stream errors it owns (restricted-xml, not-well-formed,
 * unsupported-encoding, policy-violation, invalid-namespace, bad-namespace-prefix,
 * unsupported-version, bad-format): for those rows the reader's verdict is checked. The other
 * verdicts (host-unknown, not-authorized, invalid-from, unsupported-stanza-type, the dialback
 * error) belong to negotiation and routing: for those rows the reader must accept the bytes and
 * report what the state machine decides on (the header's to, the element and its from/to), and
 * then the bytes go through the reader and xmpp/s2s.c as the proxy will run them, and the
 * stream error or dialback error that comes out must be the row's. Every file also gives the
 * same events, byte ranges and error when fed byte by byte, split in two at every offset (files
 * up to 4 KiB) or in assorted pieces (larger files).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "corpus_util.h"
#include "s2s.h"
#include "xmpp_test_util.h"

#define MAX_ROWS 96

typedef struct {
    char path[256];
    char expected[160];
    char note[2048];
} row_t;

static row_t rows[MAX_ROWS];
static size_t nrows;

static const char *const owned[] = {
    "restricted-xml",    "not-well-formed",      "unsupported-encoding", "policy-violation",
    "invalid-namespace", "bad-namespace-prefix", "unsupported-version",  "bad-format"};

static int load_index(void **state)
{
    size_t len;
    char *idx = corpus_read(EDGE_CORPUS_DIR "/xmpp/INDEX.tsv", &len, 0);
    (void)state;
    if (idx == NULL)
        return -1;
    idx[len] = '\0';
    char *save = NULL;
    int header = 1;
    for (char *line = strtok_r(idx, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[4];
        if (header) {
            header = 0;
            continue;
        }
        if (corpus_tsv_split(line, f, 4) != 4 || nrows == MAX_ROWS) {
            free(idx);
            return -1;
        }
        snprintf(rows[nrows].path, sizeof rows[nrows].path, "%s", f[0]);
        snprintf(rows[nrows].expected, sizeof rows[nrows].expected, "%s", f[2]);
        snprintf(rows[nrows].note, sizeof rows[nrows].note, "%s", f[3]);
        nrows++;
    }
    free(idx);
    return 0;
}

static char *load_row(const row_t *row, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/xmpp/%s", EDGE_CORPUS_DIR, row->path);
    return corpus_read(path, len, 0);
}

static int is_owned(const char *cond, size_t len)
{
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        if (strlen(owned[i]) == len && memcmp(owned[i], cond, len) == 0)
            return 1;
    }
    return 0;
}

/*
 * Classifies an expected verdict: 'A' accept, 'E' a set of stream errors the reader owns
 * (conds gets them, '|'-separated), 'D' a verdict the s2s state
 * machine decides (stream errors other than the reader's, dialback errors).
 */
static char classify(const char *expected, char *conds, size_t cap)
{
    conds[0] = '\0';
    if (strcmp(expected, "accept") == 0)
        return 'A';
    const char *list = strncmp(expected, "either:", 7) == 0 ? expected + 7 : expected;
    char copy[160], *save = NULL;
    snprintf(copy, sizeof copy, "%s", list);
    for (char *alt = strtok_r(copy, "|", &save); alt; alt = strtok_r(NULL, "|", &save)) {
        if (strncmp(alt, "stream-error:", 13) != 0 || !is_owned(alt + 13, strlen(alt + 13)))
            return 'D';
        size_t used = strlen(conds);
        snprintf(conds + used, cap - used, "%s%s", used ? "|" : "", alt + 13);
    }
    return 'E';
}

static int cond_in(const char *cond, const char *conds)
{
    char copy[160], *save = NULL;
    snprintf(copy, sizeof copy, "%s", conds);
    for (char *c = strtok_r(copy, "|", &save); c; c = strtok_r(NULL, "|", &save)) {
        if (cond != NULL && strcmp(c, cond) == 0)
            return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- what each file must show */

/*
 * Per file: what the reader must report. For the negotiation rows this is exactly what the state
 * machine bases its verdict on. NULL / 0 fields are not checked.
 */
typedef struct {
    const char *file;  /* file name without directory */
    const char *basis; /* what the negotiation decides on, for the message */
    const char *hdr_to, *hdr_from, *hdr_id;
    int legacy;
    size_t elements; /* ELEMENT events */
    const char *el_name, *el_ns, *el_prefix, *el_to, *el_from, *el_type, *el_id;
    int closes;
} expect_t;

#define HDR(t, f)    .hdr_to = (t), .hdr_from = (f)
#define EL(n, x, p)  .elements = 1, .el_name = (n), .el_ns = (x), .el_prefix = (p)
#define TOFROM(t, f) .el_to = (t), .el_from = (f)

static const expect_t expects[] = {
    {.file = "host-01-unknown-to-domain.xml",
     .basis = "host-unknown: the router sees to='unknown.example'",
     HDR("unknown.example", "capulet.example")},
    {.file = "auth-01-stanza-before-dialback.xml",
     .basis = "not-authorized: negotiation sees a message before dialback or SASL",
     HDR("montague.example", "capulet.example"),
     EL("message", XMPP_NS_SERVER, ""),
     TOFROM("romeo@montague.example", "juliet@capulet.example")},
    {.file = "auth-02-invalid-from-after-dialback.xml",
     .basis = "invalid-from: routing sees from='mallory@evil.example' on a capulet.example "
              "stream",
     HDR("montague.example", "capulet.example"),
     EL("message", XMPP_NS_SERVER, ""),
     TOFROM("romeo@montague.example", "mallory@evil.example")},
    {.file = "auth-03-dialback-result-for-foreign-target.xml",
     .basis = "dialback-error item-not-found: dialback sees db:result to='not-hosted.example'",
     HDR("montague.example", "capulet.example"),
     EL("result", XMPP_NS_DIALBACK, "db"),
     TOFROM("not-hosted.example", "capulet.example")},
    {.file = "stanza-01-unsupported-top-level-element.xml",
     .basis = "unsupported-stanza-type: routing sees first-level <foo/> in jabber:server",
     HDR("montague.example", "capulet.example"),
     EL("foo", XMPP_NS_SERVER, ""),
     TOFROM("montague.example", "capulet.example")},
    {.file = "dialback-01-result-key.xml",
     HDR("montague.example", "capulet.example"),
     EL("result", XMPP_NS_DIALBACK, "db"),
     TOFROM("montague.example", "capulet.example")},
    {.file = "dialback-02-verify-request.xml",
     HDR("capulet.example", "montague.example"),
     EL("verify", XMPP_NS_DIALBACK, "db"),
     TOFROM("capulet.example", "montague.example"),
     .el_id = "D60000229F"},
    {.file = "dialback-03-verify-valid.xml",
     HDR("montague.example", "capulet.example"),
     .hdr_id = "417GAF25",
     EL("verify", XMPP_NS_DIALBACK, "db"),
     TOFROM("montague.example", "capulet.example"),
     .el_type = "valid",
     .el_id = "D60000229F"},
    {.file = "dialback-04-result-valid.xml",
     HDR("capulet.example", "montague.example"),
     .hdr_id = "D60000229F",
     EL("result", XMPP_NS_DIALBACK, "db"),
     TOFROM("capulet.example", "montague.example"),
     .el_type = "valid"},
    {.file = "dialback-05-result-invalid.xml",
     EL("result", XMPP_NS_DIALBACK, "db"),
     .el_type = "invalid"},
    {.file = "dialback-06-result-error-item-not-found.xml",
     EL("result", XMPP_NS_DIALBACK, "db"),
     .el_type = "error"},
    {.file = "s2s-01-initiating-stream-header.xml", HDR("montague.example", "capulet.example")},
    {.file = "s2s-02-response-header-features-starttls.xml",
     .hdr_id = "D60000229F",
     EL("features", XMPP_NS_STREAMS, "stream")},
    {.file = "s2s-03-starttls-request.xml", EL("starttls", "urn:ietf:params:xml:ns:xmpp-tls", "")},
    {.file = "s2s-04-starttls-proceed.xml", EL("proceed", "urn:ietf:params:xml:ns:xmpp-tls", "")},
    {.file = "s2s-05-features-after-tls-sasl-external-dialback.xml",
     EL("features", XMPP_NS_STREAMS, "stream")},
    {.file = "stanza-01-message-after-dialback.xml",
     EL("message", XMPP_NS_SERVER, ""),
     TOFROM("romeo@montague.example", "juliet@capulet.example/balcony"),
     .el_type = "chat",
     .el_id = "ktx72v49"},
    {.file = "stanza-02-presence-probe.xml",
     EL("presence", XMPP_NS_SERVER, ""),
     TOFROM("romeo@montague.example", "juliet@capulet.example"),
     .el_type = "probe",
     .el_id = "pr1"},
    {.file = "stanza-03-iq-ping.xml",
     EL("iq", XMPP_NS_SERVER, ""),
     TOFROM("montague.example", "capulet.example"),
     .el_type = "get",
     .el_id = "s2s1"},
    {.file = "stanza-04-utf8-multibyte-body.xml",
     EL("message", XMPP_NS_SERVER, ""),
     .el_type = "chat",
     .el_id = "u1"},
    {.file = "stream-01-close.xml", .closes = 1},
    {.file = "stream-02-split-whitespace-keepalive.xml", EL("message", XMPP_NS_SERVER, "")},
    {.file = "stream-03-error-host-unknown-received.xml",
     HDR("capulet.example", "montague.example"),
     EL("error", XMPP_NS_STREAMS, "stream"),
     .closes = 1},
    {.file = "stream-04-legacy-header-no-version.xml", .hdr_to = "montague.example", .legacy = 1},
    {.file = "stream-05-no-xml-declaration.xml", HDR("montague.example", "capulet.example")},
};

static const expect_t *expect_for(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < sizeof expects / sizeof expects[0]; i++) {
        if (strcmp(expects[i].file, base) == 0)
            return &expects[i];
    }
    return NULL;
}

static int attr_ok(const xt_run_t *run, const xmpp_attr_t *a, const char *want)
{
    return want == NULL || xt_attr_is(run, a, want);
}

/* The file-specific checks; returns the first failure or NULL. */
static const char *check_expect(const xt_run_t *run, const expect_t *x)
{
    const xt_event_t *h = xt_find(run, XMPP_EV_HEADER, 0);
    const xt_event_t *el = xt_find(run, XMPP_EV_ELEMENT, 0);
    if (h == NULL)
        return "no header";
    if (!attr_ok(run, &h->a[0], x->hdr_to) || !attr_ok(run, &h->a[1], x->hdr_from) ||
        !attr_ok(run, &h->a[2], x->hdr_id))
        return "header to/from/id";
    if (h->legacy != x->legacy || (x->legacy && (h->ver_major != 0 || h->ver_minor != 9)) ||
        (!x->legacy && (h->ver_major != 1 || h->ver_minor != 0)))
        return "header version";
    if (!xt_attr_is(run, &h->a[5], XMPP_NS_SERVER) || !xt_attr_is(run, &h->a[6], XMPP_NS_STREAMS))
        return "header namespace declarations";
    if (xt_count(run, XMPP_EV_ELEMENT) != x->elements)
        return "number of elements";
    if (xt_count(run, XMPP_EV_ELEMENT_START) != xt_count(run, XMPP_EV_ELEMENT))
        return "ELEMENT_START and ELEMENT counts differ";
    if (x->el_name != NULL) {
        const xt_event_t *st = xt_find(run, XMPP_EV_ELEMENT_START, 0);
        if (el == NULL || st == NULL || strcmp(el->name, x->el_name) != 0 ||
            strcmp(el->ns, x->el_ns) != 0 ||
            (x->el_prefix != NULL && strcmp(el->prefix, x->el_prefix) != 0))
            return "element name/namespace/prefix";
        if (!attr_ok(run, &el->a[0], x->el_to) || !attr_ok(run, &el->a[1], x->el_from) ||
            !attr_ok(run, &el->a[2], x->el_type) || !attr_ok(run, &el->a[3], x->el_id))
            return "element to/from/type/id";
        /* The start event saw the same attributes, at the element's start. */
        if (st->start != el->start || st->end > el->end || st->a[0].off != el->a[0].off ||
            st->a[1].off != el->a[1].off || st->a[2].off != el->a[2].off ||
            st->a[3].off != el->a[3].off)
            return "ELEMENT_START differs from ELEMENT";
    }
    if ((xt_count(run, XMPP_EV_CLOSE) == 1) != (x->closes != 0))
        return "stream close";
    return NULL;
}

/* Every element's bytes are exactly <qname ...> ... </qname> or <qname .../>. */
static const char *check_ranges(const xt_run_t *run)
{
    for (size_t i = 0; i < run->n; i++) {
        const xt_event_t *e = &run->ev[i];
        if (e->kind != XMPP_EV_ELEMENT)
            continue;
        char qname[2 * XT_NAME + 2], open[2 * XT_NAME + 4], close[2 * XT_NAME + 5];
        snprintf(qname, sizeof qname, "%s%s%s", e->prefix, e->prefix[0] ? ":" : "", e->name);
        snprintf(open, sizeof open, "<%s", qname);
        snprintf(close, sizeof close, "</%s>", qname);
        const char *p = run->in + e->start;
        size_t len = (size_t)(e->end - e->start), lo = strlen(open), lc = strlen(close);
        if (len < lo || memcmp(p, open, lo) != 0)
            return "element bytes do not start with its name";
        int empty =
            len >= 2 && memcmp(p + len - 2, "/>", 2) == 0 && memchr(p, '>', len) == p + len - 1;
        if (!empty && (len < lc || memcmp(p + len - lc, close, lc) != 0))
            return "element bytes do not end with its end tag";
    }
    return NULL;
}

/* ---------------------------------------------------------------- the negotiation's verdict */

/*
 * The rows the state machine decides, run as a receiving montague.example. The corpus streams
 * have no STARTTLS exchange (they are what flows after it, or on a partner allowed to skip it),
 * so capulet.example is configured as a partner for which TLS is optional. Rows whose note asks
 * for an authenticated stream first get a dialback exchange for capulet.example ->
 * montague.example right after their header, which the test verifies as valid, as the proxy
 * would after dialing back; the rest of the file follows unchanged.
 */
static const char *const s2s_domains[] = {"montague.example"};
static const char *const s2s_tls_optional[] = {"capulet.example"};

typedef struct {
    xmpp_s2s_t *s;
    const char *in;
    size_t in_len;
    char sent[4096];
    size_t sent_len;
    xmpp_err_t close_err; /* the stream error of CLOSE, or XMPP_E_NONE */
    int closed, delivered, verifies;
} s2s_run_t;

static void s2s_drain(s2s_run_t *sr)
{
    xmpp_s2s_action_t a;
    while (xmpp_s2s_next_action(sr->s, &a)) {
        if (a.kind == XMPP_S2S_SEND && sr->sent_len + a.data.len < sizeof sr->sent) {
            memcpy(sr->sent + sr->sent_len, a.data.p, a.data.len);
            sr->sent_len += a.data.len;
            sr->sent[sr->sent_len] = '\0';
        } else if (a.kind == XMPP_S2S_VERIFY_DIALBACK) {
            sr->verifies++;
            xmpp_s2s_dialback_verified(sr->s, a.pair, XMPP_S2S_DB_VALID, NULL);
        } else if (a.kind == XMPP_S2S_DELIVER) {
            sr->delivered++;
        } else if (a.kind == XMPP_S2S_CLOSE) {
            sr->closed = 1;
            sr->close_err = a.err;
        }
    }
}

static int s2s_cb(void *ud, const xmpp_event_t *ev)
{
    s2s_run_t *sr = ud;
    int rc = xmpp_s2s_feed(sr->s, ev, sr->in, 0, sr->in_len);
    s2s_drain(sr);
    return rc;
}

/* "stream-error:COND", "dialback-error:COND" or "accept", from what the state machine sent. */
static void s2s_verdict_of(const s2s_run_t *sr, char *out, size_t cap)
{
    static const char dberr[] = " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>";
    const char *e = strstr(sr->sent, dberr);
    if (sr->closed && sr->close_err != XMPP_E_NONE) {
        snprintf(out, cap, "stream-error:%s", xmpp_err_condition(sr->close_err));
    } else if (e != NULL && strstr(sr->sent, "type='error'><error type=") != NULL) {
        const char *lt = e;
        while (lt > sr->sent && *lt != '<')
            lt--;
        snprintf(out, cap, "dialback-error:%.*s", (int)(e - lt - 1), lt + 1);
    } else {
        snprintf(out, cap, "accept");
    }
}

/* Runs a row through reader + state machine; the verdict in got. NULL, or what went wrong. */
static const char *s2s_verdict(const row_t *row, const char *file, size_t len, char *got,
                               size_t cap)
{
    static const char auth[] = "<db:result from='capulet.example' to='montague.example'>"
                               "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3"
                               "</db:result>";
    static const unsigned char seed[16] = "corpus-seed-0001";
    xmpp_s2s_config_t cfg = {0};
    xmpp_s2s_params_t p = {0};
    s2s_run_t sr;
    const char *why = NULL;

    memset(&sr, 0, sizeof sr);
    got[0] = '\0';
    cfg.domains = s2s_domains;
    cfg.ndomains = 1;
    cfg.secret = "d14lb4ck43v3r";
    cfg.secret_len = strlen(cfg.secret);
    cfg.tls_optional_for = s2s_tls_optional;
    cfg.ntls_optional_for = 1;
    p.role = XMPP_S2S_RECEIVING;
    p.seed = seed;
    p.seed_len = sizeof seed;

    /* the stream, with the dialback exchange after the header where the row needs one */
    const char *st = strstr(file, "<stream:stream");
    const char *gt = st ? memchr(st, '>', len - (size_t)(st - file)) : NULL;
    int authed = strstr(row->note, "authenticate") != NULL;
    if (gt == NULL)
        return "no stream header";
    size_t head = (size_t)(gt - file) + 1;
    char *in = malloc(len + sizeof auth);
    if (in == NULL)
        return "out of memory";
    memcpy(in, file, head);
    size_t n = head;
    if (authed) {
        memcpy(in + n, auth, sizeof auth - 1);
        n += sizeof auth - 1;
    }
    memcpy(in + n, file + head, len - head);
    n += len - head;
    sr.in = in;
    sr.in_len = n;

    sr.s = xmpp_s2s_new(&cfg, &p);
    xmpp_reader_t *r = xmpp_reader_new(NULL, s2s_cb, &sr);
    if (sr.s == NULL || r == NULL) {
        why = "cannot create the reader or the state machine";
        goto done;
    }
    xmpp_err_t e = xmpp_reader_feed(r, in, n);
    if (e != XMPP_E_NONE && e != XMPP_E_STOPPED) {
        xmpp_s2s_fail(sr.s, e, NULL);
        s2s_drain(&sr);
    }
    if (authed && sr.verifies != 1)
        why = "the dialback exchange did not authenticate the stream";
    else if (sr.delivered != 0 && strcmp(row->expected, "accept") != 0)
        why = "a stanza was delivered on a stream that is refused";
    else if (sr.closed &&
             (sr.sent_len < 16 || strcmp(sr.sent + sr.sent_len - 16, "</stream:stream>") != 0))
        why = "the stream ended without </stream:stream>";
    s2s_verdict_of(&sr, got, cap);
done:
    xmpp_reader_free(r);
    xmpp_s2s_free(sr.s);
    free(in);
    return why;
}

/* ---------------------------------------------------------------- verdicts */

static void test_corpus_verdicts(void **state)
{
    size_t failures = 0, owned_rows = 0, s2s_rows = 0, accept_rows = 0;
    (void)state;
    assert_true(nrows >= 55);
    for (size_t i = 0; i < nrows; i++) {
        const row_t *row = &rows[i];
        char conds[160];
        char kind = classify(row->expected, conds, sizeof conds);
        size_t len;
        char *buf = load_row(row, &len);
        assert_non_null(buf);

        static xt_run_t run;
        run.stop_after = -1;
        xmpp_err_t err = xt_oneshot(&run, NULL, buf, len);
        const char *cond = xmpp_err_condition(err);
        const char *why = NULL;
        const expect_t *x = expect_for(row->path);
        /* Only the row whose note asks for end of input may need it to reach its verdict. */
        int needs_eof = strstr(row->note, "end of input") != NULL;

        if (run.broken)
            why = run.broken_why;
        else if (kind == 'A' || kind == 'D')
            why = err != XMPP_E_NONE ? "reader reported an error" : NULL;
        else if (!cond_in(cond, conds))
            why = "wrong condition";
        else if (!needs_eof && run.feed_err != err)
            why = "verdict only at end of input";
        if (why == NULL)
            why = check_ranges(&run);
        if (why == NULL && kind != 'E') {
            if (x == NULL)
                why = "no per-file expectation in this test";
            else
                why = check_expect(&run, x);
        }
        if (why == NULL && kind == 'D' && (x == NULL || x->basis == NULL))
            why = "negotiation row without a stated reason";
        char s2s_got[200] = "";
        if (why == NULL && kind == 'D') {
            why = s2s_verdict(row, buf, len, s2s_got, sizeof s2s_got);
            if (why == NULL && strcmp(s2s_got, row->expected) != 0)
                why = "wrong verdict from the state machine";
        }

        if (kind == 'E')
            owned_rows++;
        else if (kind == 'D')
            s2s_rows++;
        else
            accept_rows++;
        if (why != NULL) {
            failures++;
            fprintf(stderr, "MISMATCH %s: expected %s, got %s (%s) at %llu%s%s: %s\n", row->path,
                    row->expected, cond ? cond : "accept", xmpp_err_name(err),
                    (unsigned long long)run.err_off, s2s_got[0] ? "; state machine: " : "", s2s_got,
                    why);
        } else if (kind == 'D') {
            printf("s2s       %-58s %s -> %s (%s)\n", row->path, row->expected, s2s_got, x->basis);
        } else {
            printf("ok        %-58s %s -> %s\n", row->path, row->expected, cond ? cond : "accept");
        }
        free(buf);
    }
    printf("%zu rows: %zu stream errors decided by the reader, %zu accepted, %zu decided by "
           "the s2s state machine\n",
           nrows, owned_rows, accept_rows, s2s_rows);
    assert_int_equal(failures, 0);
}

/* ---------------------------------------------------------------- splits */

static size_t compare_runs(const row_t *row, const xt_run_t *ref, const xt_run_t *run,
                           const char *how)
{
    char why[256];
    if (run->broken) {
        fprintf(stderr, "BROKEN %s (%s): %s\n", row->path, how, run->broken_why);
        return 1;
    }
    if (xt_diff(ref, run, why, sizeof why)[0] != '\0') {
        fprintf(stderr, "SPLIT %s (%s): %s\n", row->path, how, why);
        return 1;
    }
    return 0;
}

static void test_corpus_splits(void **state)
{
    size_t failures = 0, runs = 0;
    (void)state;
    for (size_t i = 0; i < nrows; i++) {
        const row_t *row = &rows[i];
        size_t len;
        char *buf = load_row(row, &len);
        static xt_run_t ref, run;
        char how[64];
        assert_non_null(buf);
        ref.stop_after = run.stop_after = -1;
        xt_oneshot(&ref, NULL, buf, len);

        xt_run(&run, NULL, buf, len, 1, NULL, 0);
        failures += compare_runs(row, &ref, &run, "byte by byte");
        runs++;
        if (len <= 4096) {
            for (size_t cut = 1; cut < len; cut++) {
                size_t cuts[2] = {cut, len};
                xt_run(&run, NULL, buf, len, 0, cuts, 2);
                snprintf(how, sizeof how, "split at %zu", cut);
                failures += compare_runs(row, &ref, &run, how);
                runs++;
            }
        } else {
            static const size_t steps[] = {2, 3, 7, 100, 4095, 4096, 4097, 65536};
            for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
                xt_run(&run, NULL, buf, len, steps[k], NULL, 0);
                snprintf(how, sizeof how, "pieces of %zu", steps[k]);
                failures += compare_runs(row, &ref, &run, how);
                runs++;
            }
        }
        /* Irregular pieces, the same every run. */
        uint32_t seed = 2463534242u ^ (uint32_t)len;
        for (int rep = 0; rep < 8; rep++) {
            size_t cuts[512], n = 0, at = 0;
            while (n < 511 && at < len) {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                at += 1 + seed % (len < 64 ? 8 : len / 64);
                cuts[n++] = at < len ? at : len;
            }
            cuts[n++] = len;
            xt_run(&run, NULL, buf, len, 0, cuts, n);
            snprintf(how, sizeof how, "irregular pieces #%d", rep);
            failures += compare_runs(row, &ref, &run, how);
            runs++;
        }
        free(buf);
    }
    printf("%zu split runs compared with one-shot feeding\n", runs);
    assert_int_equal(failures, 0);
}

/*
 * The corpus as one connection would carry it: each valid stream's stanzas forwarded from a
 * relay buffer that drops bytes as soon as consumed_upto allows. The forwarded bytes must be
 * exactly the input's element bytes.
 */
typedef struct {
    char *buf; /* the relay buffer: holds the stream from buf_off on */
    uint64_t buf_off;
    size_t buf_len;
    char out[4096]; /* what was forwarded */
    size_t out_len;
    int bad;
} relay_t;

static int relay_cb(void *ud, const xmpp_event_t *ev)
{
    relay_t *rl = ud;
    if (ev->kind != XMPP_EV_ELEMENT)
        return 0;
    if (ev->start < rl->buf_off || ev->end > rl->buf_off + rl->buf_len) {
        rl->bad = 1;
        return 0;
    }
    xmpp_slice_t from = xmpp_attr_slice(&ev->elem->from, rl->buf, rl->buf_off, rl->buf_len);
    if (ev->elem->from.present && from.p == NULL)
        rl->bad = 1;
    size_t n = (size_t)(ev->end - ev->start);
    if (rl->out_len + n <= sizeof rl->out) {
        memcpy(rl->out + rl->out_len, rl->buf + (ev->start - rl->buf_off), n);
        rl->out_len += n;
    }
    return 0;
}

static void test_corpus_relay_buffer(void **state)
{
    (void)state;
    for (size_t i = 0; i < nrows; i++) {
        if (strcmp(rows[i].expected, "accept") != 0)
            continue;
        size_t len;
        char *in = load_row(&rows[i], &len);
        relay_t rl = {malloc(len), 0, 0, {0}, 0, 0};
        static xt_run_t ref;
        assert_non_null(in);
        ref.stop_after = -1;
        xt_oneshot(&ref, NULL, in, len);
        xmpp_reader_t *r = xmpp_reader_new(NULL, relay_cb, &rl);
        assert_non_null(r);
        for (size_t off = 0; off < len; off += 3) {
            size_t n = len - off < 3 ? len - off : 3;
            /* append what the socket delivered, feed it, then drop what is consumed */
            memcpy(rl.buf + rl.buf_len, in + off, n);
            rl.buf_len += n;
            assert_int_equal(xmpp_reader_feed(r, in + off, n), XMPP_E_NONE);
            uint64_t keep = xmpp_reader_consumed_upto(r);
            assert_true(keep >= rl.buf_off);
            size_t drop = (size_t)(keep - rl.buf_off);
            memmove(rl.buf, rl.buf + drop, rl.buf_len - drop);
            rl.buf_len -= drop;
            rl.buf_off = keep;
        }
        assert_int_equal(xmpp_reader_finish(r), XMPP_E_NONE);
        assert_false(rl.bad);
        /* the forwarded bytes are the elements' own bytes, in order */
        size_t at = 0;
        for (size_t k = 0; k < ref.n; k++) {
            const xt_event_t *e = &ref.ev[k];
            if (e->kind != XMPP_EV_ELEMENT)
                continue;
            size_t n = (size_t)(e->end - e->start);
            assert_true(at + n <= rl.out_len);
            assert_memory_equal(rl.out + at, in + e->start, n);
            at += n;
        }
        assert_int_equal(at, rl.out_len);
        xmpp_reader_free(r);
        free(rl.buf);
        free(in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_verdicts),
        cmocka_unit_test(test_corpus_splits),
        cmocka_unit_test(test_corpus_relay_buffer),
    };
    return cmocka_run_group_tests(tests, load_index, NULL);
}
