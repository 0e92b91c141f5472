/*
 * test_sip_naddr.c - sip_naddr_parse on From / To / Contact / Route style values: quoted display
 * names with escaped quotes and backslashes (kept undecoded), token display names, no LWS
 * before '<' (RFC 4475 lwsdisp, which must be accepted), addr-spec without angle brackets whose
 * ;params are header parameters (RFC 3261 20.10, RFC 4475 cparam01), URI parameters inside <>
 * (cparam02), tag extraction, LWS and folds around the parameters after '>', and rejection of an
 * unterminated quoted string or angle bracket.
 */
#include "sip_test_util.h"

static void parse_ok(const char *s, sip_naddr_t *a)
{
    memset(a, 0x5a, sizeof(*a));
    int rc = sip_naddr_parse(hs(s), a);
    if (rc != 0) {
        print_error("sip_naddr_parse(\"%s\") = %d\n", s, rc);
    }
    assert_int_equal(rc, 0);
}

static void parse_bad(const char *s)
{
    sip_naddr_t a;
    int rc = sip_naddr_parse(hs(s), &a);
    if (rc != -1) {
        print_error("sip_naddr_parse(\"%s\") accepted\n", s);
    }
    assert_int_equal(rc, -1);
}

static void test_quoted_display_with_escapes(void **state)
{
    (void)state;
    sip_naddr_t a;
    /* RFC 4475 wsinv: display name J Rosenberg \\\" (escaped backslash and quote) */
    parse_ok("\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
             &a);
    assert_true(a.display_quoted);
    assert_slice(a.display, "J Rosenberg \\\\\\\"");
    assert_true(a.bracketed);
    assert_slice(a.uri, "sip:jdrosen@example.com");
    assert_true(a.has_tag);
    assert_slice(a.tag, "98asjd8");
}

static void test_quoted_display_with_separators(void **state)
{
    (void)state;
    sip_naddr_t a;
    parse_ok("\"Doe, John <the boss>; \\\"JD\\\"\" <sip:jd@example.com>;tag=x1", &a);
    assert_true(a.display_quoted);
    assert_slice(a.display, "Doe, John <the boss>; \\\"JD\\\"");
    assert_slice(a.uri, "sip:jd@example.com");
    assert_slice(a.tag, "x1");

    parse_ok("\"\" <sip:anon@example.com>", &a);
    assert_true(a.display_quoted);
    assert_int_equal(a.display.len, 0);
    assert_slice(a.uri, "sip:anon@example.com");
    assert_false(a.has_tag);

    /* UTF-8 in a quoted display name */
    parse_ok("\"Ren\xc3\xa9\" <sip:rene@example.com>", &a);
    assert_slice(a.display, "Ren\xc3\xa9");
}

static void test_token_display(void **state)
{
    (void)state;
    sip_naddr_t a;
    parse_ok("Bob Smith <sip:bob@biloxi.example.com>;tag=a6c85cf", &a);
    assert_false(a.display_quoted);
    assert_slice(a.display, "Bob Smith");
    assert_slice(a.uri, "sip:bob@biloxi.example.com");
    assert_true(a.bracketed);
    assert_slice(a.tag, "a6c85cf");

    parse_ok("Bob    <sip:bob@biloxi.example.com>", &a);
    assert_slice(a.display, "Bob");
}

static void test_no_lws_before_bracket(void **state)
{
    (void)state;
    sip_naddr_t a;
    /* RFC 4475 3.1.1.6 (lwsdisp) */
    parse_ok("caller<sip:caller@example.com>;tag=323", &a);
    assert_slice(a.display, "caller");
    assert_slice(a.uri, "sip:caller@example.com");
    assert_slice(a.tag, "323");

    parse_ok("\"caller\"<sip:caller@example.com>", &a);
    assert_true(a.display_quoted);
    assert_slice(a.display, "caller");
}

static void test_no_display(void **state)
{
    (void)state;
    sip_naddr_t a;
    parse_ok("<sip:user@example.com>", &a);
    assert_int_equal(a.display.len, 0);
    assert_false(a.display_quoted);
    assert_true(a.bracketed);
    assert_slice(a.uri, "sip:user@example.com");
    assert_int_equal(a.params.len, 0);
    assert_false(a.has_tag);
    assert_int_equal(a.tag.len, 0);
}

static void test_addr_spec_params_are_header_params(void **state)
{
    (void)state;
    sip_naddr_t a;
    /* RFC 3261 20.10: without <>, the ;params belong to the header, not the URI */
    parse_ok("sip:caller@example.net;tag=134161461246", &a);
    assert_false(a.bracketed);
    assert_int_equal(a.display.len, 0);
    assert_slice(a.uri, "sip:caller@example.net");
    assert_slice(a.params, "tag=134161461246");
    assert_slice(a.tag, "134161461246");

    /* RFC 4475 3.3.12 (cparam01) */
    parse_ok("sip:user@host.example.com;unknownparam", &a);
    assert_slice(a.uri, "sip:user@host.example.com");
    assert_slice(a.params, "unknownparam");
    assert_false(a.has_tag);

    /* wsinv To: LWS between the URI and ';', and around '=' */
    parse_ok("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n", &a);
    assert_slice(a.uri, "sip:vivekg@chair-dnrc.example.com");
    assert_slice(a.tag, "1918181833n");

    parse_ok("sip:user@example.com", &a);
    assert_slice(a.uri, "sip:user@example.com");
    assert_int_equal(a.params.len, 0);
}

