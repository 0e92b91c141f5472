/*
 * test_sip_check.c - proxy validation (sip_msg_check, sip_parse_verdict) on hand-written
 * messages: a good request is forwarded; missing Via/From/To/Call-ID/CSeq and duplicated
 * single-valued headers give 400 with the specific error; CSeq method mismatch; Max-Forwards 0
 * gives 483; an unknown Request-URI scheme gives 416; Proxy-Require with an unsupported option
 * gives 420 naming it (Require alone does not, at a proxy); escaped headers in the Request-URI;
 * malformed Via/From/To/Call-ID/CSeq/Request-URI; responses are forwarded or dropped (bad CSeq,
 * missing headers, a next-hop Via sent-by that is a broadcast, multicast or unspecified
 * address); and the error table (status, reason, description, name, framing) for every code.
 */
#include "sip_test_util.h"

#define RLINE  "INVITE sip:bob@example.com SIP/2.0\r\n"
#define VIA    "Via: SIP/2.0/TLS ua.example.com:5061;branch=z9hG4bK74bf9\r\n"
#define MF     "Max-Forwards: 70\r\n"
#define TO     "To: Bob <sip:bob@example.com>\r\n"
#define FROM   "From: Alice <sip:alice@example.com>;tag=9fxced76sl\r\n"
#define CALLID "Call-ID: 3848276298220188511@ua.example.com\r\n"
#define CSEQ   "CSeq: 1 INVITE\r\n"
#define END    "Content-Length: 0\r\n\r\n"

/* Parse lit (which must frame cleanly) and run the checker with opts (NULL: no options). */
#define CHECK(lit, opts, v) run_check((lit), sizeof(lit) - 1, (opts), (v))

static const sip_check_opts_t no_opts = {NULL, 0};

static void run_check(const char *m, size_t n, const sip_check_opts_t *opts, sip_verdict_t *v)
{
    static tmsg_t t; /* slices in v point into t.buf, which lives until heap_release */
    int rc = tmsg_parse(&t, m, n);
    if (rc != (int)n) {
        print_error("parse: rc %d err %s\n", rc, sip_err_name(t.msg.err));
    }
    assert_int_equal(rc, (int)n);
    memset(v, 0x5a, sizeof(*v));
    sip_msg_check(&t.msg, opts ? opts : &no_opts, v);
}

static void expect_reply(const sip_verdict_t *v, int status, sip_err_t err)
{
    if (v->err != err || v->action != SIP_ACT_REPLY) {
        print_error("verdict %s/%d err %s, want reply %d err %s\n", sip_action_name(v->action, 0),
                    v->status, sip_err_name(v->err), status, sip_err_name(err));
    }
    assert_int_equal(v->action, SIP_ACT_REPLY);
    assert_int_equal(v->status, status);
    assert_int_equal(v->err, err);
}

static void expect_forward(const sip_verdict_t *v)
{
    if (v->action != SIP_ACT_FORWARD || v->err != SIP_E_NONE) {
        print_error("verdict %s err %s, want forward\n", sip_action_name(v->action, 0),
                    sip_err_name(v->err));
    }
    assert_int_equal(v->action, SIP_ACT_FORWARD);
    assert_int_equal(v->err, SIP_E_NONE);
}

static void expect_drop(const sip_verdict_t *v, sip_err_t err)
{
    if (v->action != SIP_ACT_DROP || v->err != err) {
        print_error("verdict %s err %s, want drop %s\n", sip_action_name(v->action, 1),
                    sip_err_name(v->err), sip_err_name(err));
    }
    assert_int_equal(v->action, SIP_ACT_DROP);
    assert_int_equal(v->err, err);
}

/* ---------------------------------------------------------------- requests */

static void test_good_request(void **state)
{
    (void)state;
    sip_verdict_t v;
    CHECK(RLINE VIA MF TO FROM CALLID CSEQ END, NULL, &v);
    expect_forward(&v);
}

