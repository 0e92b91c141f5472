/*
 * test_sip_scalars.c - the scalar header sub-parsers: CSeq (leading zeros, the 2^32-1 limit,
 * LWS and folds between number and method, method ids, malformed forms), Max-Forwards (0-255,
 * leading zeros, empty and overlarge values), Call-ID (word ["@" word], no white space, not
 * empty), Content-Length (decimal only, no sign, no overflow) and sip_is_token.
 */
#include "sip_test_util.h"

/* ---------------------------------------------------------------- CSeq */

static void cseq_ok(const char *s, uint32_t number, const char *method, sip_method_t id)
{
    sip_cseq_t c;
    memset(&c, 0x5a, sizeof(c));
    int rc = sip_cseq_parse(hs(s), &c);
    if (rc != 0) {
        print_error("sip_cseq_parse(\"%s\") = %d\n", s, rc);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(c.number, number);
    assert_slice(c.method, method);
    assert_int_equal(c.method_id, id);
}

static void cseq_bad(const char *s)
{
    sip_cseq_t c;
    int rc = sip_cseq_parse(hs(s), &c);
    if (rc != -1) {
        print_error("sip_cseq_parse(\"%s\") accepted\n", s);
    }
    assert_int_equal(rc, -1);
}

static void test_cseq_basic(void **state)
{
    (void)state;
    cseq_ok("1 INVITE", 1, "INVITE", SIP_METHOD_INVITE);
    cseq_ok("314159 ACK", 314159, "ACK", SIP_METHOD_ACK);
    cseq_ok("0 REGISTER", 0, "REGISTER", SIP_METHOD_REGISTER);
    cseq_ok("2 NEWMETHOD", 2, "NEWMETHOD", SIP_METHOD_OTHER);
    cseq_ok("3 invite", 3, "invite", SIP_METHOD_OTHER);
    cseq_ok("7 SERVICE", 7, "SERVICE", SIP_METHOD_SERVICE);
}

static void test_cseq_leading_zeros(void **state)
{
    (void)state;
    cseq_ok("0009 INVITE", 9, "INVITE", SIP_METHOD_INVITE);
    cseq_ok("00000000000000000000001 BYE", 1, "BYE", SIP_METHOD_BYE);
}

static void test_cseq_limits(void **state)
{
    (void)state;
    /* RFC 3261 8.1.1.5 / 20.16: the number is a 32-bit unsigned integer */
    cseq_ok("4294967295 INVITE", 4294967295u, "INVITE", SIP_METHOD_INVITE);
    /* RFC 4475 3.1.2.4 (scalar02) and 3.1.2.5 (scalarlg) */
    cseq_bad("4294967296 INVITE");
    cseq_bad("36893488147419103232 INVITE");
    cseq_bad("99999999999999999999999999999999 INVITE");
}

static void test_cseq_lws(void **state)
{
    (void)state;
    /* RFC 4475 wsinv: "0009\r\n  INVITE" */
    cseq_ok("0009\r\n  INVITE", 9, "INVITE", SIP_METHOD_INVITE);
    cseq_ok("5 \t  OPTIONS", 5, "OPTIONS", SIP_METHOD_OPTIONS);
    cseq_ok("6\tCANCEL", 6, "CANCEL", SIP_METHOD_CANCEL);
}

static void test_cseq_malformed(void **state)
{
    (void)state;
    cseq_bad("");
    cseq_bad("1");
    cseq_bad("INVITE");
    cseq_bad("1INVITE");
    cseq_bad("-1 INVITE");
    cseq_bad("+1 INVITE");
    cseq_bad("1 INV@ITE");
    cseq_bad("1 INVITE extra");
    cseq_bad("1.5 INVITE");
    cseq_bad("0x10 INVITE");
    cseq_bad(" INVITE");
}

/* ---------------------------------------------------------------- Max-Forwards */

static void test_max_forwards(void **state)
{
    (void)state;
    assert_int_equal(sip_max_forwards_parse(hs("70")), 70);
    assert_int_equal(sip_max_forwards_parse(hs("0")), 0);
    assert_int_equal(sip_max_forwards_parse(hs("0068")), 68);
    assert_int_equal(sip_max_forwards_parse(hs("255")), 255);
    assert_int_equal(sip_max_forwards_parse(hs("000255")), 255);
    assert_int_equal(sip_max_forwards_parse(hs("256")), -1);
    assert_int_equal(sip_max_forwards_parse(hs("300")), -1);
    assert_int_equal(sip_max_forwards_parse(hs("99999999999999999999")), -1);
    assert_int_equal(sip_max_forwards_parse(hs("")), -1);
    assert_int_equal(sip_max_forwards_parse(hs("-1")), -1);
    assert_int_equal(sip_max_forwards_parse(hs("+1")), -1);
    assert_int_equal(sip_max_forwards_parse(hs("7a")), -1);
    assert_int_equal(sip_max_forwards_parse(hs("7 0")), -1);
    assert_int_equal(sip_max_forwards_parse(hs("seventy")), -1);
}

/* ---------------------------------------------------------------- Call-ID */

static void test_call_id(void **state)
{
    (void)state;
    assert_int_equal(sip_call_id_check(hs("f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com")), 0);
    assert_int_equal(sip_call_id_check(hs("a84b4c76e66710")), 0);
    assert_int_equal(sip_call_id_check(hs("wsinv.ndaksdj@192.0.2.1")), 0);
    /* word allows many separators (RFC 3261 25.1) */
    assert_int_equal(sip_call_id_check(hs("()<>:\\\"/[]?{}-.!%*_+`'~@x")), 0);

    assert_int_equal(sip_call_id_check(hs("")), -1);
    assert_int_equal(sip_call_id_check(hs("abc def")), -1);
    assert_int_equal(sip_call_id_check(hs("abc@def ghi")), -1);
    assert_int_equal(sip_call_id_check(hs("abc\tdef")), -1);
    assert_int_equal(sip_call_id_check(hs("a@b@c")), -1);
    assert_int_equal(sip_call_id_check(hs("@host")), -1);
    assert_int_equal(sip_call_id_check(hs("id@")), -1);
    assert_int_equal(sip_call_id_check(hs("id;x")), -1);
    assert_int_equal(sip_call_id_check(hs("id,x")), -1);
    assert_int_equal(sip_call_id_check(hs("caf\xc3\xa9")), -1);
}

/* ---------------------------------------------------------------- Content-Length */

static void cl_ok(const char *s, size_t want)
{
    size_t got = 12345;
    int rc = sip_content_length_parse(hs(s), &got);
    if (rc != 0) {
        print_error("sip_content_length_parse(\"%s\") = %d\n", s, rc);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(got, want);
}

static void cl_bad(const char *s)
{
    size_t got;
    int rc = sip_content_length_parse(hs(s), &got);
    if (rc != -1) {
        print_error("sip_content_length_parse(\"%s\") accepted\n", s);
    }
    assert_int_equal(rc, -1);
}

static void test_content_length(void **state)
{
    (void)state;
    cl_ok("0", 0);
    cl_ok("150", 150);
    cl_ok("000123", 123);
    cl_ok("4294967296", (size_t)4294967296ull);
    cl_bad("");
    cl_bad("-999");
    cl_bad("+5");
    cl_bad("five");
    cl_bad("5five");
    cl_bad("1 2");
    cl_bad("0x10");
    cl_bad("18446744073709551616");
    cl_bad("99999999999999999999999999999");
}

/* ---------------------------------------------------------------- tokens */

static void test_is_token(void **state)
{
    (void)state;
    assert_true(sip_is_token(hs("INVITE")));
    assert_true(sip_is_token(hs("a")));
    assert_true(sip_is_token(hs("aZ09-.!%*_+`'~")));
    assert_true(sip_is_token(hs("RE%47IST%45R")));
    assert_true(sip_is_token(hs("!interesting-Method0123456789_*+`.%indeed'~")));

    assert_false(sip_is_token(hs("")));
    assert_false(sip_is_token(hs("a b")));
    assert_false(sip_is_token(hs("a\tb")));
    assert_false(sip_is_token(hs("a@b")));
    assert_false(sip_is_token(hs("a:b")));
    assert_false(sip_is_token(hs("a;b")));
    assert_false(sip_is_token(hs("a,b")));
    assert_false(sip_is_token(hs("\"a\"")));
    assert_false(sip_is_token(hs("a/b")));
    assert_false(sip_is_token(hs("<a>")));
    assert_false(sip_is_token(hs("(a)")));
    assert_false(sip_is_token(hs("a=b")));
    assert_false(sip_is_token(hs("a?")));
    assert_false(sip_is_token(hs("[a]")));
    assert_false(sip_is_token(hs("{a}")));
    assert_false(sip_is_token(hs("a\\b")));
    assert_false(sip_is_token(hs("caf\xc3\xa9")));
    assert_false(sip_is_token(HS_LIT("a\0b")));
    assert_false(sip_is_token(hs("a\x7f")));
}

/* Require / Proxy-Require: option tags across header lines and comma lists, tokens only. */
static void test_option_tags(void **state)
{
    static const char m[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                            "Proxy-Require: foo, bar\r\n"
                            "Require: timer\r\n"
                            "proxy-require:baz\r\n"
                            "Supported: a b\r\n"
                            "Content-Length: 0\r\n\r\n";
    tmsg_t t;
    sip_tag_iter_t it = {0};
    sip_slice_t tag;
    (void)state;
    assert_int_equal(TPARSE(&t, m), sizeof m - 1);
    assert_int_equal(sip_msg_option_tag_next(&t.msg, SIP_HDR_PROXY_REQUIRE, &it, &tag), 1);
    assert_slice(tag, "foo");
    assert_int_equal(sip_msg_option_tag_next(&t.msg, SIP_HDR_PROXY_REQUIRE, &it, &tag), 1);
    assert_slice(tag, "bar");
    assert_int_equal(sip_msg_option_tag_next(&t.msg, SIP_HDR_PROXY_REQUIRE, &it, &tag), 1);
    assert_slice(tag, "baz");
    assert_int_equal(sip_msg_option_tag_next(&t.msg, SIP_HDR_PROXY_REQUIRE, &it, &tag), 0);

    sip_tag_iter_t r = {0};
    assert_int_equal(sip_msg_option_tag_next(&t.msg, SIP_HDR_REQUIRE, &r, &tag), 1);
    assert_slice(tag, "timer");
    assert_int_equal(sip_msg_option_tag_next(&t.msg, SIP_HDR_REQUIRE, &r, &tag), 0);

    sip_tag_iter_t k = {0}; /* "a b" is not an option tag */
    assert_int_equal(sip_msg_option_tag_next(&t.msg, SIP_HDR_SUPPORTED, &k, &tag), -1);

    sip_tag_iter_t none = {0};
    assert_int_equal(sip_msg_option_tag_next(&t.msg, SIP_HDR_UNSUPPORTED, &none, &tag), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cseq_basic),     cmocka_unit_test(test_cseq_leading_zeros),
        cmocka_unit_test(test_cseq_limits),    cmocka_unit_test(test_cseq_lws),
        cmocka_unit_test(test_cseq_malformed), cmocka_unit_test(test_max_forwards),
        cmocka_unit_test(test_call_id),        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_is_token),       cmocka_unit_test(test_option_tags),
    };
    return cmocka_run_group_tests(tests, NULL, heap_release);
}
