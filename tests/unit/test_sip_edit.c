/*
 * test_sip_edit.c - edit plans (sip_edit_*): dropping, replacing and inserting header lines
 * (before header i and after the last one), removing the first value of a multi-value Via line
 * or the whole line when it has one value, the RFC 3261 16.6 Max-Forwards step (decrement with
 * the original name spelling kept, insertion of "Max-Forwards: 70" when absent, -1 at zero or
 * when malformed), ops added out of order, and failures (overlapping ops, a full op array, an
 * iovec that is too small). Every successful plan is rendered, flattened and parsed again with
 * sip_parse, and the new index is checked: header count, ids, values, body and Content-Length.
 */
#include "sip_test_util.h"

/* Header indexes of base_msg. */
enum {
    H_VIA2 = 0, /* two values */
    H_VIA1,     /* one value */
    H_MF,
    H_TO,
    H_FROM,
    H_CALLID,
    H_CSEQ,
    H_SUBJECT, /* folded */
    H_CTYPE,
    H_CL,
    H_COUNT
};

static const char base_msg[] =
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TLS proxy.example.com;branch=z9hG4bKp1 , SIP/2.0/TLS ua.example.com;"
    "branch=z9hG4bKu1\r\n"
    "Via: SIP/2.0/TCP second.example.com;branch=z9hG4bKs1\r\n"
    "max-forwards: 70\r\n"
    "To: <sip:bob@example.com>\r\n"
    "From: <sip:alice@example.com>;tag=a1\r\n"
    "Call-ID: c1@example.com\r\n"
    "CSeq: 1 INVITE\r\n"
    "Subject: first line\r\n"
    "  second line\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Length: 6\r\n"
    "\r\n"
    "a\0b\r\nc";

static const char base_body[] = "a\0b\r\nc";

/* An edit plan over a parsed message, with room for ops. */
typedef struct {
    tmsg_t t;
    sip_edit_t e;
    sip_splice_t ops[16];
} plan_t;

static void plan_start(plan_t *p, const char *m, size_t n, size_t cap)
{
    assert_int_equal(tmsg_parse(&p->t, m, n), (int)n);
    assert_true(cap <= 16);
    sip_edit_init(&p->e, &p->t.msg, p->t.buf, p->ops, cap);
}

/* Render the plan, flatten it into an exact-size heap buffer and parse that into out. */
static void render_reparse(plan_t *p, tmsg_t *out)
{
    struct iovec iov[40];
    size_t total = 0, sum = 0;
    int n = sip_edit_render(&p->e, iov, 40, &total);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        sum += iov[i].iov_len;
    }
    assert_int_equal(sum, total);
    char *flat = malloc(total ? total : 1);
    assert_non_null(flat);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        memcpy(flat + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    int rc = tmsg_parse(out, flat, total);
    if (rc != (int)total) {
        char esc[2048];
        test_escape(flat, total, esc, sizeof(esc));
        print_error("re-parse of \"%s\": rc %d err %s\n", esc, rc, sip_err_name(out->msg.err));
    }
    free(flat);
    assert_int_equal(rc, (int)total);
}

/* The re-parsed message still has the original body and Content-Length. */
static void assert_body_intact(const tmsg_t *r)
{
    assert_slice_lit(r->msg.body, base_body);
    const sip_hdr_t *h = sip_msg_header_find(&r->msg, SIP_HDR_CONTENT_LENGTH);
    assert_non_null(h);
    assert_slice(h->value, "6");
}

/* Header i of r has id and value. */
static void assert_hdr(const tmsg_t *r, size_t i, sip_hdr_id_t id, const char *value)
{
    const sip_hdr_t *h = tmsg_hdr(r, i);
    if (h->id != id) {
        print_error("header %zu: id %d (%s), want %d (%s)\n", i, h->id,
                    sip_hdr_name((sip_hdr_id_t)h->id), id, sip_hdr_name(id));
    }
    assert_int_equal(h->id, id);
    assert_slice(h->value, value);
}

/* ---------------------------------------------------------------- basic ops */

static void test_empty_plan(void **state)
{
    (void)state;
    plan_t p;
    tmsg_t r;
    plan_start(&p, LIT(base_msg), 16);
    render_reparse(&p, &r);
    assert_int_equal(r.len, sizeof(base_msg) - 1);
    assert_memory_equal(r.buf, base_msg, sizeof(base_msg) - 1);
}

