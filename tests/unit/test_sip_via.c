/*
 * test_sip_via.c - sip_via_parse on single Via values and sip_msg_top_via on messages: the
 * sent-protocol with LWS and folds around the slashes (RFC 4475 wsinv), known and unknown
 * transports, sent-by host names, IPv4 and bracketed IPv6 with and without port, the branch,
 * received (IPv4, and IPv6 with or without brackets per RFC 5118 4.5), rport with and without a
 * value, maddr, ttl (0-255), unknown and quoted parameters, rejection of stray ';', empty
 * parameter names and ports above 65535, sip_via_next walking a multi-value Via header in one
 * pass, and sip_hostport_parse directly.
 */
#include "sip_test_util.h"

static void parse_ok(const char *value, sip_via_t *v)
{
    memset(v, 0x5a, sizeof(*v));
    int rc = sip_via_parse(hs(value), v);
    if (rc != 0) {
        print_error("sip_via_parse(\"%s\") = %d\n", value, rc);
    }
    assert_int_equal(rc, 0);
}

static void parse_bad(const char *value)
{
    sip_via_t v;
    int rc = sip_via_parse(hs(value), &v);
    if (rc != -1) {
        print_error("sip_via_parse(\"%s\") accepted\n", value);
    }
    assert_int_equal(rc, -1);
}

/* The received value without the brackets, if it has them. */
static sip_slice_t unbracket(sip_slice_t s)
{
    if (s.len >= 2 && s.p[0] == '[' && s.p[s.len - 1] == ']') {
        return (sip_slice_t){s.p + 1, s.len - 2};
    }
    return s;
}

/* ---------------------------------------------------------------- sent-protocol and sent-by */

static void test_basic(void **state)
{
    (void)state;
    sip_via_t v;
    parse_ok("SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds", &v);
    assert_slice(v.transport, "UDP");
    assert_slice(v.sent_by.host, "pc33.atlanta.example.com");
    assert_int_equal(v.sent_by.host_kind, SIP_HOST_NAME);
    assert_int_equal(v.sent_by.port, 0);
    assert_true(v.has_branch);
    assert_slice(v.branch, "z9hG4bK776asdhds");
    assert_int_equal(v.received.len, 0);
    assert_int_equal(v.maddr.len, 0);
    assert_int_equal(v.rport, -1);
    assert_int_equal(v.ttl, -1);
}

static void test_no_params(void **state)
{
    (void)state;
    sip_via_t v;
    parse_ok("SIP/2.0/TCP client.example.com:5060", &v);
    assert_slice(v.transport, "TCP");
    assert_slice(v.sent_by.host, "client.example.com");
    assert_int_equal(v.sent_by.port, 5060);
    assert_false(v.has_branch);
    assert_int_equal(v.branch.len, 0);
    assert_int_equal(v.params.len, 0);
    assert_int_equal(v.rport, -1);
    assert_int_equal(v.ttl, -1);
}

static void test_sent_protocol_lws(void **state)
{
    (void)state;
    sip_via_t v;
    /* RFC 4475 3.1.1.1: LWS (with folds) around every '/' and between protocol and host. */
    parse_ok("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw", &v);
    assert_slice(v.transport, "UDP");
    assert_slice(v.sent_by.host, "192.0.2.2");
    assert_int_equal(v.sent_by.host_kind, SIP_HOST_IPV4);
    assert_slice(v.branch, "390skdjuw");

    parse_ok("SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8", &v);
    assert_slice(v.transport, "TCP");
    assert_slice(v.sent_by.host, "spindle.example.com");
    assert_slice(v.branch, "z9hG4bK9ikj8");

    parse_ok("SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239", &v);
    assert_slice(v.transport, "UDP");
    assert_slice(v.sent_by.host, "192.168.255.111");
    assert_slice(v.branch, "z9hG4bK30239");
}

