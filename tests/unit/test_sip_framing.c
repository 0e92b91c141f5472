/*
 * test_sip_framing.c - sip_parse as a stream framer: request and status lines, the end of the
 * header section, Content-Length (mandatory on streams; negative, non-numeric, overflowing and
 * duplicate values are framing errors), CRLFCRLF pings and CRLF pongs, pipelined messages, a
 * message split at every possible point and fed byte by byte with last_len, msg->need, the
 * header-count / size / line-length limits, bare CR or LF, non-framing errors that leave the
 * stream usable (msg->msg_len covers the bad message), version and status-code errors, and
 * bodies holding NUL and bare CR bytes.
 */
#include "sip_test_util.h"

/* ---------------------------------------------------------------- start lines */

static void test_request_line(void **state)
{
    (void)state;
    static const char m[] = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
                            "Via: SIP/2.0/TCP pc33.example.com;branch=z9hG4bK776asdhds\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_int_equal(t.msg.err, SIP_E_NONE);
    assert_int_equal(t.msg.kind, SIP_MSG_REQUEST);
    assert_slice(t.msg.method, "INVITE");
    assert_int_equal(t.msg.method_id, SIP_METHOD_INVITE);
    assert_slice(t.msg.ruri, "sip:bob@biloxi.example.com");
    assert_slice(t.msg.version, "SIP/2.0");
    assert_int_equal(t.msg.nhdrs, 2);
    assert_int_equal(t.msg.hdr_len, sizeof(m) - 1);
    assert_int_equal(t.msg.body_len, 0);
    assert_int_equal(t.msg.body.len, 0);
    assert_int_equal(t.msg.msg_len, sizeof(m) - 1);
}

static void test_request_line_unknown_method(void **state)
{
    (void)state;
    /* RFC 4475 3.1.1.5: RE%47IST%45R is a token, so an unknown (not REGISTER) method. */
    static const char m[] = "RE%47IST%45R sip:registrar.example.com SIP/2.0\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_int_equal(t.msg.kind, SIP_MSG_REQUEST);
    assert_slice(t.msg.method, "RE%47IST%45R");
    assert_int_equal(t.msg.method_id, SIP_METHOD_OTHER);
}

static void test_request_line_lowercase_version(void **state)
{
    (void)state;
    /* RFC 3261 7.1: "The SIP-Version string is case-insensitive". */
    static const char m[] = "OPTIONS sip:bob@example.com sip/2.0\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_int_equal(t.msg.kind, SIP_MSG_REQUEST);
    assert_slice(t.msg.version, "sip/2.0");
}

static void test_status_line_lowercase_version(void **state)
{
    (void)state;
    /* RFC 3261 7.1: the SIP-Version string is case-insensitive, in responses too. */
    static const char m[] = "sip/2.0 200 OK\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    int rc = TPARSE(&t, m);
    if (rc != (int)sizeof(m) - 1) {
        print_error("rc %d kind %d err %s\n", rc, t.msg.kind, sip_err_name(t.msg.err));
    }
    assert_int_equal(rc, sizeof(m) - 1);
    assert_int_equal(t.msg.kind, SIP_MSG_RESPONSE);
    assert_int_equal(t.msg.status, 200);
}

static void test_request_line_method_not_token(void **state)
{
    (void)state;
    static const char m[] = "INV@ITE sip:bob@example.com SIP/2.0\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), SIP_ERROR);
    assert_int_equal(t.msg.err, SIP_E_METHOD);
    assert_false(sip_err_is_framing(t.msg.err));
    assert_int_equal(t.msg.msg_len, sizeof(m) - 1);
}

static void test_request_line_missing_version(void **state)
{
    (void)state;
    /* RFC 4475 archive test.dat: a request line without SIP-Version is answered 400. */
    static const char m[] = "INVITE sip:bob@example.com\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), SIP_ERROR);
    assert_int_equal(sip_err_status(t.msg.err), 400);
}

static void test_status_line(void **state)
{
    (void)state;
    static const char m[] = "SIP/2.0 404 Not Found Here\r\n"
                            "Via: SIP/2.0/TCP pc33.example.com;branch=z9hG4bK776asdhds\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_int_equal(t.msg.kind, SIP_MSG_RESPONSE);
    assert_int_equal(t.msg.status, 404);
    assert_slice(t.msg.reason, "Not Found Here");
    assert_slice(t.msg.version, "SIP/2.0");
    assert_int_equal(t.msg.nhdrs, 2);
}

static void test_status_line_empty_reason(void **state)
{
    (void)state;
    /* RFC 4475 3.1.1.13: "SIP/2.0 100 " then CRLF; the reason phrase is empty. */
    static const char m[] = "SIP/2.0 100 \r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_int_equal(t.msg.kind, SIP_MSG_RESPONSE);
    assert_int_equal(t.msg.status, 100);
    assert_int_equal(t.msg.reason.len, 0);
}

static void test_status_line_utf8_reason(void **state)
{
    (void)state;
    /* RFC 4475 3.1.1.12: UTF-8 in the reason phrase is legal. */
    static const char m[] = "SIP/2.0 200 = 2**3 * 5**2 \xd0\xbd\xd0\xbe\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_int_equal(t.msg.status, 200);
    assert_slice(t.msg.reason, "= 2**3 * 5**2 \xd0\xbd\xd0\xbe");
}

static void test_status_line_control_in_reason(void **state)
{
    (void)state;
    static const char m[] = "SIP/2.0 200 O\x01K\r\n"
                            "Content-Length: 2\r\n"
                            "\r\n"
                            "hi";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), SIP_ERROR);
    assert_int_equal(t.msg.err, SIP_E_REASON);
    assert_false(sip_err_is_framing(t.msg.err));
    assert_int_equal(t.msg.msg_len, sizeof(m) - 1);
}