static void test_drop(void **state)
{
    (void)state;
    plan_t p;
    tmsg_t r;
    plan_start(&p, LIT(base_msg), 16);
    assert_int_equal(sip_edit_drop(&p.e, H_TO), 0);
    render_reparse(&p, &r);
    assert_int_equal(r.msg.nhdrs, H_COUNT - 1);
    assert_null(sip_msg_header_find(&r.msg, SIP_HDR_TO));
    assert_hdr(&r, H_TO - 1, SIP_HDR_MAX_FORWARDS, "70");
    assert_hdr(&r, H_TO, SIP_HDR_FROM, "<sip:alice@example.com>;tag=a1");
    assert_body_intact(&r);
    assert_int_equal(r.len, sizeof(base_msg) - 1 - strlen("To: <sip:bob@example.com>\r\n"));
}

static void test_drop_folded(void **state)
{
    (void)state;
    plan_t p;
    tmsg_t r;
    plan_start(&p, LIT(base_msg), 16);
    assert_int_equal(sip_edit_drop(&p.e, H_SUBJECT), 0);
    render_reparse(&p, &r);
    assert_int_equal(r.msg.nhdrs, H_COUNT - 1);
    assert_null(sip_msg_header_find(&r.msg, SIP_HDR_SUBJECT));
    assert_hdr(&r, H_SUBJECT, SIP_HDR_CONTENT_TYPE, "application/octet-stream");
    assert_body_intact(&r);
}

static void test_drop_first_and_last(void **state)
{
    (void)state;
    plan_t p;
    tmsg_t r;
    plan_start(&p, LIT(base_msg), 16);
    assert_int_equal(sip_edit_drop(&p.e, H_VIA2), 0);
    assert_int_equal(sip_edit_drop(&p.e, H_CTYPE), 0);
    render_reparse(&p, &r);
    assert_int_equal(r.msg.nhdrs, H_COUNT - 2);
    assert_hdr(&r, 0, SIP_HDR_VIA, "SIP/2.0/TCP second.example.com;branch=z9hG4bKs1");
    assert_hdr(&r, H_COUNT - 3, SIP_HDR_CONTENT_LENGTH, "6");
    assert_body_intact(&r);
}

static void test_replace(void **state)
{
    (void)state;
    static const char line[] = "Subject: replaced\r\n";
    plan_t p;
    tmsg_t r;
    plan_start(&p, LIT(base_msg), 16);
    assert_int_equal(sip_edit_replace(&p.e, H_SUBJECT, LIT(line)), 0);
    render_reparse(&p, &r);
    assert_int_equal(r.msg.nhdrs, H_COUNT);
    assert_hdr(&r, H_SUBJECT, SIP_HDR_SUBJECT, "replaced");
    assert_false(tmsg_hdr(&r, H_SUBJECT)->folded);
    assert_hdr(&r, H_CSEQ, SIP_HDR_CSEQ, "1 INVITE");
    assert_hdr(&r, H_CTYPE, SIP_HDR_CONTENT_TYPE, "application/octet-stream");
    assert_body_intact(&r);
}

static void test_insert_before(void **state)
{
    (void)state;
    static const char rr[] = "Record-Route: <sip:edge.example.com;lr>\r\n";
    static const char via[] = "Via: SIP/2.0/TLS edge.example.com;branch=z9hG4bKe1\r\n";
    plan_t p;
    tmsg_t r;
    plan_start(&p, LIT(base_msg), 16);
    assert_int_equal(sip_edit_insert(&p.e, H_TO, LIT(rr)), 0);
    assert_int_equal(sip_edit_insert(&p.e, 0, LIT(via)), 0);
    render_reparse(&p, &r);
    assert_int_equal(r.msg.nhdrs, H_COUNT + 2);
    assert_hdr(&r, 0, SIP_HDR_VIA, "SIP/2.0/TLS edge.example.com;branch=z9hG4bKe1");
    assert_hdr(&r, 1, SIP_HDR_VIA,
               "SIP/2.0/TLS proxy.example.com;branch=z9hG4bKp1 , SIP/2.0/TLS ua.example.com;"
               "branch=z9hG4bKu1");
    assert_hdr(&r, H_TO + 1, SIP_HDR_RECORD_ROUTE, "<sip:edge.example.com;lr>");
    assert_hdr(&r, H_TO + 2, SIP_HDR_TO, "<sip:bob@example.com>");
    assert_body_intact(&r);
    sip_via_t v;
    assert_int_equal(sip_msg_top_via(&r.msg, &v), 0);
    assert_slice(v.sent_by.host, "edge.example.com");
}