static void test_transports(void **state)
{
    (void)state;
    /* RFC 4475 3.1.1.10: unknown transports must parse. */
    static const char *const tr[] = {"UDP", "TCP", "TLS",     "SCTP", "TLS-SCTP",
                                     "WS",  "WSS", "UNKNOWN", "udp"};
    for (size_t i = 0; i < sizeof(tr) / sizeof(tr[0]); i++) {
        char buf[128];
        sip_via_t v;
        snprintf(buf, sizeof(buf), "SIP/2.0/%s t.example.com;branch=z9hG4bKt", tr[i]);
        parse_ok(buf, &v);
        assert_slice(v.transport, tr[i]);
        assert_slice(v.sent_by.host, "t.example.com");
    }
}

static void test_sent_by_ipv4_port(void **state)
{
    (void)state;
    sip_via_t v;
    parse_ok("SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKa", &v);
    assert_slice(v.sent_by.host, "192.0.2.10");
    assert_int_equal(v.sent_by.host_kind, SIP_HOST_IPV4);
    assert_int_equal(v.sent_by.port, 5061);

    parse_ok("SIP/2.0/TLS 192.0.2.10:65535", &v);
    assert_int_equal(v.sent_by.port, 65535);
}

static void test_sent_by_ipv6(void **state)
{
    (void)state;
    sip_via_t v;
    parse_ok("SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111", &v);
    assert_slice(v.sent_by.host, "[2001:db8::9:1]");
    assert_int_equal(v.sent_by.host_kind, SIP_HOST_IPV6);
    assert_int_equal(v.sent_by.port, 0);
    assert_slice(v.branch, "z9hG4bKas3-111");

    parse_ok("SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111", &v);
    assert_slice(v.sent_by.host, "[2001:db8::9:1]");
    assert_int_equal(v.sent_by.host_kind, SIP_HOST_IPV6);
    assert_int_equal(v.sent_by.port, 6050);

    parse_ok("SIP/2.0/TCP [::ffff:192.0.2.2]:19823;branch=z9hG4bKbh19", &v);
    assert_slice(v.sent_by.host, "[::ffff:192.0.2.2]");
    assert_int_equal(v.sent_by.host_kind, SIP_HOST_IPV6);
    assert_int_equal(v.sent_by.port, 19823);
}

static void test_port_out_of_range(void **state)
{
    (void)state;
    parse_bad("SIP/2.0/UDP host.example.com:65536;branch=z9hG4bK1");
    parse_bad("SIP/2.0/UDP host.example.com:99999999999;branch=z9hG4bK1");
    parse_bad("SIP/2.0/UDP [2001:db8::1]:70000");
    parse_bad("SIP/2.0/UDP host.example.com:;branch=z9hG4bK1");
    parse_bad("SIP/2.0/UDP host.example.com:5o60");
}

static void test_malformed_protocol(void **state)
{
    (void)state;
    parse_bad("");
    parse_bad("SIP/2.0/UDP");
    parse_bad("SIP/2.0/UDP ;branch=z9hG4bK1");
    parse_bad("SIP/2.0 UDP host.example.com");
    parse_bad("SIP/UDP host.example.com");
    parse_bad("SIP/2.0/ host.example.com");
    parse_bad("SIP/2.0/UDP host.example.com extra");
    parse_bad("SIP/2.0/UDP 2001:db8::1;branch=z9hG4bK1");
    parse_bad("SIP/2.0/UDP [2001:db8::1;branch=z9hG4bK1");
}

/* ---------------------------------------------------------------- parameters */

static void test_received(void **state)
{
    (void)state;
    sip_via_t v;
    parse_ok("SIP/2.0/UDP bobspc.biloxi.example.com:5060;received=192.0.2.4;branch=z9hG4bK1", &v);
    assert_slice(v.received, "192.0.2.4");
    assert_slice(v.branch, "z9hG4bK1");

    /* RFC 5118 4.5: accept received with and without [ ] */
    parse_ok("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3", &v);
    assert_slice(unbracket(v.received), "2001:db8::9:255");
    assert_slice(v.branch, "z9hG4bKas3");

    parse_ok("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3", &v);
    assert_slice(v.received, "2001:db8::9:255");
    assert_slice(v.branch, "z9hG4bKas3");
}

