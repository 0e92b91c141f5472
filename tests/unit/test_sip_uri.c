/*
 * test_sip_uri.c - sip_uri_parse and sip_param_find: sip, sips and tel URIs and opaque other
 * schemes (scheme names are case-insensitive), user and password, %-escapes kept as they are
 * (%00 included), host names, IPv4 and IPv6 references (with and without port, the RFC 5118
 * three-colon form, IPv4-mapped addresses, the missing-bracket form rejected), the params and
 * headers slices, RFC 4475 esc01 and semiuri user parts, rejection of white space, empty hosts
 * and bad ports; and parameter lookup with LWS around ';' and '=', case-insensitive names and
 * valueless parameters.
 */
#include "sip_test_util.h"

static void parse_ok(const char *s, sip_uri_t *u)
{
    memset(u, 0x5a, sizeof(*u));
    int rc = sip_uri_parse(hs(s), u);
    if (rc != 0) {
        print_error("sip_uri_parse(\"%s\") = %d\n", s, rc);
    }
    assert_int_equal(rc, 0);
}

static void parse_bad(const char *s)
{
    sip_uri_t u;
    int rc = sip_uri_parse(hs(s), &u);
    if (rc != -1) {
        print_error("sip_uri_parse(\"%s\") accepted\n", s);
    }
    assert_int_equal(rc, -1);
}

/* ---------------------------------------------------------------- schemes */

static void test_sip_basic(void **state)
{
    (void)state;
    sip_uri_t u;
    parse_ok("sip:alice@atlanta.example.com", &u);
    assert_int_equal(u.scheme, SIP_SCHEME_SIP);
    assert_slice(u.scheme_name, "sip");
    assert_slice(u.user, "alice");
    assert_int_equal(u.password.len, 0);
    assert_slice(u.hostport.host, "atlanta.example.com");
    assert_int_equal(u.hostport.host_kind, SIP_HOST_NAME);
    assert_int_equal(u.hostport.port, 0);
    assert_int_equal(u.params.len, 0);
    assert_int_equal(u.headers.len, 0);
}

static void test_sip_no_user(void **state)
{
    (void)state;
    sip_uri_t u;
    parse_ok("sip:registrar.example.com", &u);
    assert_int_equal(u.scheme, SIP_SCHEME_SIP);
    assert_int_equal(u.user.len, 0);
    assert_slice(u.hostport.host, "registrar.example.com");

    parse_ok("sip:192.0.2.4:5060", &u);
    assert_slice(u.hostport.host, "192.0.2.4");
    assert_int_equal(u.hostport.host_kind, SIP_HOST_IPV4);
    assert_int_equal(u.hostport.port, 5060);
}

static void test_scheme_case_insensitive(void **state)
{
    (void)state;
    sip_uri_t u;
    parse_ok("SIP:alice@example.com", &u);
    assert_int_equal(u.scheme, SIP_SCHEME_SIP);
    assert_slice(u.scheme_name, "SIP");
    parse_ok("Sips:alice@example.com", &u);
    assert_int_equal(u.scheme, SIP_SCHEME_SIPS);
    parse_ok("sips:alice@example.com:5061", &u);
    assert_int_equal(u.scheme, SIP_SCHEME_SIPS);
    assert_int_equal(u.hostport.port, 5061);
    parse_ok("TEL:+1-201-555-0123", &u);
    assert_int_equal(u.scheme, SIP_SCHEME_TEL);
}

static void test_tel(void **state)
{
    (void)state;
    sip_uri_t u;
    parse_ok("tel:+1-201-555-0123", &u);
    assert_int_equal(u.scheme, SIP_SCHEME_TEL);
    assert_slice(u.user, "+1-201-555-0123");
    assert_int_equal(u.params.len, 0);

    parse_ok("tel:7042;phone-context=example.com", &u);
    assert_slice(u.user, "7042");
    assert_slice(u.params, "phone-context=example.com");
}