static void test_insert_at_end(void **state)
{
    (void)state;
    static const char line[] = "X-Edge: added\r\n";
    plan_t p;
    tmsg_t r;
    plan_start(&p, LIT(base_msg), 16);
    assert_int_equal(sip_edit_insert(&p.e, p.t.msg.nhdrs, LIT(line)), 0);
    render_reparse(&p, &r);
    assert_int_equal(r.msg.nhdrs, H_COUNT + 1);
    assert_hdr(&r, H_CL, SIP_HDR_CONTENT_LENGTH, "6");
    assert_hdr(&r, H_COUNT, SIP_HDR_OTHER, "added");
    assert_slice(tmsg_hdr(&r, H_COUNT)->name, "X-Edge");
    assert_body_intact(&r);
}

static void test_bad_index(void **state)
{
    (void)state;
    static const char line[] = "X-Edge: added\r\n";
    plan_t p;
    plan_start(&p, LIT(base_msg), 16);
    assert_int_not_equal(sip_edit_drop(&p.e, H_COUNT), 0);
    assert_int_not_equal(sip_edit_replace(&p.e, H_COUNT, LIT(line)), 0);
    assert_int_not_equal(sip_edit_insert(&p.e, H_COUNT + 1, LIT(line)), 0);
    assert_int_not_equal(sip_edit_drop_first_value(&p.e, H_COUNT), 0);
}

/* ---------------------------------------------------------------- Via values */

static void test_drop_first_value_two_values(void **state)
{
    (void)state;
    plan_t p;
    tmsg_t r;
    plan_start(&p, LIT(base_msg), 16);
    assert_int_equal(sip_edit_drop_first_value(&p.e, H_VIA2), 0);
    render_reparse(&p, &r);
    assert_int_equal(r.msg.nhdrs, H_COUNT);
    assert_hdr(&r, H_VIA2, SIP_HDR_VIA, "SIP/2.0/TLS ua.example.com;branch=z9hG4bKu1");
    assert_hdr(&r, H_VIA1, SIP_HDR_VIA, "SIP/2.0/TCP second.example.com;branch=z9hG4bKs1");
    assert_int_equal(r.msg.count[SIP_HDR_VIA], 2);
    assert_body_intact(&r);
    sip_via_t v;
    assert_int_equal(sip_msg_top_via(&r.msg, &v), 0);
    assert_slice(v.sent_by.host, "ua.example.com");
}

static void test_drop_first_value_three_values_folded(void **state)
{
    (void)state;
    static const char m[] = "SIP/2.0 200 OK\r\n"
                            "v: SIP/2.0/TLS a.example.com;branch=z9hG4bKa;x=\"q,q\",\r\n"
                            "   SIP/2.0/TLS b.example.com;branch=z9hG4bKb,"
                            "SIP/2.0/UDP c.example.com\r\n"
                            "CSeq: 1 INVITE\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    plan_t p;
    tmsg_t r;
    sip_slice_t val;
    size_t pos = 0;
    plan_start(&p, LIT(m), 16);
    assert_int_equal(sip_edit_drop_first_value(&p.e, 0), 0);
    render_reparse(&p, &r);
    assert_int_equal(r.msg.nhdrs, 3);
    assert_int_equal(tmsg_hdr(&r, 0)->id, SIP_HDR_VIA);
    assert_int_equal(sip_value_next(tmsg_hdr(&r, 0)->value, &pos, &val), 1);
    assert_slice(val, "SIP/2.0/TLS b.example.com;branch=z9hG4bKb");
    assert_int_equal(sip_value_next(tmsg_hdr(&r, 0)->value, &pos, &val), 1);
    assert_slice(val, "SIP/2.0/UDP c.example.com");
    assert_int_equal(sip_value_next(tmsg_hdr(&r, 0)->value, &pos, &val), 0);
}