static void test_rport(void **state)
{
    (void)state;
    sip_via_t v;
    parse_ok("SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK1", &v);
    assert_int_equal(v.rport, 0);
    parse_ok("SIP/2.0/UDP 192.0.2.1:5060;received=192.0.2.99;rport=10923;branch=z9hG4bK1", &v);
    assert_int_equal(v.rport, 10923);
    assert_slice(v.received, "192.0.2.99");
    parse_ok("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;rport", &v);
    assert_int_equal(v.rport, 0);
}

static void test_maddr_ttl(void **state)
{
    (void)state;
    sip_via_t v;
    parse_ok("SIP/2.0/UDP 192.0.2.1;maddr=224.2.0.1;ttl=16;branch=z9hG4bK1", &v);
    assert_slice(v.maddr, "224.2.0.1");
    assert_int_equal(v.ttl, 16);
    parse_ok("SIP/2.0/UDP 192.0.2.1;ttl=0", &v);
    assert_int_equal(v.ttl, 0);
    parse_ok("SIP/2.0/UDP 192.0.2.1;ttl=255", &v);
    assert_int_equal(v.ttl, 255);
    parse_ok("SIP/2.0/UDP 192.0.2.1;maddr=mcast.example.com", &v);
    assert_slice(v.maddr, "mcast.example.com");
    parse_bad("SIP/2.0/UDP 192.0.2.1;ttl=256");
    parse_bad("SIP/2.0/UDP 192.0.2.1;ttl=-1");
    parse_bad("SIP/2.0/UDP 192.0.2.1;ttl=");
    parse_bad("SIP/2.0/UDP 192.0.2.1;ttl=1x");
}

static void test_param_case_and_lws(void **state)
{
    (void)state;
    sip_via_t v;
    /* parameter names are case-insensitive (RFC 3261 7.3.1) */
    parse_ok("SIP/2.0/UDP 192.0.2.1 ; BRANCH = z9hG4bKcase ; Received = 192.0.2.7 ; RPort", &v);
    assert_slice(v.branch, "z9hG4bKcase");
    assert_slice(v.received, "192.0.2.7");
    assert_int_equal(v.rport, 0);
}

static void test_unknown_and_quoted_params(void **state)
{
    (void)state;
    sip_via_t v;
    sip_slice_t val;
    parse_ok("SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKq;ms-received-port=53244;"
             "ms-received-cid=2A00;x-flag;x-q=\"a;b, c=d\"",
             &v);
    assert_slice(v.branch, "z9hG4bKq");
    assert_int_equal(sip_param_find(v.params, "ms-received-port", &val), 1);
    assert_slice(val, "53244");
    assert_int_equal(sip_param_find(v.params, "ms-received-cid", &val), 1);
    assert_slice(val, "2A00");
    assert_int_equal(sip_param_find(v.params, "x-flag", &val), 1);
    assert_int_equal(val.len, 0);
    assert_int_equal(sip_param_find(v.params, "x-q", &val), 1);
    /* the value as on the wire; a parser may also hand it back without the quotes */
    if (!slice_eq(val, "a;b, c=d")) {
        assert_slice(val, "\"a;b, c=d\"");
    }
    assert_int_equal(sip_param_find(v.params, "branch", &val), 1);
    assert_slice(val, "z9hG4bKq");
    assert_int_equal(sip_param_find(v.params, "b", &val), 0);
    assert_int_equal(sip_param_find(v.params, "c", &val), 0);

    /* a quoted value may come before the branch */
    parse_ok("SIP/2.0/TLS 192.0.2.1;x-ms=\";branch=fake\";branch=z9hG4bKreal", &v);
    assert_slice(v.branch, "z9hG4bKreal");
}