static void test_good_request_compact_and_no_mf(void **state)
{
    (void)state;
    sip_verdict_t v;
    /* compact forms; no Max-Forwards (the relay inserts one); tel: and sips: R-URIs */
    CHECK("INVITE sips:bob@example.com SIP/2.0\r\n"
          "v: SIP/2.0/TLS ua.example.com;branch=z9hG4bK1\r\n"
          "t: <sips:bob@example.com>\r\n"
          "f: <sips:alice@example.com>;tag=1\r\n"
          "i: abc@example.com\r\n" CSEQ "l: 0\r\n\r\n",
          NULL, &v);
    expect_forward(&v);
    CHECK("OPTIONS tel:+1-201-555-0123 SIP/2.0\r\n" VIA MF TO FROM CALLID "CSeq: 2 OPTIONS\r\n" END,
          NULL, &v);
    expect_forward(&v);
}

static void test_missing_headers(void **state)
{
    (void)state;
    sip_verdict_t v;
    CHECK(RLINE MF TO FROM CALLID CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_MISSING_VIA);
    CHECK(RLINE VIA MF FROM CALLID CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_MISSING_TO);
    CHECK(RLINE VIA MF TO CALLID CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_MISSING_FROM);
    CHECK(RLINE VIA MF TO FROM CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_MISSING_CALL_ID);
    CHECK(RLINE VIA MF TO FROM CALLID END, NULL, &v);
    expect_reply(&v, 400, SIP_E_MISSING_CSEQ);
}

static void test_missing_several(void **state)
{
    (void)state;
    sip_verdict_t v;
    /* RFC 4475 3.3.1 (insuf): no Call-ID, From or To; any of the three errors is fine */
    CHECK(RLINE VIA MF CSEQ END, NULL, &v);
    assert_int_equal(v.action, SIP_ACT_REPLY);
    assert_int_equal(v.status, 400);
    assert_true(v.err == SIP_E_MISSING_CALL_ID || v.err == SIP_E_MISSING_FROM ||
                v.err == SIP_E_MISSING_TO);
}

static void test_duplicate_single_headers(void **state)
{
    (void)state;
    sip_verdict_t v;
    CHECK(RLINE VIA MF TO FROM "f: <sip:eve@example.com>;tag=2\r\n" CALLID CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_DUP_FROM);
    CHECK(RLINE VIA MF TO "To: <sip:carol@example.com>\r\n" FROM CALLID CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_DUP_TO);
    CHECK(RLINE VIA MF TO FROM CALLID "i: other@example.com\r\n" CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_DUP_CALL_ID);
    CHECK(RLINE VIA MF TO FROM CALLID CSEQ "CSeq: 2 INVITE\r\n" END, NULL, &v);
    expect_reply(&v, 400, SIP_E_DUP_CSEQ);
    CHECK(RLINE VIA MF "Max-Forwards: 69\r\n" TO FROM CALLID CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_DUP_MAX_FORWARDS);
    /* identical copies are still two headers */
    CHECK(RLINE VIA MF TO FROM CALLID CSEQ CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_DUP_CSEQ);
}

static void test_cseq_method_mismatch(void **state)
{
    (void)state;
    sip_verdict_t v;
    /* RFC 4475 3.1.2.17 (mismatch01) */
    CHECK("OPTIONS sip:user@example.com SIP/2.0\r\n" VIA MF TO FROM CALLID CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_CSEQ_METHOD);
    /* methods are case-sensitive */
    CHECK(RLINE VIA MF TO FROM CALLID "CSeq: 1 invite\r\n" END, NULL, &v);
    expect_reply(&v, 400, SIP_E_CSEQ_METHOD);
    /* RFC 4475 3.1.2.18 (mismatch02): an unknown method; 501 preferred, 400 allowed */
    CHECK("NEWMETHOD sip:user@example.com SIP/2.0\r\n" VIA MF TO FROM CALLID CSEQ END, NULL, &v);
    assert_int_equal(v.action, SIP_ACT_REPLY);
    assert_true(v.status == 400 || v.status == 501);
    /* an unknown method with a matching CSeq is forwarded */
    CHECK("NEWMETHOD sip:user@example.com SIP/2.0\r\n" VIA MF TO FROM CALLID
          "CSeq: 1 NEWMETHOD\r\n" END,
          NULL, &v);
    expect_forward(&v);
}