static void test_drop_first_value_one_value(void **state)
{
    (void)state;
    plan_t p;
    tmsg_t r;
    plan_start(&p, LIT(base_msg), 16);
    assert_int_equal(sip_edit_drop_first_value(&p.e, H_VIA1), 0);
    render_reparse(&p, &r);
    assert_int_equal(r.msg.nhdrs, H_COUNT - 1);
    assert_int_equal(r.msg.count[SIP_HDR_VIA], 1);
    assert_hdr(&r, H_VIA1, SIP_HDR_MAX_FORWARDS, "70");
    assert_body_intact(&r);
}

/* ---------------------------------------------------------------- Max-Forwards */

static void test_max_forwards_decrement(void **state)
{
    (void)state;
    plan_t p;
    tmsg_t r;
    plan_start(&p, LIT(base_msg), 16);
    assert_int_equal(sip_edit_max_forwards(&p.e), 69);
    render_reparse(&p, &r);
    assert_int_equal(r.msg.nhdrs, H_COUNT);
    assert_hdr(&r, H_MF, SIP_HDR_MAX_FORWARDS, "69");
    /* the original spelling of the name is kept */
    assert_slice(tmsg_hdr(&r, H_MF)->name, "max-forwards");
    assert_body_intact(&r);
    assert_int_equal(r.len, sizeof(base_msg) - 1);
}