static void test_stray_semicolons(void **state)
{
    (void)state;
    /* RFC 4475 3.1.2.1 (badinv01): "192.0.2.15;;" */
    parse_bad("SIP/2.0/UDP 192.0.2.15;;");
    parse_bad("SIP/2.0/UDP 192.0.2.15;;branch=z9hG4bK1");
    parse_bad("SIP/2.0/UDP 192.0.2.15;branch=z9hG4bK1;");
    parse_bad("SIP/2.0/UDP 192.0.2.15;");
    parse_bad(";");
    /* empty parameter name */
    parse_bad("SIP/2.0/UDP 192.0.2.15;=x;branch=z9hG4bK1");
    parse_bad("SIP/2.0/UDP 192.0.2.15; =x");
    /* unterminated quoted value */
    parse_bad("SIP/2.0/UDP 192.0.2.15;x=\"abc");
}

static void test_branch_magic_cookie_only(void **state)
{
    (void)state;
    /* RFC 4475 3.2.1: branch=z9hG4bK with nothing after it must still parse. */
    sip_via_t v;
    parse_ok("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK", &v);
    assert_true(v.has_branch);
    assert_slice(v.branch, "z9hG4bK");
}

/* ---------------------------------------------------------------- top Via of a message */

static void test_top_via_multi_value_line(void **state)
{
    (void)state;
    static const char m[] = "SIP/2.0 200 OK\r\n"
                            "Subject: x\r\n"
                            "Via: SIP/2.0/TLS top.example.com:5061;branch=z9hG4bKtop ,\r\n"
                            " SIP/2.0/UDP second.example.com;branch=z9hG4bK2\r\n"
                            "v: SIP/2.0/TCP third.example.com;branch=z9hG4bK3\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    sip_via_t v;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_int_equal(sip_msg_top_via(&t.msg, &v), 0);
    assert_slice(v.transport, "TLS");
    assert_slice(v.sent_by.host, "top.example.com");
    assert_int_equal(v.sent_by.port, 5061);
    assert_slice(v.branch, "z9hG4bKtop");
}

static void test_top_via_compact(void **state)
{
    (void)state;
    static const char m[] = "BYE sip:bob@example.com SIP/2.0\r\n"
                            "v: SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKc\r\n"
                            "Via: SIP/2.0/UDP other.example.com;branch=z9hG4bKo\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    sip_via_t v;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_int_equal(sip_msg_top_via(&t.msg, &v), 0);
    assert_slice(v.sent_by.host, "[2001:db8::9:1]");
    assert_int_equal(v.sent_by.port, 5070);
    assert_slice(v.branch, "z9hG4bKc");
}

static void test_top_via_absent_or_bad(void **state)
{
    (void)state;
    static const char none[] = "BYE sip:bob@example.com SIP/2.0\r\n"
                               "Content-Length: 0\r\n"
                               "\r\n";
    static const char bad[] = "BYE sip:bob@example.com SIP/2.0\r\n"
                              "Via: SIP/2.0/UDP 192.0.2.15;;,SIP/2.0/UDP ok.example.com\r\n"
                              "Content-Length: 0\r\n"
                              "\r\n";
    static const char empty[] = "BYE sip:bob@example.com SIP/2.0\r\n"
                                "Via:\r\n"
                                "Via: SIP/2.0/UDP ok.example.com\r\n"
                                "Content-Length: 0\r\n"
                                "\r\n";
    tmsg_t t;
    sip_via_t v;
    assert_int_equal(TPARSE(&t, none), sizeof(none) - 1);
    assert_int_equal(sip_msg_top_via(&t.msg, &v), -1);
    assert_int_equal(TPARSE(&t, bad), sizeof(bad) - 1);
    assert_int_equal(sip_msg_top_via(&t.msg, &v), -1);
    assert_int_equal(TPARSE(&t, empty), sizeof(empty) - 1);
    assert_int_equal(sip_msg_top_via(&t.msg, &v), -1);
}

/* ---------------------------------------------------------------- sip_via_next */