static void test_other_schemes(void **state)
{
    (void)state;
    sip_uri_t u;
    /* RFC 4475 3.3.2 and 3.3.3: unknown schemes parse as opaque URIs */
    parse_ok("nobodyKnowsThisScheme:totallyopaquecontent", &u);
    assert_int_equal(u.scheme, SIP_SCHEME_OTHER);
    assert_slice(u.scheme_name, "nobodyKnowsThisScheme");
    assert_slice(u.opaque, "totallyopaquecontent");

    parse_ok("soap.beep://192.0.2.103:3002", &u);
    assert_int_equal(u.scheme, SIP_SCHEME_OTHER);
    assert_slice(u.scheme_name, "soap.beep");
    assert_slice(u.opaque, "//192.0.2.103:3002");

    parse_ok("http://www.example.com", &u);
    assert_int_equal(u.scheme, SIP_SCHEME_OTHER);
    assert_slice(u.opaque, "//www.example.com");

    parse_ok("isbn:2983792873", &u);
    assert_int_equal(u.scheme, SIP_SCHEME_OTHER);
    assert_slice(u.opaque, "2983792873");

    /* "sipx" and "si" are not sip */
    parse_ok("sipx:alice@example.com", &u);
    assert_int_equal(u.scheme, SIP_SCHEME_OTHER);
    parse_ok("si:alice", &u);
    assert_int_equal(u.scheme, SIP_SCHEME_OTHER);

    parse_bad("noscheme");
    parse_bad(":opaque");
    parse_bad("1sip:alice@example.com");
    parse_bad("");
}

/* ---------------------------------------------------------------- userinfo */

static void test_password(void **state)
{
    (void)state;
    sip_uri_t u;
    parse_ok("sip:alice:secretword@atlanta.example.com;transport=tcp", &u);
    assert_slice(u.user, "alice");
    assert_slice(u.password, "secretword");
    assert_slice(u.hostport.host, "atlanta.example.com");
    assert_slice(u.params, "transport=tcp");
}

static void test_escapes_kept(void **state)
{
    (void)state;
    sip_uri_t u;
    /* RFC 4475 3.1.1.3 (esc01) */
    parse_ok("sip:sips%3Auser%40example.com@example.net", &u);
    assert_int_equal(u.scheme, SIP_SCHEME_SIP);
    assert_slice(u.user, "sips%3Auser%40example.com");
    assert_slice(u.hostport.host, "example.net");

    /* RFC 4475 3.1.1.4 (escnull): %00 is kept, not decoded, not a terminator */
    parse_ok("sip:null-%00-null@example.com", &u);
    assert_slice(u.user, "null-%00-null");
    assert_slice(u.hostport.host, "example.com");
    parse_ok("sip:%00@example.com", &u);
    assert_slice(u.user, "%00");

    parse_ok("sip:user@example.com;other-param=summit;unknownparam=%2525", &u);
    assert_slice(u.params, "other-param=summit;unknownparam=%2525");
}

static void test_semicolon_user(void **state)
{
    (void)state;
    sip_uri_t u;
    /* RFC 4475 3.1.1.9 (semiuri): the ';' before '@' belongs to the user part */
    parse_ok("sip:user;par=u%40example.net@example.com", &u);
    assert_slice(u.user, "user;par=u%40example.net");
    assert_slice(u.hostport.host, "example.com");
    assert_int_equal(u.params.len, 0);

    parse_ok("sip:user;par=v@example.com;lr", &u);
    assert_slice(u.user, "user;par=v");
    assert_slice(u.params, "lr");
}