static void test_uri_params_inside_brackets(void **state)
{
    (void)state;
    sip_naddr_t a;
    sip_slice_t v;
    /* RFC 4475 3.3.13 (cparam02): unknownparam is a URI parameter */
    parse_ok("<sip:user@host.example.com;unknownparam>;expires=3600", &a);
    assert_slice(a.uri, "sip:user@host.example.com;unknownparam");
    assert_slice(a.params, "expires=3600");
    assert_int_equal(sip_param_find(a.params, "unknownparam", &v), 0);
    assert_int_equal(sip_param_find(a.params, "expires", &v), 1);
    assert_slice(v, "3600");

    /* a tag inside the URI is not the header tag */
    parse_ok("<sip:user@example.com;tag=inuri>", &a);
    assert_false(a.has_tag);
    assert_int_equal(a.tag.len, 0);

    /* RFC 4475 3.3.14 (regescrt): escaped headers inside <> stay in the URI */
    parse_ok("<sip:user@example.com?Route=%3Csip:sip.example.com%3E>", &a);
    assert_slice(a.uri, "sip:user@example.com?Route=%3Csip:sip.example.com%3E");
}

static void test_tag_extraction(void **state)
{
    (void)state;
    sip_naddr_t a;
    parse_ok("<sip:a@example.com>;x=1;tag=abc;y", &a);
    assert_true(a.has_tag);
    assert_slice(a.tag, "abc");
    assert_slice(a.params, "x=1;tag=abc;y");

    parse_ok("<sip:a@example.com>;TAG=Upper", &a);
    assert_true(a.has_tag);
    assert_slice(a.tag, "Upper");

    parse_ok("<sip:a@example.com>;tagx=1;xtag=2", &a);
    assert_false(a.has_tag);
}

static void test_params_after_bracket_lws_fold(void **state)
{
    (void)state;
    sip_naddr_t a;
    sip_slice_t v;
    /* RFC 4475 wsinv Contact: LWS and folds around ';' and '=' */
    parse_ok("\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n"
             "      newvalue ;\r\n"
             "  secondparam ; q = 0.33",
             &a);
    assert_slice(a.display, "Quoted string \\\"\\\"");
    assert_slice(a.uri, "sip:jdrosen@example.com");
    assert_false(a.has_tag);
    assert_int_equal(sip_param_find(a.params, "newparam", &v), 1);
    assert_slice(v, "newvalue");
    assert_int_equal(sip_param_find(a.params, "secondparam", &v), 1);
    assert_int_equal(v.len, 0);
    assert_int_equal(sip_param_find(a.params, "q", &v), 1);
    assert_slice(v, "0.33");

    parse_ok("<sip:a@example.com> ;\r\n tag = 12 ; x", &a);
    assert_true(a.has_tag);
    assert_slice(a.tag, "12");
}

static void test_other_schemes(void **state)
{
    (void)state;
    sip_naddr_t a;
    /* RFC 4475 3.3.4 (unksm2) */
    parse_ok("<isbn:2983792873>;tag=3234233", &a);
    assert_slice(a.uri, "isbn:2983792873");
    assert_slice(a.tag, "3234233");
    parse_ok("<http://www.example.com>;tag=I'mAzd5s", &a);
    assert_slice(a.uri, "http://www.example.com");
    assert_slice(a.tag, "I'mAzd5s");
    parse_ok("\"Watson, Thomas\" <name:watson@example.org>", &a);
    assert_slice(a.uri, "name:watson@example.org");
}

static void test_quoted_uri_param_tolerated(void **state)
{
    (void)state;
    sip_naddr_t a;
    /* corpus samples/05 Contact: [MS-SIPRE] ms-fe with a quoted value inside <> */
    parse_ok("<sip:tradewind.com:5061;transport=tls;ms-fe=\"fe.tradewind.com\">", &a);
    assert_true(a.bracketed);
    assert_slice(a.uri, "sip:tradewind.com:5061;transport=tls;ms-fe=\"fe.tradewind.com\"");
    assert_int_equal(a.params.len, 0);
}

static void test_malformed(void **state)
{
    (void)state;
    /* RFC 4475 3.1.2.6 (quotbal): unterminated quoted display name */
    parse_bad("\"Mr. J. User <sip:j.user@example.com>");
    parse_bad("\"Mr. J. User \\\" <sip:j.user@example.com>");
    parse_bad("<sip:user@example.com");
    parse_bad("<sip:user@example.com;tag=1");
    parse_bad("\"name\"");
    parse_bad("<>");
    parse_bad("");
    parse_bad("<sip:user@example.com>;");
    parse_bad("<sip:user@example.com>;;tag=1");
    parse_bad("<sip:user@example.com> junk");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoted_display_with_escapes),
        cmocka_unit_test(test_quoted_display_with_separators),
        cmocka_unit_test(test_token_display),
        cmocka_unit_test(test_no_lws_before_bracket),
        cmocka_unit_test(test_no_display),
        cmocka_unit_test(test_addr_spec_params_are_header_params),
        cmocka_unit_test(test_uri_params_inside_brackets),
        cmocka_unit_test(test_tag_extraction),
        cmocka_unit_test(test_params_after_bracket_lws_fold),
        cmocka_unit_test(test_other_schemes),
        cmocka_unit_test(test_quoted_uri_param_tolerated),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, heap_release);
}