static void test_max_forwards_zero(void **state)
{
    (void)state;
    sip_verdict_t v;
    /* RFC 4475 3.3.11 (zeromf), RFC 3261 16.3 step 3 */
    CHECK(RLINE VIA "Max-Forwards: 0\r\n" TO FROM CALLID CSEQ END, NULL, &v);
    expect_reply(&v, 483, SIP_E_TOO_MANY_HOPS);
    CHECK(RLINE VIA "Max-Forwards: 1\r\n" TO FROM CALLID CSEQ END, NULL, &v);
    expect_forward(&v);
}

static void test_unknown_ruri_scheme(void **state)
{
    (void)state;
    sip_verdict_t v;
    /* RFC 4475 3.3.2 (unkscm) and 3.3.3 (novelsc) */
    CHECK("OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0\r\n" VIA MF TO FROM CALLID
          "CSeq: 1 OPTIONS\r\n" END,
          NULL, &v);
    expect_reply(&v, 416, SIP_E_UNSUPPORTED_SCHEME);
    CHECK("OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0\r\n" VIA MF TO FROM CALLID
          "CSeq: 1 OPTIONS\r\n" END,
          NULL, &v);
    expect_reply(&v, 416, SIP_E_UNSUPPORTED_SCHEME);
}

static void test_ruri_malformed(void **state)
{
    (void)state;
    sip_verdict_t v;
    /* RFC 5118 4.2: IPv6 reference without brackets */
    CHECK("REGISTER sip:2001:db8::10 SIP/2.0\r\n" VIA MF TO FROM CALLID "CSeq: 1 REGISTER\r\n" END,
          NULL, &v);
    expect_reply(&v, 400, SIP_E_BAD_RURI);
    CHECK("INVITE sip:user@ SIP/2.0\r\n" VIA MF TO FROM CALLID CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_BAD_RURI);
}

static void test_ruri_headers(void **state)
{
    (void)state;
    sip_verdict_t v;
    /* RFC 4475 3.1.2.11 (escruri), RFC 3261 19.1.5 */
    CHECK("INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0\r\n" VIA MF TO FROM
              CALLID CSEQ END,
          NULL, &v);
    expect_reply(&v, 400, SIP_E_RURI_HEADERS);
}

static void test_proxy_require(void **state)
{
    (void)state;
    sip_verdict_t v;
    static const char *const supported[] = {"ms-benotify", "sec-agree"};
    const sip_check_opts_t opts = {supported, 2};

    /* RFC 4475 3.3.5 (bext01), RFC 3261 16.3 step 5 */
    CHECK(RLINE VIA MF TO FROM CALLID CSEQ "Proxy-Require: noProxiesSupportThis\r\n" END, NULL, &v);
    expect_reply(&v, 420, SIP_E_BAD_EXTENSION);
    assert_slice(v.unsupported, "noProxiesSupportThis");

    /* a supported tag passes */
    CHECK(RLINE VIA MF TO FROM CALLID CSEQ "Proxy-Require: ms-benotify\r\n" END, &opts, &v);
    expect_forward(&v);

    /* the first unsupported tag of a list, across lines */
    CHECK(RLINE VIA MF TO FROM CALLID CSEQ "Proxy-Require: ms-benotify , sec-agree\r\n"
                                           "Proxy-Require: sec-agree, foo, bar\r\n" END,
          &opts, &v);
    expect_reply(&v, 420, SIP_E_BAD_EXTENSION);
    assert_slice(v.unsupported, "foo");

    /* option tags compare case-sensitively */
    CHECK(RLINE VIA MF TO FROM CALLID CSEQ "Proxy-Require: MS-BENOTIFY\r\n" END, &opts, &v);
    expect_reply(&v, 420, SIP_E_BAD_EXTENSION);
    assert_slice(v.unsupported, "MS-BENOTIFY");
}