static void test_user_characters(void **state)
{
    (void)state;
    sip_uri_t u;
    /* unreserved and user-unreserved marks (RFC 3261 25.1) */
    parse_ok("sip:a-_.!~*'()&=+$,;?/z@example.com", &u);
    assert_slice(u.user, "a-_.!~*'()&=+$,;?/z");
    parse_ok("sip:+1-212-555-1212:1234@gateway.com;user=phone", &u);
    assert_slice(u.user, "+1-212-555-1212");
    assert_slice(u.password, "1234");
    assert_slice(u.params, "user=phone");
}

/* ---------------------------------------------------------------- hosts */

static void test_ipv6_references(void **state)
{
    (void)state;
    sip_uri_t u;
    parse_ok("sip:[2001:db8::10]", &u);
    assert_slice(u.hostport.host, "[2001:db8::10]");
    assert_int_equal(u.hostport.host_kind, SIP_HOST_IPV6);
    assert_int_equal(u.hostport.port, 0);

    parse_ok("sip:[2001:db8::10]:5070", &u);
    assert_slice(u.hostport.host, "[2001:db8::10]");
    assert_int_equal(u.hostport.port, 5070);

    /* RFC 5118 4.3: the port inside the brackets is part of the address */
    parse_ok("sip:[2001:db8::10:5070]", &u);
    assert_slice(u.hostport.host, "[2001:db8::10:5070]");
    assert_int_equal(u.hostport.port, 0);

    parse_ok("sip:user@[2001:db8::10]:5070;transport=tcp", &u);
    assert_slice(u.user, "user");
    assert_slice(u.hostport.host, "[2001:db8::10]");
    assert_int_equal(u.hostport.port, 5070);
    assert_slice(u.params, "transport=tcp");

    /* RFC 5118 4.9: IPv4-mapped */
    parse_ok("sip:[::ffff:192.0.2.1]", &u);
    assert_slice(u.hostport.host, "[::ffff:192.0.2.1]");
    assert_int_equal(u.hostport.host_kind, SIP_HOST_IPV6);

    /* RFC 5118 4.10: the correct two-colon form and the tolerated three-colon form */
    parse_ok("sip:user@[2001:db8::192.0.2.1]", &u);
    assert_int_equal(u.hostport.host_kind, SIP_HOST_IPV6);
    parse_ok("sip:user@[2001:db8:::192.0.2.1]", &u);
    assert_slice(u.hostport.host, "[2001:db8:::192.0.2.1]");
    assert_int_equal(u.hostport.host_kind, SIP_HOST_IPV6);

    parse_ok("sips:[::1]:5061", &u);
    assert_int_equal(u.scheme, SIP_SCHEME_SIPS);
    assert_slice(u.hostport.host, "[::1]");
}

static void test_ipv6_without_brackets_rejected(void **state)
{
    (void)state;
    /* RFC 5118 4.2 */
    parse_bad("sip:2001:db8::10");
    parse_bad("sip:user@2001:db8::10");
    parse_bad("sip:[2001:db8::10");
    parse_bad("sip:2001:db8::10]");
    parse_bad("sip:[2001:db8::10]x");
    parse_bad("sip:[2001:db8::zz]");
    parse_bad("sip:[]");
}

static void test_hosts_ipv4_and_names(void **state)
{
    (void)state;
    sip_uri_t u;
    parse_ok("sip:alice@192.0.2.4", &u);
    assert_slice(u.hostport.host, "192.0.2.4");
    assert_int_equal(u.hostport.host_kind, SIP_HOST_IPV4);
    parse_ok("sip:alice@Host-1.EXAMPLE.com.", &u);
    assert_slice(u.hostport.host, "Host-1.EXAMPLE.com.");
    assert_int_equal(u.hostport.host_kind, SIP_HOST_NAME);
}

static void test_host_label_hyphens(void **state)
{
    (void)state;
    /* RFC 3261 25.1: domainlabel and toplabel neither start nor end with '-' */
    parse_bad("sip:alice@-example.com");
    parse_bad("sip:alice@example-.com");
    parse_bad("sip:alice@example.com-");
    parse_bad("sip:alice@example.com-:5060");
}

