/*
 * fuzz/sip_parse.c - libFuzzer harness for the whole sip/ module on hostile bytes. The input is
 * treated as what a peer wrote on a stream: it is framed message by message, every message is
 * indexed, validated and taken apart by every sub-parser, then edited the way the relay edits
 * it and re-parsed. Besides the sanitizers it checks the module's own contracts (slices stay
 * inside the message, ids match names, an edited message still frames, feeding the bytes in
 * pieces gives what feeding them at once gives) and aborts when one is broken.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SMALL_HDRS 32
#define LARGE_HDRS 1024
#define MAX_MSGS   64 /* per input: enough to cover pipelining without long runs on CRLF floods */
#define MAX_OPS    16
#define MAX_IOV    64
#define EDIT_SLACK 256 /* room for what an edit plan can add */

/*
 * For properties the header does not promise outright (a sane range, say): report the first
 * occurrence of each on stderr and carry on, so one questionable choice does not stop the run.
 */
#define SOFT(cond)                                                                                 \
    do {                                                                                           \
        static int reported_;                                                                      \
        if (!(cond) && !reported_) {                                                               \
            reported_ = 1;                                                                         \
            fprintf(stderr, "%s:%d: questionable: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

static const char *const proxy_supported[] = {"ms-benotify"};
static const sip_check_opts_t check_opts = {proxy_supported, 1};

static sip_hdr_t small_hdrs[SMALL_HDRS];
static sip_hdr_t large_hdrs[LARGE_HDRS];
static sip_hdr_t other_hdrs[LARGE_HDRS];
static sip_hdr_t edit_hdrs[LARGE_HDRS];

/* Whether s lies inside [lo, lo+len). Empty slices may point anywhere. */
static int inside(sip_slice_t s, const char *lo, size_t len)
{
    if (s.len == 0)
        return 1;
    uintptr_t a = (uintptr_t)s.p, b = (uintptr_t)lo;
    return s.p != NULL && a >= b && s.len <= len && a - b <= len - s.len;
}

static int slice_same(sip_slice_t a, sip_slice_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static int is_lws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int has_name(sip_slice_t s, const char *name)
{
    size_t n = strlen(name);
    return s.len == n && memcmp(s.p, name, n) == 0;
}

/* ---------------------------------------------------------------- the index */

static void check_index(const sip_msg_t *msg, const char *base, int rc)
{
    size_t mlen = (size_t)rc;
    CHECK(msg->msg_len == mlen);
    if (msg->kind == SIP_MSG_PING || msg->kind == SIP_MSG_PONG) {
        CHECK(mlen <= 4);
        return;
    }
    CHECK(msg->kind == SIP_MSG_REQUEST || msg->kind == SIP_MSG_RESPONSE);
    CHECK(msg->err == SIP_E_NONE);
    CHECK(msg->hdr_len + msg->body_len == mlen);
    CHECK(msg->body.len == msg->body_len);
    CHECK(msg->body_len == 0 || msg->body.p == base + msg->hdr_len);
    CHECK(msg->nhdrs <= msg->hdrs_cap);
    CHECK(inside(msg->version, base, msg->hdr_len));
    if (msg->kind == SIP_MSG_REQUEST) {
        CHECK(msg->method.len > 0 && msg->method.p == base);
        CHECK(msg->ruri.len > 0 && inside(msg->ruri, base, msg->hdr_len));
        CHECK(sip_is_token(msg->method));
        CHECK(msg->method_id == sip_method_lookup(msg->method.p, msg->method.len));
    } else {
        CHECK(msg->status >= 100 && msg->status <= 699);
        CHECK(inside(msg->reason, base, msg->hdr_len));
    }

    int counts[SIP_HDR__COUNT] = {0};
    const char *prev_end = base;
    for (size_t i = 0; i < msg->nhdrs; i++) {
        const sip_hdr_t *h = &msg->hdrs[i];
        CHECK(h->id < SIP_HDR__COUNT);
        CHECK(inside(h->raw, base, msg->hdr_len));
        CHECK(h->raw.p >= prev_end); /* in wire order, never overlapping */
        prev_end = h->raw.p + h->raw.len;
        CHECK(h->name.len > 0 && h->name.p == h->raw.p);
        CHECK(inside(h->value, h->raw.p, h->raw.len));
        /* "leading/trailing white space trimmed": folds may remain inside, never at an end. */
        CHECK(h->value.len == 0 || !is_lws(h->value.p[0]));
        CHECK(h->value.len == 0 || !is_lws(h->value.p[h->value.len - 1]));
        CHECK(h->raw.len >= 2 && h->raw.p[h->raw.len - 2] == '\r' &&
              h->raw.p[h->raw.len - 1] == '\n');
        CHECK(sip_hdr_lookup(h->name.p, h->name.len) == (sip_hdr_id_t)h->id);
        if (counts[h->id] == 0)
            CHECK(msg->first[h->id] == (int16_t)i);
        counts[h->id]++;

        const sip_hdr_t *next = sip_msg_header_next(msg, h);
        CHECK(next == NULL || (next > h && next < msg->hdrs + msg->nhdrs && next->id == h->id));
        if (next && h->id == SIP_HDR_OTHER)
            CHECK(next->name.len == h->name.len);
        const sip_hdr_t *byname = sip_msg_header_find_name(msg, h->name.p, h->name.len);
        CHECK(byname != NULL && byname <= h && byname->id == h->id);
    }
    CHECK(prev_end <= base + msg->hdr_len);
    for (int id = 0; id < SIP_HDR__COUNT; id++) {
        CHECK(msg->count[id] == (counts[id] > 255 ? 255 : counts[id]));
        if (counts[id] == 0)
            CHECK(msg->first[id] == -1);
        /*
         * find/next must walk exactly the headers carrying a known id. Unknown headers share
         * the id OTHER, and next() then stays with the name of the header it started from.
         */
        if (id == SIP_HDR_OTHER)
            continue;
        int walked = 0;
        for (const sip_hdr_t *h = sip_msg_header_find(msg, (sip_hdr_id_t)id); h;
             h = sip_msg_header_next(msg, h)) {
            CHECK(h->id == id);
            CHECK(++walked <= counts[id]);
        }
        CHECK(walked == counts[id]);
    }
}

/* ---------------------------------------------------------------- sub-parsers */

static void check_uri(sip_slice_t s)
{
    sip_uri_t u;
    if (sip_uri_parse(s, &u) != 0)
        return;
    CHECK(u.scheme >= SIP_SCHEME_OTHER && u.scheme <= SIP_SCHEME_TEL);
    CHECK(inside(u.scheme_name, s.p, s.len) && u.scheme_name.len > 0);
    CHECK(inside(u.user, s.p, s.len));
    CHECK(inside(u.password, s.p, s.len));
    CHECK(inside(u.hostport.host, s.p, s.len));
    CHECK(inside(u.params, s.p, s.len));
    CHECK(inside(u.headers, s.p, s.len));
    CHECK(inside(u.opaque, s.p, s.len));
    CHECK(u.hostport.port >= 0);
    SOFT(u.hostport.port <= 65535);
    if (u.scheme == SIP_SCHEME_SIP || u.scheme == SIP_SCHEME_SIPS) {
        CHECK(u.hostport.host.len > 0);
        sip_hostport_t hp;
        CHECK(sip_hostport_parse(u.hostport.host, &hp) == 0);
        CHECK(hp.host_kind == u.hostport.host_kind && hp.port == 0);
    }
    static const char *const names[] = {"transport", "maddr", "lr", "user", "ttl", "method"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        sip_slice_t v;
        if (sip_param_find(u.params, names[i], &v))
            CHECK(inside(v, u.params.p, u.params.len));
    }
}

static void check_naddr(sip_slice_t value)
{
    sip_naddr_t na;
    if (sip_naddr_parse(value, &na) != 0)
        return;
    CHECK(inside(na.display, value.p, value.len));
    CHECK(inside(na.uri, value.p, value.len) && na.uri.len > 0);
    CHECK(inside(na.params, value.p, value.len));
    CHECK(inside(na.tag, na.params.p, na.params.len));
    /* The tag the parser picked out is the one a parameter lookup finds. */
    sip_slice_t tag;
    int found = sip_param_find(na.params, "tag", &tag);
    CHECK(found == na.has_tag);
    CHECK(!found || slice_same(tag, na.tag));
    sip_slice_t v;
    if (sip_param_find(na.params, "expires", &v))
        CHECK(inside(v, na.params.p, na.params.len));
    check_uri(na.uri);
}

static void check_via(sip_slice_t value)
{
    sip_via_t via;
    if (sip_via_parse(value, &via) != 0)
        return;
    CHECK(inside(via.transport, value.p, value.len) && via.transport.len > 0);
    CHECK(inside(via.sent_by.host, value.p, value.len) && via.sent_by.host.len > 0);
    CHECK(inside(via.branch, value.p, value.len));
    CHECK(inside(via.received, value.p, value.len));
    CHECK(inside(via.maddr, value.p, value.len));
    CHECK(inside(via.params, value.p, value.len));
    CHECK(via.sent_by.port >= 0 && via.rport >= -1 && via.ttl >= -1);
    SOFT(via.sent_by.port <= 65535);
    SOFT(via.rport <= 65535);
    SOFT(via.ttl <= 255);
    sip_hostport_t hp;
    CHECK(sip_hostport_parse(via.sent_by.host, &hp) == 0);
    CHECK(hp.host_kind == via.sent_by.host_kind);
    sip_slice_t branch;
    int found = sip_param_find(via.params, "branch", &branch);
    CHECK(found == via.has_branch);
    CHECK(!found || slice_same(branch, via.branch));
}

/* Splitting must terminate, stay inside the value and move forward. */
static size_t each_value(sip_slice_t value, void (*fn)(sip_slice_t))
{
    size_t pos = 0, n = 0;
    sip_slice_t v;
    while (sip_value_next(value, &pos, &v)) {
        CHECK(++n <= value.len + 1);
        CHECK(inside(v, value.p, value.len));
        CHECK(pos <= value.len + 1);
        if (fn)
            fn(v);
    }
    return n;
}

static void check_token_value(sip_slice_t v)
{
    (void)sip_is_token(v);
}

static void sub_parsers(const sip_msg_t *msg)
{
    if (msg->kind == SIP_MSG_REQUEST)
        check_uri(msg->ruri);
    for (size_t i = 0; i < msg->nhdrs; i++) {
        const sip_hdr_t *h = &msg->hdrs[i];
        switch (h->id) {
        case SIP_HDR_VIA:
            each_value(h->value, check_via);
            break;
        case SIP_HDR_FROM:
        case SIP_HDR_TO:
            check_naddr(h->value);
            break;
        case SIP_HDR_CONTACT:
        case SIP_HDR_ROUTE:
        case SIP_HDR_RECORD_ROUTE:
        case SIP_HDR_PATH:
            each_value(h->value, check_naddr);
            break;
        case SIP_HDR_CSEQ: {
            sip_cseq_t cs;
            if (sip_cseq_parse(h->value, &cs) == 0) {
                CHECK(inside(cs.method, h->value.p, h->value.len) && cs.method.len > 0);
                CHECK(cs.method_id == sip_method_lookup(cs.method.p, cs.method.len));
            }
            break;
        }
        case SIP_HDR_MAX_FORWARDS: {
            int mf = sip_max_forwards_parse(h->value);
            CHECK(mf >= -1 && mf <= 255);
            break;
        }
        case SIP_HDR_CALL_ID:
            (void)sip_call_id_check(h->value);
            break;
        case SIP_HDR_CONTENT_LENGTH: {
            size_t cl;
            /* A framed message has exactly one Content-Length: its value is the body size. */
            if (sip_content_length_parse(h->value, &cl) == 0)
                CHECK(msg->count[SIP_HDR_CONTENT_LENGTH] != 1 || cl == msg->body_len);
            break;
        }
        case SIP_HDR_PROXY_REQUIRE:
        case SIP_HDR_REQUIRE:
        case SIP_HDR_SUPPORTED:
            each_value(h->value, check_token_value);
            break;
        default:
            each_value(h->value, NULL);
            break;
        }
    }
    sip_via_t top;
    (void)sip_msg_top_via(msg, &top);
}

/* ---------------------------------------------------------------- verdicts */

static void check_err(sip_err_t err)
{
    CHECK(err >= SIP_E_NONE && err < SIP_ERR__COUNT);
    CHECK(sip_err_reason(err) != NULL && sip_strerror(err) != NULL && sip_err_name(err) != NULL);
    int st = sip_err_status(err);
    CHECK(err == SIP_E_NONE ? st == 0 : (st >= 400 && st <= 699));
}

static void check_verdict(const sip_msg_t *msg, const char *base, const sip_verdict_t *v)
{
    CHECK(v->action >= SIP_ACT_FORWARD && v->action <= SIP_ACT_CLOSE);
    check_err(v->err);
    CHECK((v->action == SIP_ACT_FORWARD) == (v->err == SIP_E_NONE));
    if (v->action == SIP_ACT_REPLY)
        CHECK(v->status == sip_err_status(v->err));
    if (v->err == SIP_E_BAD_EXTENSION)
        CHECK(v->unsupported.len > 0 && inside(v->unsupported, base, msg->hdr_len));
    CHECK(sip_action_name(v->action, msg->kind == SIP_MSG_RESPONSE) != NULL);
}

/* ---------------------------------------------------------------- edit plans */

static size_t count_values(sip_slice_t v)
{
    return each_value(v, NULL);
}

/* Render a plan and gather its iovec into 'out', as the write path would send it. */
static size_t flatten(sip_edit_t *e, char *out, size_t cap, const char *plan)
{
    struct iovec iov[MAX_IOV];
    size_t total = 0, at = 0;
    int n = sip_edit_render(e, iov, MAX_IOV, &total);
    if (n < 0) {
        fprintf(stderr, "render failed for %s: %zu ops, overflow %d\n", plan, e->nops, e->overflow);
        abort();
    }
    CHECK(total <= cap);
    for (int i = 0; i < n; i++) {
        CHECK(at + iov[i].iov_len <= total);
        memcpy(out + at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
    }
    CHECK(at == total);
    return total;
}

/*
 * The relay's edits on a forwarded message: drop a header, add one, step Max-Forwards, pop
 * the top Via value. Rendered and re-framed, the result must be one message with the header
 * count the plan implies and the body untouched.
 */
static void check_edit(const sip_msg_t *msg, const char *base)
{
    static char out[SIP_DEFAULT_MAX_SIZE + EDIT_SLACK];
    static const char line[] = "X-Fuzz-Edit: 1\r\n";
    sip_splice_t ops[MAX_OPS];
    sip_edit_t e;

    if (msg->msg_len + EDIT_SLACK > sizeof out)
        return;
    sip_edit_init(&e, msg, base, ops, MAX_OPS);
    long expect = (long)msg->nhdrs;

    /* Dropping a framing header (or one the later ops edit) would test something else. */
    size_t drop = msg->nhdrs;
    for (size_t i = 0; i < msg->nhdrs; i++) {
        uint16_t id = msg->hdrs[i].id;
        if (id != SIP_HDR_CONTENT_LENGTH && id != SIP_HDR_VIA && id != SIP_HDR_MAX_FORWARDS) {
            drop = i;
            break;
        }
    }
    if (drop < msg->nhdrs) {
        CHECK(sip_edit_drop(&e, drop) == 0);
        expect--;
    }
    CHECK(sip_edit_insert(&e, msg->nhdrs, line, sizeof line - 1) == 0);
    expect++;
    int mf = sip_edit_max_forwards(&e);
    CHECK(mf >= -1 && mf <= 255);
    if (mf >= 0 && msg->count[SIP_HDR_MAX_FORWARDS] == 0)
        expect++;
    int via_i = msg->first[SIP_HDR_VIA];
    size_t via_vals = via_i >= 0 ? count_values(msg->hdrs[via_i].value) : 0;
    if (via_vals >= 1 && sip_edit_drop_first_value(&e, (size_t)via_i) == 0 && via_vals == 1)
        expect--;

    size_t total = flatten(&e, out, sizeof out, "the relay's plan");

    sip_msg_t m2;
    sip_msg_init(&m2, edit_hdrs, LARGE_HDRS);
    int rc = sip_parse(out, total, &m2, 0);
    if (rc != (int)total || m2.kind != msg->kind || (long)m2.nhdrs != expect) {
        fprintf(stderr,
                "edited message does not re-frame: rc %d of %zu, err %s, %zu headers "
                "(expected %ld), mf %d\n--- edited ---\n%.*s\n---\n",
                rc, total, sip_err_name(m2.err), m2.nhdrs, expect, mf, (int)total, out);
        abort();
    }
    CHECK(m2.body_len == msg->body_len);
    CHECK(msg->body_len == 0 || memcmp(m2.body.p, msg->body.p, msg->body_len) == 0);
    /* the input may carry the marker header itself (the fuzzer learns the string): count it */
    int found = 0, already = 0;
    for (size_t i = 0; i < m2.nhdrs; i++)
        found += has_name(m2.hdrs[i].name, "X-Fuzz-Edit");
    for (size_t i = 0; i < msg->nhdrs; i++)
        already += i != drop && has_name(msg->hdrs[i].name, "X-Fuzz-Edit");
    CHECK(found == already + 1);
    if (mf >= 0) {
        const sip_hdr_t *h = sip_msg_header_find(&m2, SIP_HDR_MAX_FORWARDS);
        CHECK(h != NULL && sip_max_forwards_parse(h->value) == mf);
    }
}

/*
 * A second plan with edits that touch the same spot: replace header k by dropping it and
 * inserting a line at its index (as a proxy swaps its Route for a Record-Route), and rewrite
 * the Call-ID line. Ops that only meet at an offset do not overlap, whatever order they were
 * recorded in, so rendering must succeed.
 */
static void check_edit_same_spot(const sip_msg_t *msg, const char *base)
{
    static char out[SIP_DEFAULT_MAX_SIZE + EDIT_SLACK];
    static const char line[] = "X-Fuzz-Swap: 1\r\n";
    static const char cid_line[] = "Call-ID: fuzz@edit\r\n";
    sip_splice_t ops[MAX_OPS];
    sip_edit_t e;

    if (msg->msg_len + EDIT_SLACK > sizeof out)
        return;
    size_t k = msg->nhdrs;
    for (size_t i = 0; i < msg->nhdrs; i++) {
        uint16_t id = msg->hdrs[i].id;
        if (id != SIP_HDR_CONTENT_LENGTH && id != SIP_HDR_CALL_ID) {
            k = i;
            break;
        }
    }
    if (k == msg->nhdrs)
        return;
    sip_edit_init(&e, msg, base, ops, MAX_OPS);
    CHECK(sip_edit_drop(&e, k) == 0);
    CHECK(sip_edit_insert(&e, k, line, sizeof line - 1) == 0);
    int cid = msg->first[SIP_HDR_CALL_ID];
    if (cid >= 0)
        CHECK(sip_edit_replace(&e, (size_t)cid, cid_line, sizeof cid_line - 1) == 0);

    size_t total = flatten(&e, out, sizeof out, "drop + insert at one header");

    sip_msg_t m2;
    sip_msg_init(&m2, edit_hdrs, LARGE_HDRS);
    int rc = sip_parse(out, total, &m2, 0);
    CHECK(rc == (int)total && m2.nhdrs == msg->nhdrs);
    CHECK(has_name(m2.hdrs[k].name, "X-Fuzz-Swap"));
    if (cid >= 0) {
        const sip_hdr_t *h = sip_msg_header_find(&m2, SIP_HDR_CALL_ID);
        CHECK(h != NULL && has_name(h->value, "fuzz@edit"));
    }
}

/* ---------------------------------------------------------------- the stream */

static void one_message(const sip_msg_t *msg, const char *base, int rc)
{
    check_index(msg, base, rc);
    if (msg->kind != SIP_MSG_REQUEST && msg->kind != SIP_MSG_RESPONSE)
        return;
    sub_parsers(msg);
    sip_verdict_t v;
    sip_msg_check(msg, &check_opts, &v);
    check_verdict(msg, base, &v);
    check_edit(msg, base);
    check_edit_same_spot(msg, base);
}

static void stream(const char *buf, size_t size, sip_hdr_t *hdrs, size_t cap)
{
    size_t off = 0;
    for (int k = 0; k < MAX_MSGS && off < size; k++) {
        sip_msg_t msg;
        sip_msg_init(&msg, hdrs, cap);
        size_t left = size - off;
        int rc = sip_parse(buf + off, left, &msg, 0);
        CHECK(rc == SIP_ERROR || rc == SIP_INCOMPLETE || (rc > 0 && (size_t)rc <= left));
        if (rc == SIP_INCOMPLETE) {
            CHECK(msg.need == 0 || msg.need > left);
            break;
        }
        if (rc == SIP_ERROR) {
            CHECK(msg.err != SIP_E_NONE);
            check_err(msg.err);
            sip_verdict_t v;
            sip_parse_verdict(&msg, &v);
            CHECK(v.action >= SIP_ACT_FORWARD && v.action <= SIP_ACT_CLOSE);
            CHECK(v.action != SIP_ACT_FORWARD);
            CHECK(!sip_err_is_framing(msg.err) || v.action == SIP_ACT_CLOSE);
            if (sip_err_is_framing(msg.err))
                break;
            /* The caller answers the bad message and carries on after it. */
            CHECK(msg.msg_len > 0 && msg.msg_len <= left);
            off += msg.msg_len;
            continue;
        }
        one_message(&msg, buf + off, rc);
        off += (size_t)rc;
    }
}

/* ---------------------------------------------------------------- incremental framing */

static void same_result(const sip_msg_t *a, int ra, const sip_msg_t *b, int rb)
{
    if (ra != rb || a->err != b->err) {
        fprintf(stderr, "incremental parse differs: one-shot rc %d err %s, pieces rc %d err %s\n",
                ra, sip_err_name(a->err), rb, sip_err_name(b->err));
        abort();
    }
    if (ra == SIP_INCOMPLETE) {
        CHECK(a->need == b->need);
        return;
    }
    if (ra < 0)
        return;
    CHECK(a->kind == b->kind && a->msg_len == b->msg_len && a->hdr_len == b->hdr_len);
    CHECK(a->body_len == b->body_len && a->nhdrs == b->nhdrs);
    CHECK(a->status == b->status && a->method_id == b->method_id);
    CHECK(a->method.p == b->method.p && a->method.len == b->method.len);
    CHECK(a->ruri.p == b->ruri.p && a->ruri.len == b->ruri.len);
    for (size_t i = 0; i < a->nhdrs; i++) {
        const sip_hdr_t *x = &a->hdrs[i], *y = &b->hdrs[i];
        CHECK(x->id == y->id && x->folded == y->folded);
        CHECK(x->raw.p == y->raw.p && x->raw.len == y->raw.len);
        CHECK(x->name.p == y->name.p && x->name.len == y->name.len);
        CHECK(x->value.p == y->value.p && x->value.len == y->value.len);
    }
}

/*
 * A connection delivers bytes in arbitrary pieces. Parsing a prefix, then the whole buffer
 * with last_len set, must give exactly what one call on the whole buffer gives.
 */
static void incremental(const char *buf, size_t size, size_t split)
{
    sip_msg_t a, b;
    sip_msg_init(&a, large_hdrs, LARGE_HDRS);
    int ra = sip_parse(buf, size, &a, 0);

    /*
     * A lone CRLF is a pong while CRLFCRLF is a ping: with keepalives the answer depends on
     * bytes not yet received, so there is no single right result to compare against.
     */
    if (buf[0] == '\r' || buf[0] == '\n')
        return;

    sip_msg_init(&b, other_hdrs, LARGE_HDRS);
    int rb = sip_parse(buf, split, &b, 0);
    if (rb == SIP_INCOMPLETE) {
        CHECK(b.need == 0 || b.need > split);
        if (b.need != 0 && b.need <= size)
            CHECK(ra == (int)b.need || ra == SIP_ERROR);
        rb = sip_parse(buf, size, &b, split);
    }
    same_result(&a, ra, &b, rb);

    /* Byte by byte, as a slow peer or a tiny TCP window delivers it. */
    if (size > 2048)
        return;
    sip_msg_init(&b, other_hdrs, LARGE_HDRS);
    size_t last = 0;
    rb = SIP_INCOMPLETE;
    for (size_t len = 1; len <= size; len++) {
        rb = sip_parse(buf, len, &b, last);
        if (rb != SIP_INCOMPLETE)
            break;
        last = len;
    }
    same_result(&a, ra, &b, rb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *buf = (const char *)data;
    stream(buf, size, small_hdrs, SMALL_HDRS);
    stream(buf, size, large_hdrs, LARGE_HDRS);
    /* The first byte picks the split point, so every input also exercises reassembly. */
    size_t split = (size_t)data[0] * size / 256;
    if (split == 0)
        split = 1;
    incremental(buf, size, split);
    return 0;
}