static void test_proxy_require_malformed(void **state)
{
    (void)state;
    sip_verdict_t v;
    static const char *const supported[] = {"foo"};
    const sip_check_opts_t opts = {supported, 1};
    CHECK(RLINE VIA MF TO FROM CALLID CSEQ "Proxy-Require: foo,,foo\r\n" END, &opts, &v);
    expect_reply(&v, 400, SIP_E_BAD_REQUIRE);
    CHECK(RLINE VIA MF TO FROM CALLID CSEQ "Proxy-Require: fo@o\r\n" END, &opts, &v);
    expect_reply(&v, 400, SIP_E_BAD_REQUIRE);
}

static void test_require_alone_not_checked(void **state)
{
    (void)state;
    sip_verdict_t v;
    /* Require is for the UAS (RFC 3261 8.2.2.3); a proxy forwards it */
    CHECK(RLINE VIA MF TO FROM CALLID CSEQ
          "Require: nothingSupportsThis, nothingSupportsThisEither\r\n" END,
          NULL, &v);
    expect_forward(&v);
}

static void test_bad_header_values(void **state)
{
    (void)state;
    sip_verdict_t v;
    /* RFC 4475 3.1.2.1 (badinv01) */
    CHECK(RLINE "Via: SIP/2.0/UDP 192.0.2.15;;,;,,\r\n" MF TO FROM CALLID CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_BAD_VIA);
    CHECK(RLINE "Via: SIP/2.0/UDP 192.0.2.15:99999;branch=z9hG4bK1\r\n" MF TO FROM CALLID CSEQ END,
          NULL, &v);
    expect_reply(&v, 400, SIP_E_BAD_VIA);
    CHECK(RLINE VIA MF TO "From: <sip:alice@example.com;tag=1\r\n" CALLID CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_BAD_FROM);
    CHECK(RLINE VIA MF "To: Bob <sip:bob@example.com\r\n" FROM CALLID CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_BAD_TO);
    CHECK(RLINE VIA MF TO FROM "Call-ID: two words\r\n" CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_BAD_CALL_ID);
    CHECK(RLINE VIA MF TO FROM "Call-ID:\r\n" CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_BAD_CALL_ID);
    /* RFC 4475 3.1.2.4 (scalar02) */
    CHECK(RLINE VIA MF TO FROM CALLID "CSeq: 36893488147419103232 INVITE\r\n" END, NULL, &v);
    expect_reply(&v, 400, SIP_E_BAD_CSEQ);
    CHECK(RLINE VIA MF TO FROM CALLID "CSeq: INVITE\r\n" END, NULL, &v);
    expect_reply(&v, 400, SIP_E_BAD_CSEQ);
}

static void test_empty_via_line(void **state)
{
    (void)state;
    sip_verdict_t v;
    /* RFC 3261 25.1: Via = ( "Via" / "v" ) HCOLON via-parm *(COMMA via-parm); an empty Via
     * line is malformed even when another Via line follows (and as the first one it would
     * leave the relay without a top Via: sip_msg_top_via fails) */
    CHECK(RLINE "Via:\r\n" VIA MF TO FROM CALLID CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_BAD_VIA);
    CHECK(RLINE VIA "Via:   \r\n" MF TO FROM CALLID CSEQ END, NULL, &v);
    expect_reply(&v, 400, SIP_E_BAD_VIA);
}