static void test_empty_host_and_user(void **state)
{
    (void)state;
    parse_bad("sip:");
    parse_bad("sip:alice@");
    parse_bad("sip:alice@;transport=tcp");
    parse_bad("sip:alice@:5060");
    parse_bad("sip:@example.com");
    parse_bad("sips:");
}

static void test_bad_port(void **state)
{
    (void)state;
    parse_bad("sip:alice@example.com:");
    parse_bad("sip:alice@example.com:65536");
    parse_bad("sip:alice@example.com:5o60");
    parse_bad("sip:alice@example.com:-1");
    parse_bad("sip:alice@[2001:db8::1]:99999");
    sip_uri_t u;
    parse_ok("sip:alice@example.com:65535", &u);
    assert_int_equal(u.hostport.port, 65535);
}

static void test_whitespace_rejected(void **state)
{
    (void)state;
    /* RFC 4475 3.1.2.8 (lwsruri) and 3.1.2.14 (badaspec) */
    parse_bad("sip:user@example.com ;lr");
    parse_bad("sip:user@example.com; lr");
    parse_bad("sip:us er@example.com");
    parse_bad("sip:user@example.com\t");
    parse_bad(" sip:user@example.com");
    parse_bad("sip:user@example.com:5060 ");
    parse_bad("sip:user@exa\r\n mple.com");
    parse_bad("<sip:user@example.com>");
}

/* ---------------------------------------------------------------- params and headers */

static void test_params_and_headers(void **state)
{
    (void)state;
    sip_uri_t u;
    parse_ok("sip:alice@atlanta.example.com;transport=tcp;lr?subject=project%20x&priority=urgent",
             &u);
    assert_slice(u.hostport.host, "atlanta.example.com");
    assert_slice(u.params, "transport=tcp;lr");
    assert_slice(u.headers, "subject=project%20x&priority=urgent");

    parse_ok("sip:user@example.com?Route=%3Csip:example.com%3E", &u);
    assert_int_equal(u.params.len, 0);
    assert_slice(u.headers, "Route=%3Csip:example.com%3E");

    parse_ok("sip:example.com:5060;lr", &u);
    assert_int_equal(u.hostport.port, 5060);
    assert_slice(u.params, "lr");

    parse_ok("sips:user@example.com;maddr=239.255.255.1;ttl=15", &u);
    assert_slice(u.params, "maddr=239.255.255.1;ttl=15");
}

static void test_quoted_param_value_tolerated(void **state)
{
    (void)state;
    sip_uri_t u;
    sip_slice_t v;
    /*
     * [MS-SIPRE] ms-fe="..." in a Contact URI (corpus samples/05, whose INDEX row says it must
     * be tolerated although strict RFC 3261 URI grammar has no quoted parameter values).
     */
    parse_ok("sip:tradewind.com:5061;transport=tls;ms-fe=\"fe.tradewind.com\"", &u);
    assert_slice(u.hostport.host, "tradewind.com");
    assert_int_equal(u.hostport.port, 5061);
    assert_slice(u.params, "transport=tls;ms-fe=\"fe.tradewind.com\"");
    assert_int_equal(sip_param_find(u.params, "ms-fe", &v), 1);
    assert_slice(v, "\"fe.tradewind.com\"");
}

/* ---------------------------------------------------------------- sip_param_find */

/* A URI without parameters has a NULL params slice; looking in it finds nothing. */
static void test_param_find_no_params(void **state)
{
    sip_uri_t u;
    sip_slice_t v;
    (void)state;
    assert_int_equal(sip_uri_parse((sip_slice_t){"sip:a@example.com", 17}, &u), 0);
    assert_int_equal(sip_param_find(u.params, "transport", &v), 0);
    assert_int_equal(sip_param_find((sip_slice_t){NULL, 0}, "lr", &v), 0);
}