/* Status codes that are not three digits 100-699 (RFC 3261 7.2 and RFC 4475 3.1.2.19). */
static void test_status_code_not_three_digits(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "SIP/2.0 20 OK\r\n",   "SIP/2.0 2000 OK\r\n",  "SIP/2.0 4294967301 Huge\r\n",
        "SIP/2.0 099 Low\r\n", "SIP/2.0 700 High\r\n", "SIP/2.0 2a0 OK\r\n",
        "SIP/2.0 -20 OK\r\n",  "SIP/2.0 +200 OK\r\n",
    };
    static const char rest[] = "Via: SIP/2.0/TCP h.example.com;branch=z9hG4bK1\r\n"
                               "Content-Length: 3\r\n"
                               "\r\n"
                               "abc";
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        char buf[256];
        int n = snprintf(buf, sizeof(buf), "%s%s", lines[i], rest);
        tmsg_t t;
        assert_int_equal(tmsg_parse(&t, buf, (size_t)n), SIP_ERROR);
        if (t.msg.err != SIP_E_STATUS_CODE) {
            print_error("status line %s: err %s\n", lines[i], sip_err_name(t.msg.err));
        }
        assert_int_equal(t.msg.err, SIP_E_STATUS_CODE);
        assert_false(sip_err_is_framing(t.msg.err));
        assert_int_equal(t.msg.msg_len, (size_t)n);
    }
}

static void test_bad_version_request(void **state)
{
    (void)state;
    /* RFC 4475 3.1.2.16: SIP/7.0 is answered 505, and the stream stays framed. */
    static const char m[] = "OPTIONS sip:t.watson@example.org SIP/7.0\r\n"
                            "Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\r\n"
                            "Content-Length: 5\r\n"
                            "\r\n"
                            "hello";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), SIP_ERROR);
    assert_int_equal(t.msg.err, SIP_E_VERSION);
    assert_int_equal(sip_err_status(t.msg.err), 505);
    assert_false(sip_err_is_framing(t.msg.err));
    assert_int_equal(t.msg.kind, SIP_MSG_REQUEST);
    assert_int_equal(t.msg.body_len, 5);
    assert_int_equal(t.msg.msg_len, sizeof(m) - 1);
}

static void test_bad_version_response(void **state)
{
    (void)state;
    static const char m[] = "SIP/7.0 200 OK\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), SIP_ERROR);
    assert_int_equal(t.msg.err, SIP_E_VERSION);
    assert_int_equal(t.msg.msg_len, sizeof(m) - 1);
}

/* ---------------------------------------------------------------- end of the header section */

static void test_header_end_and_body(void **state)
{
    (void)state;
    /* The body itself contains CRLFCRLF: only Content-Length says where the message ends. */
    static const char m[] = "MESSAGE sip:bob@example.com SIP/2.0\r\n"
                            "Content-Type: text/plain\r\n"
                            "Content-Length: 10\r\n"
                            "\r\n"
                            "ab\r\n\r\ncdef";
    static const char hdr_part[] = "MESSAGE sip:bob@example.com SIP/2.0\r\n"
                                   "Content-Type: text/plain\r\n"
                                   "Content-Length: 10\r\n"
                                   "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_int_equal(t.msg.hdr_len, sizeof(hdr_part) - 1);
    assert_int_equal(t.msg.body_len, 10);
    assert_slice(t.msg.body, "ab\r\n\r\ncdef");
    assert_ptr_equal(t.msg.body.p, t.buf + t.msg.hdr_len);
    assert_int_equal(t.msg.msg_len, sizeof(m) - 1);
}

static void test_body_with_nul_and_bare_cr(void **state)
{
    (void)state;
    /* RFC 4475 3.1.1.11: binary bodies (NUL, bare CR, bare LF) are framed by length only. */
    static const char m[] = "MESSAGE sip:bob@example.com SIP/2.0\r\n"
                            "Content-Type: application/octet-stream\r\n"
                            "Content-Length: 9\r\n"
                            "\r\n"
                            "\0\r\0x\ny\r\0\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_int_equal(t.msg.body_len, 9);
    assert_slice_lit(t.msg.body, "\0\r\0x\ny\r\0\n");
}

static void test_trailing_bytes_not_consumed(void **state)
{
    (void)state;
    static const char m[] = "BYE sip:bob@example.com SIP/2.0\r\n"
                            "Content-Length: 2\r\n"
                            "\r\n"
                            "okGARBAGE";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1 - 7);
    assert_slice(t.msg.body, "ok");
}

/* ---------------------------------------------------------------- Content-Length */

static void expect_framing_error(const char *m, size_t n, sip_err_t err)
{
    tmsg_t t;
    assert_int_equal(tmsg_parse(&t, m, n), SIP_ERROR);
    if (t.msg.err != err) {
        print_error("expected %s, got %s\n", sip_err_name(err), sip_err_name(t.msg.err));
    }
    assert_int_equal(t.msg.err, err);
    assert_true(sip_err_is_framing(t.msg.err));
}