static void test_ipv6_request_forwarded(void **state)
{
    (void)state;
    sip_verdict_t v;
    /* RFC 5118 4.5 and 4.10: tolerated forms are forwarded */
    CHECK("REGISTER sip:[2001:db8::10] SIP/2.0\r\n"
          "Via: SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3\r\n" MF TO
              FROM CALLID "CSeq: 1 REGISTER\r\n" END,
          NULL, &v);
    expect_forward(&v);
    CHECK("REGISTER sip:user@[2001:db8:::192.0.2.1] SIP/2.0\r\n" VIA MF TO FROM CALLID
          "CSeq: 1 REGISTER\r\n" END,
          NULL, &v);
    expect_forward(&v);
}

/* ---------------------------------------------------------------- responses */

#define SLINE "SIP/2.0 200 OK\r\n"
#define RVIA1 "Via: SIP/2.0/TLS edge.example.com:5061;branch=z9hG4bKedge1\r\n"
#define RVIA2 "Via: SIP/2.0/TLS ua.example.com;received=192.0.2.44;branch=z9hG4bK74bf9\r\n"
#define RTO   "To: Bob <sip:bob@example.com>;tag=8321234356\r\n"

static void test_good_response(void **state)
{
    (void)state;
    sip_verdict_t v;
    CHECK(SLINE RVIA1 RVIA2 RTO FROM CALLID CSEQ END, NULL, &v);
    expect_forward(&v);
    /* responses carry no Max-Forwards and may have any CSeq method */
    CHECK("SIP/2.0 100 Trying\r\n" RVIA1 RVIA2 RTO FROM CALLID "CSeq: 7 BYE\r\n" END, NULL, &v);
    expect_forward(&v);
}

static void test_response_bad_cseq(void **state)
{
    (void)state;
    sip_verdict_t v;
    /* RFC 4475 3.1.2.5 (scalarlg) */
    CHECK("SIP/2.0 503 Service Unavailable\r\n" RVIA1 RVIA2 RTO FROM CALLID
          "CSeq: 193942 SUBSCRIBE\r\n"
          "CSeq: 36893488147419103232 SUBSCRIBE\r\n" END,
          NULL, &v);
    assert_int_equal(v.action, SIP_ACT_DROP);
    CHECK(SLINE RVIA1 RVIA2 RTO FROM CALLID "CSeq: 36893488147419103232 INVITE\r\n" END, NULL, &v);
    expect_drop(&v, SIP_E_BAD_CSEQ);
}

static void test_response_missing_headers(void **state)
{
    (void)state;
    sip_verdict_t v;
    CHECK(SLINE RVIA1 RVIA2 RTO FROM CSEQ END, NULL, &v);
    expect_drop(&v, SIP_E_MISSING_CALL_ID);
    CHECK(SLINE RTO FROM CALLID CSEQ END, NULL, &v);
    expect_drop(&v, SIP_E_MISSING_VIA);
}

static void test_response_broadcast_via(void **state)
{
    (void)state;
    sip_verdict_t v;
    /* RFC 4475 3.3.10 (bcast): the next hop (second Via) is 255.255.255.255 */
    CHECK(SLINE
          "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\r\n"
          "Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23\r\n" RTO FROM CALLID CSEQ END,
          NULL, &v);
    expect_drop(&v, SIP_E_VIA_BROADCAST);
    /* the same with both values on one line */
    CHECK(SLINE "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923, "
                "SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23\r\n" RTO FROM CALLID CSEQ END,
          NULL, &v);
    expect_drop(&v, SIP_E_VIA_BROADCAST);
    /* multicast and unspecified next hops */
    CHECK(SLINE RVIA1 "Via: SIP/2.0/UDP 224.0.0.1;branch=z9hG4bK2\r\n" RTO FROM CALLID CSEQ END,
          NULL, &v);
    expect_drop(&v, SIP_E_VIA_BROADCAST);
    CHECK(SLINE RVIA1 "Via: SIP/2.0/UDP 0.0.0.0;branch=z9hG4bK2\r\n" RTO FROM CALLID CSEQ END, NULL,
          &v);
    expect_drop(&v, SIP_E_VIA_BROADCAST);
}