static void test_param_find(void **state)
{
    (void)state;
    sip_slice_t v;
    sip_slice_t p = hs("transport=tcp;lr;maddr=239.255.255.1");
    assert_int_equal(sip_param_find(p, "transport", &v), 1);
    assert_slice(v, "tcp");
    assert_int_equal(sip_param_find(p, "lr", &v), 1);
    assert_int_equal(v.len, 0);
    assert_int_equal(sip_param_find(p, "maddr", &v), 1);
    assert_slice(v, "239.255.255.1");
    assert_int_equal(sip_param_find(p, "ttl", &v), 0);
    assert_int_equal(sip_param_find(p, "trans", &v), 0);
    assert_int_equal(sip_param_find(p, "transportx", &v), 0);
    assert_int_equal(sip_param_find(p, "tcp", &v), 0);
    assert_int_equal(sip_param_find(p, "l", &v), 0);
}

static void test_param_find_case_and_lws(void **state)
{
    (void)state;
    sip_slice_t v;
    sip_slice_t p = hs(" ;  Transport = TCP ;\r\n LR ; tag= 1918181833n ;  q =0.33");
    assert_int_equal(sip_param_find(p, "transport", &v), 1);
    assert_slice(v, "TCP");
    assert_int_equal(sip_param_find(p, "TRANSPORT", &v), 1);
    assert_int_equal(sip_param_find(p, "lr", &v), 1);
    assert_int_equal(v.len, 0);
    assert_int_equal(sip_param_find(p, "tag", &v), 1);
    assert_slice(v, "1918181833n");
    assert_int_equal(sip_param_find(p, "q", &v), 1);
    assert_slice(v, "0.33");
}

static void test_param_find_leading_semicolon(void **state)
{
    (void)state;
    sip_slice_t v;
    assert_int_equal(sip_param_find(hs(";lr"), "lr", &v), 1);
    assert_int_equal(sip_param_find(hs("lr"), "lr", &v), 1);
    assert_int_equal(sip_param_find(hs(";a=1;b=2"), "b", &v), 1);
    assert_slice(v, "2");
    assert_int_equal(sip_param_find(hs(""), "lr", &v), 0);
}

static void test_param_find_quoted(void **state)
{
    (void)state;
    sip_slice_t v;
    /* a ';' or a name inside a quoted value is not a parameter */
    sip_slice_t p = hs("a=\"x;b=fake;c\";b=real");
    assert_int_equal(sip_param_find(p, "b", &v), 1);
    assert_slice(v, "real");
    assert_int_equal(sip_param_find(p, "c", &v), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_param_find_no_params),
        cmocka_unit_test(test_sip_basic),
        cmocka_unit_test(test_sip_no_user),
        cmocka_unit_test(test_scheme_case_insensitive),
        cmocka_unit_test(test_tel),
        cmocka_unit_test(test_other_schemes),
        cmocka_unit_test(test_password),
        cmocka_unit_test(test_escapes_kept),
        cmocka_unit_test(test_semicolon_user),
        cmocka_unit_test(test_user_characters),
        cmocka_unit_test(test_ipv6_references),
        cmocka_unit_test(test_ipv6_without_brackets_rejected),
        cmocka_unit_test(test_hosts_ipv4_and_names),
        cmocka_unit_test(test_host_label_hyphens),
        cmocka_unit_test(test_empty_host_and_user),
        cmocka_unit_test(test_bad_port),
        cmocka_unit_test(test_whitespace_rejected),
        cmocka_unit_test(test_params_and_headers),
        cmocka_unit_test(test_quoted_param_value_tolerated),
        cmocka_unit_test(test_param_find),
        cmocka_unit_test(test_param_find_case_and_lws),
        cmocka_unit_test(test_param_find_quoted),
        cmocka_unit_test(test_param_find_leading_semicolon),
    };
    return cmocka_run_group_tests(tests, NULL, heap_release);
}