static void test_via_next_values(void **state)
{
    (void)state;
    sip_slice_t val =
        hs("SIP/2.0/UDP a.example.com;branch=z9hG4bK1 , SIP/2.0/TCP b.example.com:5060"
           ";x=\"q, r\",SIP/2.0/TLS [2001:db8::1]:5061;received=192.0.2.1");
    sip_via_t v;
    size_t pos = 0;
    assert_int_equal(sip_via_next(val, &pos, &v), 1);
    assert_slice(v.transport, "UDP");
    assert_slice(v.sent_by.host, "a.example.com");
    assert_slice(v.branch, "z9hG4bK1");
    assert_int_equal(sip_via_next(val, &pos, &v), 1);
    assert_slice(v.transport, "TCP");
    assert_slice(v.sent_by.host, "b.example.com");
    assert_int_equal(v.sent_by.port, 5060);
    assert_false(v.has_branch);
    assert_int_equal(sip_via_next(val, &pos, &v), 1);
    assert_slice(v.sent_by.host, "[2001:db8::1]");
    assert_int_equal(v.sent_by.port, 5061);
    assert_slice(v.received, "192.0.2.1");
    assert_int_equal(sip_via_next(val, &pos, &v), 0);
    assert_int_equal(sip_via_next(val, &pos, &v), 0);
}

static void test_via_next_folded(void **state)
{
    (void)state;
    /* RFC 4475 wsinv: two values, folds around the comma and inside the params */
    sip_slice_t val = hs("SIP  / 2.0  / TCP     spindle.example.com   ;\r\n"
                         "  branch  =   z9hG4bK9ikj8  ,\r\n"
                         " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n"
                         " z9hG4bK30239");
    sip_via_t v;
    size_t pos = 0;
    assert_int_equal(sip_via_next(val, &pos, &v), 1);
    assert_slice(v.transport, "TCP");
    assert_slice(v.sent_by.host, "spindle.example.com");
    assert_slice(v.branch, "z9hG4bK9ikj8");
    assert_int_equal(sip_via_next(val, &pos, &v), 1);
    assert_slice(v.transport, "UDP");
    assert_slice(v.sent_by.host, "192.168.255.111");
    assert_slice(v.branch, "z9hG4bK30239");
    assert_int_equal(sip_via_next(val, &pos, &v), 0);
}

static void test_via_next_empty_values(void **state)
{
    (void)state;
    sip_via_t v;
    size_t pos = 0;
    sip_slice_t val = hs("SIP/2.0/UDP a.example.com,,SIP/2.0/UDP b.example.com");
    assert_int_equal(sip_via_next(val, &pos, &v), 1);
    assert_int_equal(sip_via_next(val, &pos, &v), -1);

    pos = 0;
    val = hs("SIP/2.0/UDP a.example.com ,");
    assert_int_equal(sip_via_next(val, &pos, &v), 1);
    assert_int_equal(sip_via_next(val, &pos, &v), -1);

    pos = 0;
    val = hs(", SIP/2.0/UDP a.example.com");
    assert_int_equal(sip_via_next(val, &pos, &v), -1);

    /* RFC 4475 3.1.2.1 (badinv01) */
    pos = 0;
    val = hs("SIP/2.0/UDP 192.0.2.15;;,;,,");
    assert_int_equal(sip_via_next(val, &pos, &v), -1);
}

static void test_via_next_matches_via_parse(void **state)
{
    (void)state;
    /* each value found by sip_value_next parses the same with sip_via_parse */
    sip_slice_t val = hs("SIP/2.0/TLS h1.example.com:5061;branch=z9hG4bKa;rport=1;ttl=3,"
                         "SIP/2.0/UDP [::ffff:192.0.2.2];maddr=224.0.1.75;x=\"a,b\"");
    size_t pos1 = 0, pos2 = 0;
    sip_slice_t one;
    sip_via_t a, b;
    int n = 0;
    while (sip_value_next(val, &pos1, &one)) {
        assert_int_equal(sip_via_parse(one, &a), 0);
        assert_int_equal(sip_via_next(val, &pos2, &b), 1);
        assert_true(slice_eq_mem(a.transport, b.transport.p, b.transport.len));
        assert_true(slice_eq_mem(a.sent_by.host, b.sent_by.host.p, b.sent_by.host.len));
        assert_int_equal(a.sent_by.port, b.sent_by.port);
        assert_int_equal(a.sent_by.host_kind, b.sent_by.host_kind);
        assert_true(slice_eq_mem(a.branch, b.branch.p, b.branch.len));
        assert_true(slice_eq_mem(a.maddr, b.maddr.p, b.maddr.len));
        assert_int_equal(a.rport, b.rport);
        assert_int_equal(a.ttl, b.ttl);
        assert_int_equal(a.has_branch, b.has_branch);
        n++;
    }
    assert_int_equal(n, 2);
    assert_int_equal(sip_via_next(val, &pos2, &b), 0);
}