static void test_response_ipv6_multicast_via(void **state)
{
    (void)state;
    sip_verdict_t v;
    /* the IPv6 forms of a multicast (ff00::/8) and of the unspecified (::) next hop */
    CHECK(SLINE RVIA1 "Via: SIP/2.0/UDP [ff02::1];branch=z9hG4bK2\r\n" RTO FROM CALLID CSEQ END,
          NULL, &v);
    expect_drop(&v, SIP_E_VIA_BROADCAST);
    CHECK(SLINE RVIA1 "Via: SIP/2.0/UDP [::]:5060;branch=z9hG4bK2\r\n" RTO FROM CALLID CSEQ END,
          NULL, &v);
    expect_drop(&v, SIP_E_VIA_BROADCAST);
}

static void test_response_broadcast_other_spellings(void **state)
{
    (void)state;
    sip_verdict_t v;
    /* the same addresses written differently must be recognised too */
    CHECK(SLINE RVIA1
          "Via: SIP/2.0/UDP [0:0:0:0:0:0:0:0];branch=z9hG4bK2\r\n" RTO FROM CALLID CSEQ END,
          NULL, &v);
    expect_drop(&v, SIP_E_VIA_BROADCAST);
    CHECK(SLINE RVIA1
          "Via: SIP/2.0/UDP [::ffff:255.255.255.255];branch=z9hG4bK2\r\n" RTO FROM CALLID CSEQ END,
          NULL, &v);
    expect_drop(&v, SIP_E_VIA_BROADCAST);
    CHECK(SLINE RVIA1
          "Via: SIP/2.0/UDP 000.000.000.000;branch=z9hG4bK2\r\n" RTO FROM CALLID CSEQ END,
          NULL, &v);
    expect_drop(&v, SIP_E_VIA_BROADCAST);
}

static void test_response_empty_top_via(void **state)
{
    (void)state;
    sip_verdict_t v;
    CHECK(SLINE "Via:\r\n" RVIA1 RVIA2 RTO FROM CALLID CSEQ END, NULL, &v);
    expect_drop(&v, SIP_E_BAD_VIA);
}

/* ---------------------------------------------------------------- parse verdicts */

static void parse_verdict_of(const char *m, size_t n, sip_verdict_t *v)
{
    tmsg_t t;
    assert_int_equal(tmsg_parse(&t, m, n), SIP_ERROR);
    memset(v, 0x5a, sizeof(*v));
    sip_parse_verdict(&t.msg, v);
    assert_int_equal(v->err, t.msg.err);
}

static void test_parse_verdicts(void **state)
{
    (void)state;
    sip_verdict_t v;
    static const char version[] = "OPTIONS sip:b@example.com SIP/7.0\r\n" END;
    static const char ncl[] = "INVITE sip:b@example.com SIP/2.0\r\nContent-Length: -999\r\n\r\n";
    static const char colon[] = "OPTIONS sip:b@example.com SIP/2.0\r\nFoobar roobar\r\n" END;
    static const char bigcode[] = "SIP/2.0 4294967301 better not break the receiver\r\n" END;

    parse_verdict_of(LIT(version), &v);
    assert_int_equal(v.action, SIP_ACT_REPLY);
    assert_int_equal(v.status, 505);

    parse_verdict_of(LIT(ncl), &v);
    assert_int_equal(v.action, SIP_ACT_CLOSE);

    parse_verdict_of(LIT(colon), &v);
    assert_int_equal(v.action, SIP_ACT_REPLY);
    assert_int_equal(v.status, 400);

    /* RFC 4475 3.1.2.19 (bigcode): drop the response */
    parse_verdict_of(LIT(bigcode), &v);
    assert_int_equal(v.action, SIP_ACT_DROP);
}