static void test_cl_missing(void **state)
{
    (void)state;
    /* RFC 3261 18.3: Content-Length MUST be used on stream transports. */
    static const char m[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                            "Via: SIP/2.0/TCP h.example.com;branch=z9hG4bK1\r\n"
                            "\r\n"
                            "v=0\r\n";
    expect_framing_error(LIT(m), SIP_E_CL_MISSING);
}

static void test_cl_negative(void **state)
{
    (void)state;
    /* RFC 4475 3.1.2.3. */
    static const char m[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                            "Content-Length: -999\r\n"
                            "\r\n"
                            "v=0\r\n";
    expect_framing_error(LIT(m), SIP_E_CL_BAD);
}

static void test_cl_non_numeric(void **state)
{
    (void)state;
    static const char *const values[] = {"five", "+5", "5a", "0x10", "1 2", "", "5.0"};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char buf[256];
        int n = snprintf(buf, sizeof(buf),
                         "INVITE sip:bob@example.com SIP/2.0\r\n"
                         "Content-Length: %s\r\n"
                         "\r\n"
                         "hello",
                         values[i]);
        expect_framing_error(buf, (size_t)n, SIP_E_CL_BAD);
    }
}

static void test_cl_overflow(void **state)
{
    (void)state;
    /*
     * Digits only, but beyond size_t (and beyond any size the framer would buffer): the stream
     * is unframed either way; the value is a decimal number, so the defect is its size (513).
     */
    static const char m[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                            "Content-Length: 99999999999999999999999999\r\n"
                            "\r\n";
    expect_framing_error(LIT(m), SIP_E_TOO_LARGE);
    static const char m2[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                             "Content-Length: 18446744073709551616\r\n"
                             "\r\n";
    expect_framing_error(LIT(m2), SIP_E_TOO_LARGE);
    /* overflowing digits followed by junk are still not a number */
    static const char m3[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                             "Content-Length: 18446744073709551616x\r\n"
                             "\r\n";
    expect_framing_error(LIT(m3), SIP_E_CL_BAD);
}

static void test_cl_huge_is_too_large(void **state)
{
    (void)state;
    /* a well-formed decimal that fits a size_t is not "bad", it is too large (513) */
    static const char m[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                            "Content-Length: 10000000000000\r\n"
                            "\r\n";
    expect_framing_error(LIT(m), SIP_E_TOO_LARGE);
}

static void test_cl_duplicate(void **state)
{
    (void)state;
    /* RFC 4475 3.3.9: two Content-Length values; framing is unknowable. */
    static const char m[] = "MESSAGE sip:bob@example.com SIP/2.0\r\n"
                            "Content-Length: 13\r\n"
                            "Content-Type: text/plain\r\n"
                            "Content-Length: 5\r\n"
                            "\r\n"
                            "Hello, world!";
    expect_framing_error(LIT(m), SIP_E_CL_MULTIPLE);
}

static void test_cl_duplicate_compact_and_equal(void **state)
{
    (void)state;
    /* "l" is the same header; the module rejects any second Content-Length line. */
    static const char m[] = "MESSAGE sip:bob@example.com SIP/2.0\r\n"
                            "l: 5\r\n"
                            "Content-Length: 5\r\n"
                            "\r\n"
                            "Hello";
    expect_framing_error(LIT(m), SIP_E_CL_MULTIPLE);
}

static void test_cl_with_spaces_and_compact(void **state)
{
    (void)state;
    static const char m[] = "MESSAGE sip:bob@example.com SIP/2.0\r\n"
                            "l   :    0005   \r\n"
                            "\r\n"
                            "Hello";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_int_equal(t.msg.body_len, 5);
    assert_slice(t.msg.body, "Hello");
}

/* ---------------------------------------------------------------- keepalives */

static void test_ping(void **state)
{
    (void)state;
    tmsg_t t;
    assert_int_equal(tmsg_parse(&t, LIT("\r\n\r\n")), 4);
    assert_int_equal(t.msg.kind, SIP_MSG_PING);
    /* A ping followed by more data still consumes exactly 4 bytes. */
    assert_int_equal(tmsg_parse(&t, LIT("\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\n")), 4);
    assert_int_equal(t.msg.kind, SIP_MSG_PING);
    assert_int_equal(tmsg_parse(&t, LIT("\r\n\r\n\r\n")), 4);
    assert_int_equal(t.msg.kind, SIP_MSG_PING);
}

static void test_pong(void **state)
{
    (void)state;
    tmsg_t t;
    assert_int_equal(tmsg_parse(&t, LIT("\r\nSIP/2.0 200 OK\r\n")), 2);
    assert_int_equal(t.msg.kind, SIP_MSG_PONG);
    /*
     * A lone CRLF at the end of the buffer is a pong (RFC 5626 4.4.1). A framer may also wait
     * for one more byte to tell it from the first half of a ping; both are accepted here.
     */
    int rc = tmsg_parse(&t, LIT("\r\n"));
    assert_true(rc == 2 || rc == SIP_INCOMPLETE);
    if (rc == 2) {
        assert_int_equal(t.msg.kind, SIP_MSG_PONG);
    }
}

static void test_keepalive_prefixes_incomplete(void **state)
{
    (void)state;
    tmsg_t t;
    assert_int_equal(tmsg_parse(&t, "", 0), SIP_INCOMPLETE);
    assert_int_equal(tmsg_parse(&t, LIT("\r")), SIP_INCOMPLETE);
    assert_int_equal(tmsg_parse(&t, LIT("\r\n\r")), SIP_INCOMPLETE);
}

/* ---------------------------------------------------------------- pipelining */

static void test_pipelined(void **state)
{
    (void)state;
    static const char m1[] = "REGISTER sip:example.com SIP/2.0\r\n"
                             "Content-Length: 0\r\n"
                             "\r\n";
    static const char m2[] = "MESSAGE sip:bob@example.com SIP/2.0\r\n"
                             "Content-Length: 4\r\n"
                             "\r\n"
                             "1234";
    static const char all[] = "REGISTER sip:example.com SIP/2.0\r\n"
                              "Content-Length: 0\r\n"
                              "\r\n"
                              "\r\n\r\n"
                              "MESSAGE sip:bob@example.com SIP/2.0\r\n"
                              "Content-Length: 4\r\n"
                              "\r\n"
                              "1234"
                              "\r\n"
                              "SIP/2.0 200 OK\r\n"
                              "Content-Length: 0\r\n"
                              "\r\n";
    const char *buf = heap_copy(all, sizeof(all) - 1);
    size_t len = sizeof(all) - 1, off = 0;
    sip_hdr_t hdrs[16];
    sip_msg_t msg;

    sip_msg_init(&msg, hdrs, 16);
    assert_int_equal(sip_parse(buf, len, &msg, 0), sizeof(m1) - 1);
    assert_int_equal(msg.kind, SIP_MSG_REQUEST);
    assert_int_equal(msg.method_id, SIP_METHOD_REGISTER);
    off += sizeof(m1) - 1;

    sip_msg_init(&msg, hdrs, 16);
    assert_int_equal(sip_parse(buf + off, len - off, &msg, 0), 4);
    assert_int_equal(msg.kind, SIP_MSG_PING);
    off += 4;

    sip_msg_init(&msg, hdrs, 16);
    assert_int_equal(sip_parse(buf + off, len - off, &msg, 0), sizeof(m2) - 1);
    assert_int_equal(msg.method_id, SIP_METHOD_MESSAGE);
    assert_slice(msg.body, "1234");
    off += sizeof(m2) - 1;

    sip_msg_init(&msg, hdrs, 16);
    assert_int_equal(sip_parse(buf + off, len - off, &msg, 0), 2);
    assert_int_equal(msg.kind, SIP_MSG_PONG);
    off += 2;

    sip_msg_init(&msg, hdrs, 16);
    assert_int_equal(sip_parse(buf + off, len - off, &msg, 0), (int)(len - off));
    assert_int_equal(msg.kind, SIP_MSG_RESPONSE);
    assert_int_equal(msg.status, 200);
}

/* ---------------------------------------------------------------- split reads */

static const char split_msg_invite[] =
    "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n"
    "TO :\r\n"
    " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n"
    "from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n"
    "  ;\r\n"
    "  tag = 98asjd8\r\n"
    "MaX-fOrWaRdS: 0068\r\n"
    "Call-ID: wsinv.ndaksdj@192.0.2.1\r\n"
    "Content-Length   : 13\r\n"
    "cseq: 0009\r\n"
    "  INVITE\r\n"
    "Via  : SIP  /   2.0\r\n"
    " /UDP\r\n"
    "    192.0.2.2;branch=390skdjuw\r\n"
    "s :\r\n"
    "\r\n"
    "v=0\r\n\r\n\r\nxy\r\n";

static const char split_msg_response[] = "SIP/2.0 180 Ringing\r\n"
                                         "Via: SIP/2.0/TLS a.example.com;branch=z9hG4bK1\r\n"
                                         "l: 0\r\n"
                                         "\r\n";

static const char split_msg_binary[] = "MESSAGE sip:b@example.com SIP/2.0\r\n"
                                       "c: application/octet-stream\r\n"
                                       "Content-Length: 6\r\n"
                                       "\r\n"
                                       "\r\0\n\r\n\r";

/* Offset of p in buf, or -1 for NULL (no pointer arithmetic on NULL). */
static long off_in(const char *p, const char *buf)
{
    return p == NULL ? -1L : (long)(p - buf);
}

/* Two parses of the same bytes (in buffers abuf and bbuf) give the same index. */
static void assert_same_index(const sip_msg_t *a, const char *abuf, const sip_msg_t *b,
                              const char *bbuf)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->nhdrs, b->nhdrs);
    assert_int_equal(a->hdr_len, b->hdr_len);
    assert_int_equal(a->body_len, b->body_len);
    assert_int_equal(a->msg_len, b->msg_len);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->method_id, b->method_id);
    assert_int_equal(off_in(a->method.p, abuf), off_in(b->method.p, bbuf));
    assert_int_equal(a->method.len, b->method.len);
    assert_int_equal(off_in(a->ruri.p, abuf), off_in(b->ruri.p, bbuf));
    assert_int_equal(a->ruri.len, b->ruri.len);
    assert_int_equal(off_in(a->reason.p, abuf), off_in(b->reason.p, bbuf));
    assert_int_equal(a->reason.len, b->reason.len);
    assert_int_equal(a->body.len, b->body.len);
    if (a->body.len) {
        assert_int_equal(off_in(a->body.p, abuf), off_in(b->body.p, bbuf));
    }
    for (size_t i = 0; i < a->nhdrs; i++) {
        const sip_hdr_t *x = &a->hdrs[i], *y = &b->hdrs[i];
        assert_int_equal(x->id, y->id);
        assert_int_equal(x->folded, y->folded);
        assert_int_equal(off_in(x->name.p, abuf), off_in(y->name.p, bbuf));
        assert_int_equal(x->name.len, y->name.len);
        assert_int_equal(x->value.len, y->value.len);
        if (x->value.len) {
            assert_int_equal(off_in(x->value.p, abuf), off_in(y->value.p, bbuf));
        }
        assert_int_equal(off_in(x->raw.p, abuf), off_in(y->raw.p, bbuf));
        assert_int_equal(x->raw.len, y->raw.len);
    }
    for (int id = 0; id < SIP_HDR__COUNT; id++) {
        assert_int_equal(a->first[id], b->first[id]);
        assert_int_equal(a->count[id], b->count[id]);
    }
}

static void check_every_split(const char *m, size_t n)
{
    tmsg_t full;
    assert_int_equal(tmsg_parse(&full, m, n), (int)n);
    for (size_t k = 0; k < n; k++) {
        tmsg_t part;
        int rc = tmsg_parse(&part, m, k);
        if (rc != SIP_INCOMPLETE) {
            print_error("prefix of %zu/%zu bytes: rc %d err %s\n", k, n, rc,
                        sip_err_name(part.msg.err));
        }
        assert_int_equal(rc, SIP_INCOMPLETE);
        /* need is unknown (0) until the header section is complete, then the full length */
        assert_int_equal(part.msg.need, k >= full.msg.hdr_len ? n : 0);
    }
    tmsg_t again;
    assert_int_equal(tmsg_parse(&again, m, n), (int)n);
    assert_same_index(&full.msg, full.buf, &again.msg, again.buf);
}

static void test_split_every_point(void **state)
{
    (void)state;
    check_every_split(LIT(split_msg_invite));
    check_every_split(LIT(split_msg_response));
    check_every_split(LIT(split_msg_binary));
}

/* Feed a message growing in one buffer, keeping msg between calls and passing last_len. */
static void feed_in_steps(const char *m, size_t n, size_t step)
{
    tmsg_t full;
    assert_int_equal(tmsg_parse(&full, m, n), (int)n);

    const char *buf = heap_copy(m, n);
    sip_hdr_t hdrs[TEST_HDRS_CAP];
    sip_msg_t msg;
    size_t last = 0;
    size_t len = 0;
    int rc;
    sip_msg_init(&msg, hdrs, TEST_HDRS_CAP);
    for (;;) {
        len = len + step < n ? len + step : n;
        rc = sip_parse(buf, len, &msg, last);
        if (len == n) {
            break;
        }
        if (rc != SIP_INCOMPLETE) {
            print_error("step %zu, %zu/%zu bytes: rc %d err %s\n", step, len, n, rc,
                        sip_err_name(msg.err));
        }
        assert_int_equal(rc, SIP_INCOMPLETE);
        last = len;
    }
    assert_int_equal(rc, (int)n);
    assert_same_index(&full.msg, full.buf, &msg, buf);
}

static void test_byte_by_byte_last_len(void **state)
{
    (void)state;
    feed_in_steps(LIT(split_msg_invite), 1);
    feed_in_steps(LIT(split_msg_response), 1);
    feed_in_steps(LIT(split_msg_binary), 1);
    feed_in_steps(LIT(split_msg_invite), 7);
    feed_in_steps(LIT(split_msg_invite), 64);
}

/* Parse m with the given limits into t (exact-size heap copy of the first k bytes). */
static int parse_limited(tmsg_t *t, const char *m, size_t k, size_t max_line, size_t max_size)
{
    t->buf = heap_copy(m, k);
    t->len = k;
    sip_msg_init(&t->msg, t->hdrs, TEST_HDRS_CAP);
    t->msg.max_line = max_line;
    t->msg.max_size = max_size;
    t->rc = sip_parse(t->buf, k, &t->msg, 0);
    return t->rc;
}

/*
 * A message accepted whole under some limits must not be rejected when it arrives in pieces
 * under the same limits. The limits are the tightest the whole message passes: the smallest
 * max_line (found by search, so whatever way lines are measured) and max_size = its length.
 */
static void check_every_split_tight(const char *m, size_t n)
{
    tmsg_t t;
    size_t ml = n;
    while (ml > 1 && parse_limited(&t, m, n, ml - 1, n) == (int)n) {
        ml--;
    }
    assert_int_equal(parse_limited(&t, m, n, ml, n), (int)n);
    for (size_t k = 0; k < n; k++) {
        int rc = parse_limited(&t, m, k, ml, n);
        if (rc != SIP_INCOMPLETE) {
            print_error("max_line %zu max_size %zu, prefix %zu/%zu: rc %d err %s\n", ml, n, k, n,
                        rc, sip_err_name(t.msg.err));
        }
        assert_int_equal(rc, SIP_INCOMPLETE);
    }
}

static void test_split_every_point_tight_limits(void **state)
{
    (void)state;
    /* the start line is the longest line */
    static const char long_start[] =
        "INVITE sip:a-long-request-uri-user@chair-dnrc.example.com;unknownparam SIP/2.0\r\n"
        "Call-ID: a@b\r\n"
        "Content-Length: 3\r\n"
        "\r\n"
        "abc";
    /* a header line is the longest line */
    static const char long_header[] =
        "INVITE sip:a@b SIP/2.0\r\n"
        "Subject: a rather long subject line, longer than every other line here\r\n"
        "Content-Length: 0\r\n"
        "\r\n";
    check_every_split_tight(LIT(split_msg_invite));
    check_every_split_tight(LIT(long_start));
    check_every_split_tight(LIT(long_header));
}

/*
 * last_len only saves rescanning: feeding bytes one at a time with last_len must end with the
 * same result as one parse of the whole buffer, for bad input as well as good.
 */
static void check_incremental_matches_fresh(const char *m, size_t n, size_t max_line)
{
    tmsg_t fresh;
    const char *buf = heap_copy(m, n);
    sip_hdr_t hdrs[TEST_HDRS_CAP];
    sip_msg_t msg;
    size_t last = 0;
    int rc = SIP_INCOMPLETE;

    parse_limited(&fresh, m, n, max_line, SIP_DEFAULT_MAX_SIZE);
    sip_msg_init(&msg, hdrs, TEST_HDRS_CAP);
    msg.max_line = max_line;
    for (size_t len = 1; len <= n && rc == SIP_INCOMPLETE; len++) {
        rc = sip_parse(buf, len, &msg, last);
        last = len;
    }
    if (rc != fresh.rc || (rc == SIP_ERROR && msg.err != fresh.msg.err)) {
        print_error("incremental: rc %d err %s; whole buffer: rc %d err %s\n", rc,
                    sip_err_name(msg.err), fresh.rc, sip_err_name(fresh.msg.err));
    }
    assert_int_equal(rc, fresh.rc);
    if (rc == SIP_ERROR) {
        assert_int_equal(msg.err, fresh.msg.err);
    }
}

static void test_incremental_matches_fresh_on_bad_input(void **state)
{
    (void)state;
    /* LF line ends (the RFC 5118 .dat form): there will never be a CRLFCRLF */
    static const char lf_only[] = "OPTIONS sip:b@example.com SIP/2.0\n"
                                  "Via: SIP/2.0/TCP h.example.com;branch=z9hG4bK1\n"
                                  "Content-Length: 0\n"
                                  "\n";
    /* a bare LF in a header line, and the peer then waits for an answer */
    static const char bare_lf[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                                  "Via: SIP/2.0/TCP h.example.com;branch=z9hG4bK1\n"
                                  "Content-Length: 0\r\n";
    /* a header line longer than max_line (40) that has not ended yet */
    static const char long_line[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                                    "Subject: 0123456789012345678901234567890123456789012345";
    static const char good[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                               "Content-Length: 0\r\n"
                               "\r\n";
    check_incremental_matches_fresh(LIT(good), SIP_DEFAULT_MAX_LINE);
    check_incremental_matches_fresh(LIT(lf_only), SIP_DEFAULT_MAX_LINE);
    check_incremental_matches_fresh(LIT(bare_lf), SIP_DEFAULT_MAX_LINE);
    check_incremental_matches_fresh(LIT(long_line), 40);
}

static void test_need_on_incomplete_body(void **state)
{
    (void)state;
    static const char hdr[] = "MESSAGE sip:bob@example.com SIP/2.0\r\n"
                              "Content-Length: 10\r\n"
                              "\r\n";
    static const char m[] = "MESSAGE sip:bob@example.com SIP/2.0\r\n"
                            "Content-Length: 10\r\n"
                            "\r\n"
                            "0123";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), SIP_INCOMPLETE);
    assert_int_equal(t.msg.need, sizeof(hdr) - 1 + 10);
    assert_int_equal(TPARSE(&t, hdr), SIP_INCOMPLETE);
    assert_int_equal(t.msg.need, sizeof(hdr) - 1 + 10);
    /* header section not complete yet: need unknown */
    assert_int_equal(tmsg_parse(&t, hdr, sizeof(hdr) - 3), SIP_INCOMPLETE);
    assert_int_equal(t.msg.need, 0);
}

/* ---------------------------------------------------------------- limits */

static void test_limits_defaults(void **state)
{
    (void)state;
    sip_hdr_t hdrs[3];
    sip_msg_t msg;
    sip_msg_init(&msg, hdrs, 3);
    assert_ptr_equal(msg.hdrs, hdrs);
    assert_int_equal(msg.hdrs_cap, 3);
    assert_int_equal(msg.max_size, SIP_DEFAULT_MAX_SIZE);
    assert_int_equal(msg.max_line, SIP_DEFAULT_MAX_LINE);
}

static void test_too_many_headers(void **state)
{
    (void)state;
    static const char three[] = "OPTIONS sip:bob@example.com SIP/2.0\r\n"
                                "Subject: a\r\n"
                                "Subject: b\r\n"
                                "Content-Length: 0\r\n"
                                "\r\n";
    static const char four[] = "OPTIONS sip:bob@example.com SIP/2.0\r\n"
                               "Subject: a\r\n"
                               "Subject: b\r\n"
                               "Subject: c\r\n"
                               "Content-Length: 0\r\n"
                               "\r\n";
    tmsg_t t;
    assert_int_equal(tmsg_parse_cap(&t, LIT(three), 3), sizeof(three) - 1);
    assert_int_equal(t.msg.nhdrs, 3);
    assert_int_equal(tmsg_parse_cap(&t, LIT(four), 3), SIP_ERROR);
    assert_int_equal(t.msg.err, SIP_E_TOO_MANY_HEADERS);
}

static void test_too_large_message(void **state)
{
    (void)state;
    /* 57 bytes of header section and 40 bytes of body: 97 bytes. */
    static const char m[] = "MESSAGE sip:b@example.com SIP/2.0\r\n" /* 35 */
                            "Content-Length: 40\r\n"                /* 20 */
                            "\r\n"                                  /* 2 */
                            "0123456789012345678901234567890123456789";
    tmsg_t t;
    assert_int_equal(sizeof(m) - 1, 97);
    t.buf = heap_copy(m, sizeof(m) - 1);
    sip_msg_init(&t.msg, t.hdrs, TEST_HDRS_CAP);
    t.msg.max_size = 97;
    assert_int_equal(sip_parse(t.buf, 97, &t.msg, 0), 97);

    sip_msg_init(&t.msg, t.hdrs, TEST_HDRS_CAP);
    t.msg.max_size = 96;
    assert_int_equal(sip_parse(t.buf, 97, &t.msg, 0), SIP_ERROR);
    assert_int_equal(t.msg.err, SIP_E_TOO_LARGE);
    assert_true(sip_err_is_framing(t.msg.err));
    assert_int_equal(sip_err_status(t.msg.err), 513);

    /* Known to be too large as soon as the header section is complete: do not wait. */
    sip_msg_init(&t.msg, t.hdrs, TEST_HDRS_CAP);
    t.msg.max_size = 96;
    assert_int_equal(sip_parse(t.buf, 60, &t.msg, 0), SIP_ERROR);
    assert_int_equal(t.msg.err, SIP_E_TOO_LARGE);
}

static void test_too_large_header_section(void **state)
{
    (void)state;
    /* No empty line within max_size bytes: an error, not an endless SIP_INCOMPLETE. */
    char buf[400];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "OPTIONS sip:b@example.com SIP/2.0\r\n");
    while (n + 20 < sizeof(buf)) {
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-Pad: 0123456789\r\n");
    }
    tmsg_t t;
    t.buf = heap_copy(buf, n);
    sip_msg_init(&t.msg, t.hdrs, TEST_HDRS_CAP);
    t.msg.max_size = 200;
    assert_int_equal(sip_parse(t.buf, n, &t.msg, 0), SIP_ERROR);
    assert_int_equal(t.msg.err, SIP_E_TOO_LARGE);
    assert_true(sip_err_is_framing(t.msg.err));
}

static void test_line_too_long(void **state)
{
    (void)state;
    static const char ok[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                             "Subject: short\r\n"
                             "Content-Length: 0\r\n"
                             "\r\n";
    static const char bad[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                              "Subject: 0123456789012345678901234567890123456789012345678901\r\n"
                              "Content-Length: 0\r\n"
                              "\r\n";
    static const char bad_folded[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                                     "Subject: 0123456789\r\n"
                                     " 0123456789\r\n"
                                     " 0123456789\r\n"
                                     " 0123456789\r\n"
                                     " 0123456789\r\n"
                                     "Content-Length: 0\r\n"
                                     "\r\n";
    tmsg_t t;
    t.buf = heap_copy(ok, sizeof(ok) - 1);
    sip_msg_init(&t.msg, t.hdrs, TEST_HDRS_CAP);
    t.msg.max_line = 40;
    assert_int_equal(sip_parse(t.buf, sizeof(ok) - 1, &t.msg, 0), sizeof(ok) - 1);

    t.buf = heap_copy(bad, sizeof(bad) - 1);
    sip_msg_init(&t.msg, t.hdrs, TEST_HDRS_CAP);
    t.msg.max_line = 40;
    assert_int_equal(sip_parse(t.buf, sizeof(bad) - 1, &t.msg, 0), SIP_ERROR);
    assert_int_equal(t.msg.err, SIP_E_LINE_TOO_LONG);

    /* The limit is for one header with its folds, not for one physical line. */
    t.buf = heap_copy(bad_folded, sizeof(bad_folded) - 1);
    sip_msg_init(&t.msg, t.hdrs, TEST_HDRS_CAP);
    t.msg.max_line = 40;
    assert_int_equal(sip_parse(t.buf, sizeof(bad_folded) - 1, &t.msg, 0), SIP_ERROR);
    assert_int_equal(t.msg.err, SIP_E_LINE_TOO_LONG);
}

/* ---------------------------------------------------------------- bare CR / LF */

static void test_bare_lf(void **state)
{
    (void)state;
    static const char m[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                            "Via: SIP/2.0/TCP h.example.com;branch=z9hG4bK1\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    expect_framing_error(LIT(m), SIP_E_BARE_CRLF);
}

static void test_bare_cr(void **state)
{
    (void)state;
    static const char m[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                            "Subject: one\rtwo\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    expect_framing_error(LIT(m), SIP_E_BARE_CRLF);
}

static void test_lf_only_message(void **state)
{
    (void)state;
    /* The RFC 5118 .dat form (LF line ends) never has CRLFCRLF: it must not wait forever. */
    static const char m[] = "OPTIONS sip:b@example.com SIP/2.0\n"
                            "Via: SIP/2.0/TCP h.example.com;branch=z9hG4bK1\n"
                            "Content-Length: 0\n"
                            "\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), SIP_ERROR);
    assert_true(sip_err_is_framing(t.msg.err));
}

/* ---------------------------------------------------------------- non-framing errors */

static void test_header_without_colon(void **state)
{
    (void)state;
    static const char bad[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                              "Via: SIP/2.0/TCP h.example.com;branch=z9hG4bK1\r\n"
                              "Foobar roobar\r\n"
                              "Content-Length: 4\r\n"
                              "\r\n"
                              "abcd";
    static const char both[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                               "Via: SIP/2.0/TCP h.example.com;branch=z9hG4bK1\r\n"
                               "Foobar roobar\r\n"
                               "Content-Length: 4\r\n"
                               "\r\n"
                               "abcd"
                               "BYE sip:b@example.com SIP/2.0\r\n"
                               "Content-Length: 0\r\n"
                               "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, both), SIP_ERROR);
    assert_int_equal(t.msg.err, SIP_E_HEADER_COLON);
    assert_false(sip_err_is_framing(t.msg.err));
    assert_int_equal(t.msg.kind, SIP_MSG_REQUEST);
    assert_int_equal(t.msg.body_len, 4);
    assert_int_equal(t.msg.msg_len, sizeof(bad) - 1);
    assert_int_equal(t.msg.hdr_len, sizeof(bad) - 1 - 4);

    /* the stream carries on after msg_len */
    sip_hdr_t hdrs[8];
    sip_msg_t next;
    sip_msg_init(&next, hdrs, 8);
    size_t off = t.msg.msg_len;
    assert_int_equal(sip_parse(t.buf + off, t.len - off, &next, 0), (int)(t.len - off));
    assert_int_equal(next.method_id, SIP_METHOD_BYE);
}

static void test_header_name_not_token(void **state)
{
    (void)state;
    static const char m[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                            "Fo@o: bar\r\n"
                            "Content-Length: 2\r\n"
                            "\r\n"
                            "hi";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), SIP_ERROR);
    assert_int_equal(t.msg.err, SIP_E_HEADER_NAME);
    assert_false(sip_err_is_framing(t.msg.err));
    assert_int_equal(t.msg.msg_len, sizeof(m) - 1);
}

static void test_leading_fold(void **state)
{
    (void)state;
    static const char m[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                            " Subject: folded onto the start line?\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), SIP_ERROR);
    assert_int_equal(t.msg.err, SIP_E_LEADING_FOLD);
}

static void test_non_framing_error_then_index(void **state)
{
    (void)state;
    /* After a non-framing error the index is filled in as far as it goes. */
    static const char m[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                            "Call-ID: abc@example.com\r\n"
                            "Oops no colon here\r\n"
                            "CSeq: 1 OPTIONS\r\n"
                            "Content-Length: 3\r\n"
                            "\r\n"
                            "xyz";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), SIP_ERROR);
    assert_int_equal(t.msg.err, SIP_E_HEADER_COLON);
    assert_int_equal(t.msg.msg_len, sizeof(m) - 1);
    assert_int_equal(t.msg.body_len, 3);
    const sip_hdr_t *h = sip_msg_header_find(&t.msg, SIP_HDR_CALL_ID);
    assert_non_null(h);
    assert_slice(h->value, "abc@example.com");
}

static void test_hdrs_cap_beyond_first_index(void **state)
{
    (void)state;
    /*
     * msg->first[] holds int16_t indexes: a caller-supplied hdrs_cap above INT16_MAX must not
     * let a header index wrap negative (which makes Content-Length look absent or, worse, be
     * read from before the array). Either the message parses with Content-Length found, or
     * the parser refuses it with SIP_E_TOO_MANY_HEADERS.
     */
    enum { N = 33000, CAP = 40000 };
    size_t cap = 64 + (size_t)N * 8 + 64, n = 0;
    char *buf = malloc(cap);
    sip_hdr_t *hdrs = malloc(CAP * sizeof(*hdrs));
    sip_msg_t msg;
    assert_non_null(buf);
    assert_non_null(hdrs);
    n += (size_t)snprintf(buf + n, cap - n, "OPTIONS sip:b@example.com SIP/2.0\r\n");
    for (int i = 0; i < N; i++) {
        n += (size_t)snprintf(buf + n, cap - n, "X-A: 1\r\n");
    }
    n += (size_t)snprintf(buf + n, cap - n, "Content-Length: 0\r\n\r\n");
    sip_msg_init(&msg, hdrs, CAP);
    msg.max_size = 1 << 20;
    int rc = sip_parse(buf, n, &msg, 0);
    if (rc == SIP_ERROR) {
        assert_int_equal(msg.err, SIP_E_TOO_MANY_HEADERS);
    } else {
        assert_int_equal(rc, (int)n);
        const sip_hdr_t *h = sip_msg_header_find(&msg, SIP_HDR_CONTENT_LENGTH);
        assert_non_null(h);
        assert_slice(h->value, "0");
    }
    free(hdrs);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_line),
        cmocka_unit_test(test_request_line_unknown_method),
        cmocka_unit_test(test_request_line_lowercase_version),
        cmocka_unit_test(test_status_line_lowercase_version),
        cmocka_unit_test(test_request_line_method_not_token),
        cmocka_unit_test(test_request_line_missing_version),
        cmocka_unit_test(test_status_line),
        cmocka_unit_test(test_status_line_empty_reason),
        cmocka_unit_test(test_status_line_utf8_reason),
        cmocka_unit_test(test_status_line_control_in_reason),
        cmocka_unit_test(test_status_code_not_three_digits),
        cmocka_unit_test(test_bad_version_request),
        cmocka_unit_test(test_bad_version_response),
        cmocka_unit_test(test_header_end_and_body),
        cmocka_unit_test(test_body_with_nul_and_bare_cr),
        cmocka_unit_test(test_trailing_bytes_not_consumed),
        cmocka_unit_test(test_cl_missing),
        cmocka_unit_test(test_cl_negative),
        cmocka_unit_test(test_cl_non_numeric),
        cmocka_unit_test(test_cl_overflow),
        cmocka_unit_test(test_cl_huge_is_too_large),
        cmocka_unit_test(test_cl_duplicate),
        cmocka_unit_test(test_cl_duplicate_compact_and_equal),
        cmocka_unit_test(test_cl_with_spaces_and_compact),
        cmocka_unit_test(test_ping),
        cmocka_unit_test(test_pong),
        cmocka_unit_test(test_keepalive_prefixes_incomplete),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_split_every_point),
        cmocka_unit_test(test_byte_by_byte_last_len),
        cmocka_unit_test(test_split_every_point_tight_limits),
        cmocka_unit_test(test_incremental_matches_fresh_on_bad_input),
        cmocka_unit_test(test_need_on_incomplete_body),
        cmocka_unit_test(test_limits_defaults),
        cmocka_unit_test(test_too_many_headers),
        cmocka_unit_test(test_too_large_message),
        cmocka_unit_test(test_too_large_header_section),
        cmocka_unit_test(test_line_too_long),
        cmocka_unit_test(test_bare_lf),
        cmocka_unit_test(test_bare_cr),
        cmocka_unit_test(test_lf_only_message),
        cmocka_unit_test(test_header_without_colon),
        cmocka_unit_test(test_header_name_not_token),
        cmocka_unit_test(test_leading_fold),
        cmocka_unit_test(test_non_framing_error_then_index),
        /* last: a regression here reads out of bounds and may take the process down */
        cmocka_unit_test(test_hdrs_cap_beyond_first_index),
    };
    return cmocka_run_group_tests(tests, NULL, heap_release);
}