/* ---------------------------------------------------------------- sip_hostport_parse */

static void test_hostport(void **state)
{
    (void)state;
    sip_hostport_t hp;
    assert_int_equal(sip_hostport_parse(hs("example.com"), &hp), 0);
    assert_slice(hp.host, "example.com");
    assert_int_equal(hp.host_kind, SIP_HOST_NAME);
    assert_int_equal(hp.port, 0);

    assert_int_equal(sip_hostport_parse(hs("example.com:5060"), &hp), 0);
    assert_slice(hp.host, "example.com");
    assert_int_equal(hp.port, 5060);

    assert_int_equal(sip_hostport_parse(hs("192.0.2.1:1"), &hp), 0);
    assert_slice(hp.host, "192.0.2.1");
    assert_int_equal(hp.host_kind, SIP_HOST_IPV4);
    assert_int_equal(hp.port, 1);

    assert_int_equal(sip_hostport_parse(hs("[::1]"), &hp), 0);
    assert_slice(hp.host, "[::1]");
    assert_int_equal(hp.host_kind, SIP_HOST_IPV6);

    assert_int_equal(sip_hostport_parse(hs("[2001:db8::10]:5070"), &hp), 0);
    assert_slice(hp.host, "[2001:db8::10]");
    assert_int_equal(hp.port, 5070);

    assert_int_equal(sip_hostport_parse(hs(""), &hp), -1);
    assert_int_equal(sip_hostport_parse(hs(":5060"), &hp), -1);
    assert_int_equal(sip_hostport_parse(hs("example.com:"), &hp), -1);
    assert_int_equal(sip_hostport_parse(hs("example.com:65536"), &hp), -1);
    assert_int_equal(sip_hostport_parse(hs("example.com:http"), &hp), -1);
    assert_int_equal(sip_hostport_parse(hs("2001:db8::10"), &hp), -1);
    assert_int_equal(sip_hostport_parse(hs("[2001:db8::10"), &hp), -1);
    assert_int_equal(sip_hostport_parse(hs("[]"), &hp), -1);
    assert_int_equal(sip_hostport_parse(hs("[2001:db8::xyz]"), &hp), -1);
    assert_int_equal(sip_hostport_parse(hs("exa mple.com"), &hp), -1);
    assert_int_equal(sip_hostport_parse(hs("example.com "), &hp), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_no_params),
        cmocka_unit_test(test_sent_protocol_lws),
        cmocka_unit_test(test_transports),
        cmocka_unit_test(test_sent_by_ipv4_port),
        cmocka_unit_test(test_sent_by_ipv6),
        cmocka_unit_test(test_port_out_of_range),
        cmocka_unit_test(test_malformed_protocol),
        cmocka_unit_test(test_received),
        cmocka_unit_test(test_rport),
        cmocka_unit_test(test_maddr_ttl),
        cmocka_unit_test(test_param_case_and_lws),
        cmocka_unit_test(test_unknown_and_quoted_params),
        cmocka_unit_test(test_stray_semicolons),
        cmocka_unit_test(test_branch_magic_cookie_only),
        cmocka_unit_test(test_top_via_multi_value_line),
        cmocka_unit_test(test_top_via_compact),
        cmocka_unit_test(test_top_via_absent_or_bad),
        cmocka_unit_test(test_via_next_values),
        cmocka_unit_test(test_via_next_folded),
        cmocka_unit_test(test_via_next_empty_values),
        cmocka_unit_test(test_via_next_matches_via_parse),
        cmocka_unit_test(test_hostport),
    };
    return cmocka_run_group_tests(tests, NULL, heap_release);
}