static void test_action_names(void **state)
{
    (void)state;
    assert_string_equal(sip_action_name(SIP_ACT_FORWARD, 0), "forward");
    assert_string_equal(sip_action_name(SIP_ACT_FORWARD, 1), "forward-response");
    assert_string_equal(sip_action_name(SIP_ACT_REPLY, 0), "reply");
    assert_string_equal(sip_action_name(SIP_ACT_DROP, 1), "drop");
    assert_string_equal(sip_action_name(SIP_ACT_CLOSE, 0), "close");
}

/* ---------------------------------------------------------------- the error table */

typedef struct {
    sip_err_t err;
    const char *name;
    int status;
    const char *reason;
    const char *detail;
} err_row_t;

#define ERR_ROW(name, status, reason, detail) {name, #name, status, reason, detail},
static const err_row_t err_table[] = {SIP_ERR_LIST(ERR_ROW)};
#undef ERR_ROW

static void test_error_table(void **state)
{
    (void)state;
    assert_int_equal(sizeof(err_table) / sizeof(err_table[0]), SIP_ERR__COUNT);
    for (size_t i = 0; i < SIP_ERR__COUNT; i++) {
        const err_row_t *r = &err_table[i];
        int st = sip_err_status(r->err);
        assert_int_equal(st, r->status);
        assert_true(st == 0 || st == 400 || st == 413 || st == 416 || st == 420 || st == 483 ||
                    st == 505 || st == 513);
        assert_true((st == 0) == (r->err == SIP_E_NONE));
        assert_non_null(sip_err_reason(r->err));
        assert_true(sip_err_reason(r->err)[0] != '\0');
        assert_string_equal(sip_err_reason(r->err), r->reason);
        assert_non_null(sip_strerror(r->err));
        assert_true(sip_strerror(r->err)[0] != '\0');
        assert_string_equal(sip_strerror(r->err), r->detail);
        /* the name without the SIP_ / SIP_E_ prefix */
        const char *want = r->name + (strncmp(r->name, "SIP_E_", 6) == 0 ? 6 : 4);
        assert_string_equal(sip_err_name(r->err), want);
        int fr = sip_err_is_framing(r->err);
        assert_true(fr == 0 || fr == 1);
    }
    assert_string_equal(sip_err_name(SIP_E_BAD_VIA), "BAD_VIA");
}

static void test_framing_classes(void **state)
{
    (void)state;
    static const sip_err_t framing[] = {SIP_E_CL_MISSING, SIP_E_CL_BAD, SIP_E_CL_MULTIPLE,
                                        SIP_E_BARE_CRLF, SIP_E_TOO_LARGE};
    static const sip_err_t not_framing[] = {
        SIP_E_NONE,
        SIP_E_VERSION,
        SIP_E_HEADER_COLON,
        SIP_E_HEADER_NAME,
        SIP_E_METHOD,
        SIP_E_STATUS_CODE,
        SIP_E_REASON,
        SIP_E_MISSING_VIA,
        SIP_E_MISSING_FROM,
        SIP_E_MISSING_TO,
        SIP_E_MISSING_CALL_ID,
        SIP_E_MISSING_CSEQ,
        SIP_E_DUP_FROM,
        SIP_E_DUP_TO,
        SIP_E_DUP_CALL_ID,
        SIP_E_DUP_CSEQ,
        SIP_E_DUP_MAX_FORWARDS,
        SIP_E_BAD_VIA,
        SIP_E_BAD_FROM,
        SIP_E_BAD_TO,
        SIP_E_BAD_CALL_ID,
        SIP_E_BAD_CSEQ,
        SIP_E_CSEQ_METHOD,
        SIP_E_BAD_MAX_FORWARDS,
        SIP_E_BAD_RURI,
        SIP_E_RURI_HEADERS,
        SIP_E_BAD_REQUIRE,
        SIP_E_UNSUPPORTED_SCHEME,
        SIP_E_BAD_EXTENSION,
        SIP_E_TOO_MANY_HOPS,
        SIP_E_VIA_BROADCAST,
    };
    for (size_t i = 0; i < sizeof(framing) / sizeof(framing[0]); i++) {
        assert_true(sip_err_is_framing(framing[i]));
    }
    for (size_t i = 0; i < sizeof(not_framing) / sizeof(not_framing[0]); i++) {
        if (sip_err_is_framing(not_framing[i])) {
            print_error("%s is classed as a framing error\n", sip_err_name(not_framing[i]));
        }
        assert_false(sip_err_is_framing(not_framing[i]));
    }
}