static void test_max_forwards_leading_zeros_and_one(void **state)
{
    (void)state;
    static const char m68[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                              "MaX-fOrWaRdS: 0068\r\n"
                              "Content-Length: 0\r\n"
                              "\r\n";
    static const char m1[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                             "Max-Forwards: 1\r\n"
                             "Content-Length: 0\r\n"
                             "\r\n";
    plan_t p;
    tmsg_t r;
    plan_start(&p, LIT(m68), 16);
    assert_int_equal(sip_edit_max_forwards(&p.e), 67);
    render_reparse(&p, &r);
    assert_hdr(&r, 0, SIP_HDR_MAX_FORWARDS, "67");
    assert_slice(tmsg_hdr(&r, 0)->name, "MaX-fOrWaRdS");

    plan_start(&p, LIT(m1), 16);
    assert_int_equal(sip_edit_max_forwards(&p.e), 0);
    render_reparse(&p, &r);
    assert_hdr(&r, 0, SIP_HDR_MAX_FORWARDS, "0");
}

static void test_max_forwards_absent(void **state)
{
    (void)state;
    static const char m[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                            "Via: SIP/2.0/TLS ua.example.com;branch=z9hG4bKu1\r\n"
                            "Content-Length: 2\r\n"
                            "\r\n"
                            "hi";
    plan_t p;
    tmsg_t r;
    plan_start(&p, LIT(m), 16);
    assert_int_equal(sip_edit_max_forwards(&p.e), 70);
    render_reparse(&p, &r);
    assert_int_equal(r.msg.nhdrs, 3);
    const sip_hdr_t *h = sip_msg_header_find(&r.msg, SIP_HDR_MAX_FORWARDS);
    assert_non_null(h);
    assert_slice(h->raw, "Max-Forwards: 70\r\n");
    assert_slice(h->value, "70");
    assert_slice(r.msg.body, "hi");
    assert_int_equal(r.len, sizeof(m) - 1 + strlen("Max-Forwards: 70\r\n"));
}

static void test_max_forwards_zero_or_bad(void **state)
{
    (void)state;
    static const char zero[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                               "Max-Forwards: 0\r\n"
                               "Content-Length: 0\r\n"
                               "\r\n";
    static const char bad[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                              "Max-Forwards: seventy\r\n"
                              "Content-Length: 0\r\n"
                              "\r\n";
    static const char big[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                              "Max-Forwards: 256\r\n"
                              "Content-Length: 0\r\n"
                              "\r\n";
    plan_t p;
    plan_start(&p, LIT(zero), 16);
    assert_int_equal(sip_edit_max_forwards(&p.e), -1);
    plan_start(&p, LIT(bad), 16);
    assert_int_equal(sip_edit_max_forwards(&p.e), -1);
    plan_start(&p, LIT(big), 16);
    assert_int_equal(sip_edit_max_forwards(&p.e), -1);
}

/* ---------------------------------------------------------------- a proxy's plan */

static void test_combined_out_of_order(void **state)
{
    (void)state;
    static const char via[] = "Via: SIP/2.0/TLS edge.example.com;branch=z9hG4bKe1\r\n";
    static const char rr[] = "Record-Route: <sip:edge.example.com;lr>\r\n";
    plan_t p;
    tmsg_t r;
    plan_start(&p, LIT(base_msg), 16);
    /* ops are not added in message order */
    assert_int_equal(sip_edit_max_forwards(&p.e), 69);
    assert_int_equal(sip_edit_drop(&p.e, H_SUBJECT), 0);
    assert_int_equal(sip_edit_insert(&p.e, 0, LIT(via)), 0);
    assert_int_equal(sip_edit_insert(&p.e, H_TO, LIT(rr)), 0);
    render_reparse(&p, &r);
    assert_int_equal(r.msg.nhdrs, H_COUNT + 1);
    assert_hdr(&r, 0, SIP_HDR_VIA, "SIP/2.0/TLS edge.example.com;branch=z9hG4bKe1");
    assert_hdr(&r, 1, SIP_HDR_VIA,
               "SIP/2.0/TLS proxy.example.com;branch=z9hG4bKp1 , SIP/2.0/TLS ua.example.com;"
               "branch=z9hG4bKu1");
    assert_hdr(&r, 2, SIP_HDR_VIA, "SIP/2.0/TCP second.example.com;branch=z9hG4bKs1");
    assert_hdr(&r, 3, SIP_HDR_MAX_FORWARDS, "69");
    assert_hdr(&r, 4, SIP_HDR_RECORD_ROUTE, "<sip:edge.example.com;lr>");
    assert_hdr(&r, 5, SIP_HDR_TO, "<sip:bob@example.com>");
    assert_hdr(&r, 6, SIP_HDR_FROM, "<sip:alice@example.com>;tag=a1");
    assert_hdr(&r, 7, SIP_HDR_CALL_ID, "c1@example.com");
    assert_hdr(&r, 8, SIP_HDR_CSEQ, "1 INVITE");
    assert_hdr(&r, 9, SIP_HDR_CONTENT_TYPE, "application/octet-stream");
    assert_hdr(&r, 10, SIP_HDR_CONTENT_LENGTH, "6");
    assert_slice(r.msg.ruri, "sip:bob@example.com");
    assert_body_intact(&r);
}

static void test_response_strip_top_via(void **state)
{
    (void)state;
    /* a proxy relaying a response removes its own (first) Via value */
    static const char m[] = "SIP/2.0 180 Ringing\r\n"
                            "Via: SIP/2.0/TLS edge.example.com;branch=z9hG4bKe1\r\n"
                            "Via: SIP/2.0/TLS ua.example.com;branch=z9hG4bKu1\r\n"
                            "CSeq: 1 INVITE\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    plan_t p;
    tmsg_t r;
    plan_start(&p, LIT(m), 16);
    assert_int_equal(sip_edit_drop_first_value(&p.e, 0), 0);
    render_reparse(&p, &r);
    assert_int_equal(r.msg.kind, SIP_MSG_RESPONSE);
    assert_int_equal(r.msg.status, 180);
    assert_int_equal(r.msg.nhdrs, 3);
    assert_hdr(&r, 0, SIP_HDR_VIA, "SIP/2.0/TLS ua.example.com;branch=z9hG4bKu1");
}

static void test_insert_and_drop_same_header_any_order(void **state)
{
    (void)state;
    /*
     * Inserting before header i and dropping header i do not overlap (the insertion point is
     * the start of the dropped range), and the result must not depend on the call order.
     */
    static const char line[] = "Record-Route: <sip:edge.example.com;lr>\r\n";
    plan_t p;
    tmsg_t r1, r2;

    plan_start(&p, LIT(base_msg), 16);
    assert_int_equal(sip_edit_insert(&p.e, H_TO, LIT(line)), 0);
    assert_int_equal(sip_edit_drop(&p.e, H_TO), 0);
    render_reparse(&p, &r1);

    plan_start(&p, LIT(base_msg), 16);
    assert_int_equal(sip_edit_drop(&p.e, H_TO), 0);
    assert_int_equal(sip_edit_insert(&p.e, H_TO, LIT(line)), 0);
    render_reparse(&p, &r2);

    assert_int_equal(r1.len, r2.len);
    assert_memory_equal(r1.buf, r2.buf, r1.len);
    assert_int_equal(r2.msg.nhdrs, H_COUNT);
    assert_hdr(&r2, H_TO, SIP_HDR_RECORD_ROUTE, "<sip:edge.example.com;lr>");
    assert_null(sip_msg_header_find(&r2.msg, SIP_HDR_TO));
    assert_body_intact(&r2);
}

/* ---------------------------------------------------------------- failures */

static void test_overlapping_ops(void **state)
{
    (void)state;
    static const char line[] = "Subject: replaced\r\n";
    plan_t p;
    struct iovec iov[40];
    size_t total;

    plan_start(&p, LIT(base_msg), 16);
    sip_edit_drop(&p.e, H_SUBJECT);
    sip_edit_replace(&p.e, H_SUBJECT, LIT(line));
    assert_int_equal(sip_edit_render(&p.e, iov, 40, &total), -1);

    plan_start(&p, LIT(base_msg), 16);
    sip_edit_drop(&p.e, H_TO);
    sip_edit_drop(&p.e, H_TO);
    assert_int_equal(sip_edit_render(&p.e, iov, 40, &total), -1);

    plan_start(&p, LIT(base_msg), 16);
    sip_edit_drop_first_value(&p.e, H_VIA2);
    sip_edit_drop(&p.e, H_VIA2);
    assert_int_equal(sip_edit_render(&p.e, iov, 40, &total), -1);
}

static void test_iovec_too_small(void **state)
{
    (void)state;
    static const char line[] = "X-Edge: added\r\n";
    plan_t p;
    struct iovec iov[40];
    size_t total;
    int n;

    plan_start(&p, LIT(base_msg), 16);
    assert_int_equal(sip_edit_drop(&p.e, H_TO), 0);
    n = sip_edit_render(&p.e, iov, 40, &total);
    /* dropping a middle header needs at least two entries (before, after) */
    assert_true(n >= 2);
    assert_int_equal(sip_edit_render(&p.e, iov, (size_t)n - 1, &total), -1);
    assert_int_equal(sip_edit_render(&p.e, iov, 1, &total), -1);
    assert_int_equal(sip_edit_render(&p.e, iov, 0, &total), -1);
    assert_int_equal(sip_edit_render(&p.e, iov, (size_t)n, &total), n);

    plan_start(&p, LIT(base_msg), 16);
    assert_int_equal(sip_edit_insert(&p.e, H_TO, LIT(line)), 0);
    n = sip_edit_render(&p.e, iov, 40, &total);
    /* before, the new line, after */
    assert_true(n >= 3);
    assert_int_equal(total, sizeof(base_msg) - 1 + sizeof(line) - 1);
    assert_int_equal(sip_edit_render(&p.e, iov, (size_t)n - 1, &total), -1);
    assert_int_equal(sip_edit_render(&p.e, iov, 2, &total), -1);
}

static void test_ops_array_full(void **state)
{
    (void)state;
    plan_t p;
    struct iovec iov[40];
    size_t total;
    plan_start(&p, LIT(base_msg), 1);
    assert_int_equal(sip_edit_drop(&p.e, H_TO), 0);
    sip_edit_drop(&p.e, H_FROM); /* does not fit */
    assert_true(p.e.overflow);
    assert_int_equal(sip_edit_render(&p.e, iov, 40, &total), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_plan),
        cmocka_unit_test(test_drop),
        cmocka_unit_test(test_drop_folded),
        cmocka_unit_test(test_drop_first_and_last),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_insert_before),
        cmocka_unit_test(test_insert_at_end),
        cmocka_unit_test(test_bad_index),
        cmocka_unit_test(test_drop_first_value_two_values),
        cmocka_unit_test(test_drop_first_value_three_values_folded),
        cmocka_unit_test(test_drop_first_value_one_value),
        cmocka_unit_test(test_max_forwards_decrement),
        cmocka_unit_test(test_max_forwards_leading_zeros_and_one),
        cmocka_unit_test(test_max_forwards_absent),
        cmocka_unit_test(test_max_forwards_zero_or_bad),
        cmocka_unit_test(test_combined_out_of_order),
        cmocka_unit_test(test_response_strip_top_via),
        cmocka_unit_test(test_insert_and_drop_same_header_any_order),
        cmocka_unit_test(test_overlapping_ops),
        cmocka_unit_test(test_iovec_too_small),
        cmocka_unit_test(test_ops_array_full),
    };
    return cmocka_run_group_tests(tests, NULL, heap_release);
}