/* An ACK is never answered: whatever is wrong with it, the verdict is drop. */
static void test_ack_never_answered(void **state)
{
    sip_verdict_t v;
    (void)state;
    CHECK("ACK sip:bob@example.com SIP/2.0\r\n" VIA "Max-Forwards: 0\r\n" TO FROM CALLID
          "CSeq: 1 ACK\r\n" END,
          &no_opts, &v);
    expect_drop(&v, SIP_E_TOO_MANY_HOPS);
    CHECK("ACK sip:bob@example.com SIP/2.0\r\n" VIA MF TO FROM CALLID "CSeq: 1 INVITE\r\n" END,
          &no_opts, &v);
    expect_drop(&v, SIP_E_CSEQ_METHOD);
}

/* A response is relayed only if the headers a dialog keys on parse; otherwise it is dropped. */
static void test_response_bad_dialog_headers(void **state)
{
    sip_verdict_t v;
    (void)state;
    CHECK("SIP/2.0 200 OK\r\n" VIA TO FROM "Call-ID: a b c\r\n" CSEQ END, &no_opts, &v);
    expect_drop(&v, SIP_E_BAD_CALL_ID);
    CHECK("SIP/2.0 200 OK\r\n" VIA TO FROM FROM CALLID CSEQ END, &no_opts, &v);
    expect_drop(&v, SIP_E_DUP_FROM);
    CHECK("SIP/2.0 200 OK\r\n" VIA "To: \"unterminated <sip:a@b>\r\n" FROM CALLID CSEQ END,
          &no_opts, &v);
    expect_drop(&v, SIP_E_BAD_TO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_request),
        cmocka_unit_test(test_good_request_compact_and_no_mf),
        cmocka_unit_test(test_missing_headers),
        cmocka_unit_test(test_missing_several),
        cmocka_unit_test(test_duplicate_single_headers),
        cmocka_unit_test(test_cseq_method_mismatch),
        cmocka_unit_test(test_max_forwards_zero),
        cmocka_unit_test(test_unknown_ruri_scheme),
        cmocka_unit_test(test_ruri_malformed),
        cmocka_unit_test(test_ruri_headers),
        cmocka_unit_test(test_proxy_require),
        cmocka_unit_test(test_proxy_require_malformed),
        cmocka_unit_test(test_require_alone_not_checked),
        cmocka_unit_test(test_bad_header_values),
        cmocka_unit_test(test_empty_via_line),
        cmocka_unit_test(test_ipv6_request_forwarded),
        cmocka_unit_test(test_good_response),
        cmocka_unit_test(test_response_bad_cseq),
        cmocka_unit_test(test_response_missing_headers),
        cmocka_unit_test(test_response_broadcast_via),
        cmocka_unit_test(test_response_ipv6_multicast_via),
        cmocka_unit_test(test_response_broadcast_other_spellings),
        cmocka_unit_test(test_response_empty_top_via),
        cmocka_unit_test(test_parse_verdicts),
        cmocka_unit_test(test_action_names),
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_framing_classes),
        cmocka_unit_test(test_ack_never_answered),
        cmocka_unit_test(test_response_bad_dialog_headers),
    };
    return cmocka_run_group_tests(tests, NULL, heap_release);
}
