/*
 * test_sip_index.c - the zero-copy header index built by sip_parse: header-name lookup (case
 * insensitivity, every long name and compact form of the SIP_HDR_LIST table, unknown names),
 * msg->first and msg->count, sip_msg_header_find / _next / _find_name, folded header values
 * (value spans the folds, folded flag, raw covers every physical line), value trimming, white
 * space before the colon, empty values, sip_value_next splitting comma lists (quotes and <> do
 * not split, empty values are reported), and method ids (methods are case-sensitive).
 */
#include <ctype.h>

#include "sip_test_util.h"

/* ---------------------------------------------------------------- header-name lookup */

typedef struct {
    sip_hdr_id_t id;
    const char *name;
    char compact;
} hdr_row_t;

#define HDR_ROW(id, name, compact) {SIP_HDR_##id, name, compact},
static const hdr_row_t hdr_table[] = {SIP_HDR_LIST(HDR_ROW)};
#undef HDR_ROW

static void test_lookup_long_names_any_case(void **state)
{
    (void)state;
    assert_int_equal(sizeof(hdr_table) / sizeof(hdr_table[0]), SIP_HDR__COUNT);
    for (size_t i = 0; i < SIP_HDR__COUNT; i++) {
        const hdr_row_t *r = &hdr_table[i];
        size_t n = strlen(r->name);
        assert_string_equal(sip_hdr_name(r->id), r->name);
        if (n == 0) {
            continue;
        }
        char lower[64], upper[64], mixed[64];
        assert_true(n < sizeof(lower));
        for (size_t k = 0; k < n; k++) {
            lower[k] = (char)tolower((unsigned char)r->name[k]);
            upper[k] = (char)toupper((unsigned char)r->name[k]);
            mixed[k] = (char)(k % 2 ? lower[k] : upper[k]);
        }
        const char *forms[] = {r->name, lower, upper, mixed};
        for (size_t f = 0; f < 4; f++) {
            /* exact-size heap copy: lookup must not rely on a terminator */
            const char *p = heap_copy(forms[f], n);
            sip_hdr_id_t got = sip_hdr_lookup(p, n);
            if (got != r->id) {
                print_error("lookup(%.*s) = %d, want %d\n", (int)n, forms[f], (int)got, (int)r->id);
            }
            assert_int_equal(got, r->id);
        }
    }
}

static void test_lookup_compact_forms(void **state)
{
    (void)state;
    static const char expected[] = "imelcfsktvourbxyajd";
    size_t seen = 0;
    for (size_t i = 0; i < SIP_HDR__COUNT; i++) {
        const hdr_row_t *r = &hdr_table[i];
        if (r->compact == 0) {
            continue;
        }
        seen++;
        assert_non_null(strchr(expected, r->compact));
        char lc = r->compact, uc = (char)toupper((unsigned char)r->compact);
        assert_int_equal(sip_hdr_lookup(heap_copy(&lc, 1), 1), r->id);
        assert_int_equal(sip_hdr_lookup(heap_copy(&uc, 1), 1), r->id);
    }
    assert_int_equal(seen, sizeof(expected) - 1);
    /* spot checks of the RFC 3261 7.3.3 / 20 forms */
    assert_int_equal(sip_hdr_lookup(LIT("i")), SIP_HDR_CALL_ID);
    assert_int_equal(sip_hdr_lookup(LIT("m")), SIP_HDR_CONTACT);
    assert_int_equal(sip_hdr_lookup(LIT("e")), SIP_HDR_CONTENT_ENCODING);
    assert_int_equal(sip_hdr_lookup(LIT("l")), SIP_HDR_CONTENT_LENGTH);
    assert_int_equal(sip_hdr_lookup(LIT("c")), SIP_HDR_CONTENT_TYPE);
    assert_int_equal(sip_hdr_lookup(LIT("f")), SIP_HDR_FROM);
    assert_int_equal(sip_hdr_lookup(LIT("s")), SIP_HDR_SUBJECT);
    assert_int_equal(sip_hdr_lookup(LIT("k")), SIP_HDR_SUPPORTED);
    assert_int_equal(sip_hdr_lookup(LIT("t")), SIP_HDR_TO);
    assert_int_equal(sip_hdr_lookup(LIT("v")), SIP_HDR_VIA);
    assert_int_equal(sip_hdr_lookup(LIT("o")), SIP_HDR_EVENT);
    assert_int_equal(sip_hdr_lookup(LIT("u")), SIP_HDR_ALLOW_EVENTS);
    assert_int_equal(sip_hdr_lookup(LIT("r")), SIP_HDR_REFER_TO);
    assert_int_equal(sip_hdr_lookup(LIT("b")), SIP_HDR_REFERRED_BY);
    assert_int_equal(sip_hdr_lookup(LIT("x")), SIP_HDR_SESSION_EXPIRES);
    assert_int_equal(sip_hdr_lookup(LIT("y")), SIP_HDR_IDENTITY);
    assert_int_equal(sip_hdr_lookup(LIT("a")), SIP_HDR_ACCEPT_CONTACT);
    assert_int_equal(sip_hdr_lookup(LIT("j")), SIP_HDR_REJECT_CONTACT);
    assert_int_equal(sip_hdr_lookup(LIT("d")), SIP_HDR_REQUEST_DISPOSITION);
}

static void test_lookup_unknown(void **state)
{
    (void)state;
    static const char *const names[] = {
        "X-Foo", "Vias", "Vi", "Content-Lengt", "Content-Lengthx", "Call-IDx", "Call_ID", "g",
        "n",     "z",    "ii", "CSeq2",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i]);
        assert_int_equal(sip_hdr_lookup(heap_copy(names[i], n), n), SIP_HDR_OTHER);
    }
    assert_int_equal(sip_hdr_lookup(heap_copy("", 0), 0), SIP_HDR_OTHER);
    /* C%6Fntact (RFC 4475 3.1.1.5) is not Contact */
    assert_int_equal(sip_hdr_lookup(LIT("C%6Fntact")), SIP_HDR_OTHER);
    assert_string_equal(sip_hdr_name(SIP_HDR_OTHER), "");
}

static void test_lookup_no_case_fold_false_match(void **state)
{
    (void)state;
    /* bytes that only look like name characters after OR-ing 0x20 (CR | 0x20 == '-') */
    assert_int_equal(sip_hdr_lookup(LIT("Call\rID")), SIP_HDR_OTHER);
    assert_int_equal(sip_hdr_lookup(LIT("Content\rLength")), SIP_HDR_OTHER);
    assert_int_equal(sip_hdr_lookup(LIT("Max\rForwards")), SIP_HDR_OTHER);
}

/* ---------------------------------------------------------------- first / count / find */

static const char msg_multi[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                                "Via: SIP/2.0/TLS a.example.com;branch=z9hG4bK1\r\n" /* 0 */
                                "X-Custom: one\r\n"                                  /* 1 */
                                "v: SIP/2.0/TLS b.example.com;branch=z9hG4bK2\r\n"   /* 2 */
                                "To: <sip:bob@example.com>\r\n"                      /* 3 */
                                "VIA: SIP/2.0/TLS c.example.com;branch=z9hG4bK3\r\n" /* 4 */
                                "x-custom: two\r\n"                                  /* 5 */
                                "X-Other: three\r\n"                                 /* 6 */
                                "Content-Length: 0\r\n"                              /* 7 */
                                "\r\n";

static void test_first_and_count(void **state)
{
    (void)state;
    tmsg_t t;
    assert_int_equal(TPARSE(&t, msg_multi), sizeof(msg_multi) - 1);
    assert_int_equal(t.msg.nhdrs, 8);
    assert_int_equal(t.msg.first[SIP_HDR_VIA], 0);
    assert_int_equal(t.msg.count[SIP_HDR_VIA], 3);
    assert_int_equal(t.msg.first[SIP_HDR_TO], 3);
    assert_int_equal(t.msg.count[SIP_HDR_TO], 1);
    assert_int_equal(t.msg.first[SIP_HDR_OTHER], 1);
    assert_int_equal(t.msg.count[SIP_HDR_OTHER], 3);
    assert_int_equal(t.msg.first[SIP_HDR_CONTENT_LENGTH], 7);
    assert_int_equal(t.msg.first[SIP_HDR_FROM], -1);
    assert_int_equal(t.msg.count[SIP_HDR_FROM], 0);
    assert_int_equal(t.msg.first[SIP_HDR_WWW_AUTHENTICATE], -1);
    assert_int_equal(tmsg_hdr(&t, 2)->id, SIP_HDR_VIA);
    assert_slice(tmsg_hdr(&t, 2)->name, "v");
    assert_int_equal(tmsg_hdr(&t, 1)->id, SIP_HDR_OTHER);
}

static void test_count_saturates(void **state)
{
    (void)state;
    enum { N = 300 };
    static char buf[64 + N * 16];
    static sip_hdr_t hdrs[N + 4];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "OPTIONS sip:b@example.com SIP/2.0\r\n");
    for (int i = 0; i < N; i++) {
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "Subject: %03d\r\n", i);
    }
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "l: 0\r\n\r\n");
    const char *copy = heap_copy(buf, n);
    sip_msg_t msg;
    sip_msg_init(&msg, hdrs, N + 4);
    assert_int_equal(sip_parse(copy, n, &msg, 0), (int)n);
    assert_int_equal(msg.nhdrs, N + 1);
    assert_int_equal(msg.count[SIP_HDR_SUBJECT], 255);
    assert_int_equal(msg.first[SIP_HDR_SUBJECT], 0);
    assert_int_equal(msg.first[SIP_HDR_CONTENT_LENGTH], N);
}

static void test_header_find_next(void **state)
{
    (void)state;
    tmsg_t t;
    assert_int_equal(TPARSE(&t, msg_multi), sizeof(msg_multi) - 1);
    const sip_hdr_t *h = sip_msg_header_find(&t.msg, SIP_HDR_VIA);
    assert_ptr_equal(h, &t.msg.hdrs[0]);
    assert_slice(h->value, "SIP/2.0/TLS a.example.com;branch=z9hG4bK1");
    h = sip_msg_header_next(&t.msg, h);
    assert_ptr_equal(h, &t.msg.hdrs[2]);
    h = sip_msg_header_next(&t.msg, h);
    assert_ptr_equal(h, &t.msg.hdrs[4]);
    assert_null(sip_msg_header_next(&t.msg, h));
    assert_null(sip_msg_header_find(&t.msg, SIP_HDR_FROM));

    /*
     * Unknown headers all have id OTHER; _next after one of them continues with the next
     * header of the same name (case-insensitive), so find_name + next walks one custom header.
     */
    h = sip_msg_header_find(&t.msg, SIP_HDR_OTHER);
    assert_ptr_equal(h, &t.msg.hdrs[1]);
    h = sip_msg_header_next(&t.msg, h);
    assert_ptr_equal(h, &t.msg.hdrs[5]);
    assert_null(sip_msg_header_next(&t.msg, h));
    h = sip_msg_header_find_name(&t.msg, LIT("X-Other"));
    assert_ptr_equal(h, &t.msg.hdrs[6]);
    assert_null(sip_msg_header_next(&t.msg, h));
}

static void test_header_find_name(void **state)
{
    (void)state;
    tmsg_t t;
    assert_int_equal(TPARSE(&t, msg_multi), sizeof(msg_multi) - 1);
    /* known names resolve through their id: the compact form finds the long one too */
    assert_ptr_equal(sip_msg_header_find_name(&t.msg, LIT("v")), &t.msg.hdrs[0]);
    assert_ptr_equal(sip_msg_header_find_name(&t.msg, LIT("via")), &t.msg.hdrs[0]);
    assert_ptr_equal(sip_msg_header_find_name(&t.msg, LIT("t")), &t.msg.hdrs[3]);
    assert_ptr_equal(sip_msg_header_find_name(&t.msg, LIT("l")), &t.msg.hdrs[7]);
    /* unknown names compare case-insensitively */
    assert_ptr_equal(sip_msg_header_find_name(&t.msg, LIT("X-CUSTOM")), &t.msg.hdrs[1]);
    assert_ptr_equal(sip_msg_header_find_name(&t.msg, LIT("x-other")), &t.msg.hdrs[6]);
    assert_null(sip_msg_header_find_name(&t.msg, LIT("X-Missing")));
    assert_null(sip_msg_header_find_name(&t.msg, LIT("X-Custo")));
    assert_null(sip_msg_header_find_name(&t.msg, LIT("From")));
    /* the name is a slice, not a C string: only len bytes count */
    assert_ptr_equal(sip_msg_header_find_name(&t.msg, "X-Custom: trailing bytes", 8),
                     &t.msg.hdrs[1]);
}

/* ---------------------------------------------------------------- values */

static void test_folding(void **state)
{
    (void)state;
    static const char m[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                            "NewFangledHeader:   newfangled value\r\n"
                            " continued newfangled value\r\n"
                            "\tand more\r\n"
                            "Subject: plain\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_int_equal(t.msg.nhdrs, 3);
    const sip_hdr_t *h = tmsg_hdr(&t, 0);
    assert_slice(h->name, "NewFangledHeader");
    assert_slice(h->value, "newfangled value\r\n continued newfangled value\r\n\tand more");
    assert_true(h->folded);
    assert_slice(h->raw, "NewFangledHeader:   newfangled value\r\n"
                         " continued newfangled value\r\n"
                         "\tand more\r\n");
    h = tmsg_hdr(&t, 1);
    assert_false(h->folded);
    assert_slice(h->raw, "Subject: plain\r\n");
    assert_slice(h->value, "plain");
}

static void test_folding_blank_continuation(void **state)
{
    (void)state;
    /* a continuation line holding only white space adds nothing to the value */
    static const char m[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                            "Subject: a\r\n"
                            " \t \r\n"
                            "X-Two: b\r\n"
                            "  c  \r\n"
                            "   \r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_int_equal(t.msg.nhdrs, 3);
    assert_slice(tmsg_hdr(&t, 0)->value, "a");
    assert_slice(tmsg_hdr(&t, 0)->raw, "Subject: a\r\n \t \r\n");
    assert_slice(tmsg_hdr(&t, 1)->value, "b\r\n  c");
    assert_slice(tmsg_hdr(&t, 1)->raw, "X-Two: b\r\n  c  \r\n   \r\n");
}

static void test_folding_value_on_next_line(void **state)
{
    (void)state;
    /* RFC 4475 wsinv: "TO :" with the whole value on the continuation line. */
    static const char m[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                            "TO :\r\n"
                            " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    const sip_hdr_t *h = tmsg_hdr(&t, 0);
    assert_int_equal(h->id, SIP_HDR_TO);
    assert_slice(h->name, "TO");
    assert_slice(h->value, "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n");
    assert_slice(h->raw, "TO :\r\n"
                         " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n");
}

static void test_value_trimming(void **state)
{
    (void)state;
    static const char m[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                            "Subject:   hello  world \t \r\n"
                            "X-Tab:\tvalue\t\r\n"
                            "X-Tight:value\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_slice(tmsg_hdr(&t, 0)->value, "hello  world");
    assert_slice(tmsg_hdr(&t, 1)->value, "value");
    assert_slice(tmsg_hdr(&t, 2)->value, "value");
    assert_slice(tmsg_hdr(&t, 2)->name, "X-Tight");
}

static void test_space_before_colon(void **state)
{
    (void)state;
    static const char m[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                            "Via  : SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK390skdjuw\r\n"
                            "Content-Length\t: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_slice(tmsg_hdr(&t, 0)->name, "Via");
    assert_int_equal(tmsg_hdr(&t, 0)->id, SIP_HDR_VIA);
    assert_slice(tmsg_hdr(&t, 0)->value, "SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK390skdjuw");
    assert_slice(tmsg_hdr(&t, 1)->name, "Content-Length");
    assert_int_equal(tmsg_hdr(&t, 1)->id, SIP_HDR_CONTENT_LENGTH);
}

static void test_empty_values(void **state)
{
    (void)state;
    static const char m[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                            "Subject:\r\n"
                            "s :   \r\n"
                            "X-Empty: \t\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_int_equal(t.msg.nhdrs, 4);
    assert_int_equal(tmsg_hdr(&t, 0)->value.len, 0);
    assert_int_equal(tmsg_hdr(&t, 0)->id, SIP_HDR_SUBJECT);
    assert_int_equal(tmsg_hdr(&t, 1)->value.len, 0);
    assert_int_equal(tmsg_hdr(&t, 1)->id, SIP_HDR_SUBJECT);
    assert_slice(tmsg_hdr(&t, 1)->raw, "s :   \r\n");
    assert_int_equal(tmsg_hdr(&t, 2)->value.len, 0);
    assert_int_equal(t.msg.count[SIP_HDR_SUBJECT], 2);
}

static void test_utf8_value(void **state)
{
    (void)state;
    static const char m[] = "OPTIONS sip:b@example.com SIP/2.0\r\n"
                            "Subject: caf\xc3\xa9 \xe2\x98\xba\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_slice(tmsg_hdr(&t, 0)->value, "caf\xc3\xa9 \xe2\x98\xba");
}

/* ---------------------------------------------------------------- sip_value_next */

/* Split value and compare with the NULL-terminated list of expected values. */
static void expect_values(const char *value, const char *const *want)
{
    sip_slice_t v = hs(value), out;
    size_t pos = 0, i = 0;
    while (sip_value_next(v, &pos, &out)) {
        assert_non_null(want[i]);
        assert_slice(out, want[i]);
        i++;
        assert_true(i < 64);
    }
    assert_null(want[i]);
    /* after the end it stays at the end */
    assert_int_equal(sip_value_next(v, &pos, &out), 0);
}

static void test_value_next_simple(void **state)
{
    (void)state;
    expect_values("a", (const char *const[]){"a", NULL});
    expect_values("a,b,c", (const char *const[]){"a", "b", "c", NULL});
    expect_values("  a ,\tb  ,  c  ", (const char *const[]){"a", "b", "c", NULL});
    expect_values("timer, 100rel", (const char *const[]){"timer", "100rel", NULL});
}

static void test_value_next_quotes_and_brackets(void **state)
{
    (void)state;
    expect_values("\"Doe, John\" <sip:jd@example.com>;tag=1, <sip:x@example.com>",
                  (const char *const[]){"\"Doe, John\" <sip:jd@example.com>;tag=1",
                                        "<sip:x@example.com>", NULL});
    expect_values("<sip:a@example.com;x=1,2>, <sip:b@example.com>",
                  (const char *const[]){"<sip:a@example.com;x=1,2>", "<sip:b@example.com>", NULL});
    /* an escaped quote does not close the quoted string */
    expect_values("\"a\\\",b\" <sip:a@example.com>, c",
                  (const char *const[]){"\"a\\\",b\" <sip:a@example.com>", "c", NULL});
    expect_values("SIP/2.0/TLS h;x-ms=\"a,b\", SIP/2.0/TCP g",
                  (const char *const[]){"SIP/2.0/TLS h;x-ms=\"a,b\"", "SIP/2.0/TCP g", NULL});
}

static void test_value_next_empty_values(void **state)
{
    (void)state;
    expect_values("a,,b", (const char *const[]){"a", "", "b", NULL});
    expect_values("a, ,b", (const char *const[]){"a", "", "b", NULL});
    expect_values(",a", (const char *const[]){"", "a", NULL});
    expect_values("a,", (const char *const[]){"a", "", NULL});
    /* RFC 4475 badinv01 Via: every value after the first is empty */
    expect_values("SIP/2.0/UDP 192.0.2.15;;,;,,",
                  (const char *const[]){"SIP/2.0/UDP 192.0.2.15;;", ";", "", "", NULL});
}

static void test_value_next_folded(void **state)
{
    (void)state;
    /* the wsinv Via: values separated by a comma followed by a fold */
    expect_values("SIP  / 2.0  / TCP     spindle.example.com   ;\r\n"
                  "  branch  =   z9hG4bK9ikj8  ,\r\n"
                  " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n"
                  " z9hG4bK30239",
                  (const char *const[]){"SIP  / 2.0  / TCP     spindle.example.com   ;\r\n"
                                        "  branch  =   z9hG4bK9ikj8",
                                        "SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n"
                                        " z9hG4bK30239",
                                        NULL});
}

/* ---------------------------------------------------------------- methods */

static void test_method_ids(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        sip_method_t id;
    } rows[] = {
        {"INVITE", SIP_METHOD_INVITE},
        {"ACK", SIP_METHOD_ACK},
        {"BYE", SIP_METHOD_BYE},
        {"CANCEL", SIP_METHOD_CANCEL},
        {"OPTIONS", SIP_METHOD_OPTIONS},
        {"REGISTER", SIP_METHOD_REGISTER},
        {"PRACK", SIP_METHOD_PRACK},
        {"SUBSCRIBE", SIP_METHOD_SUBSCRIBE},
        {"NOTIFY", SIP_METHOD_NOTIFY},
        {"PUBLISH", SIP_METHOD_PUBLISH},
        {"INFO", SIP_METHOD_INFO},
        {"REFER", SIP_METHOD_REFER},
        {"MESSAGE", SIP_METHOD_MESSAGE},
        {"UPDATE", SIP_METHOD_UPDATE},
        {"SERVICE", SIP_METHOD_SERVICE},
        {"BENOTIFY", SIP_METHOD_BENOTIFY},
        {"NEGOTIATE", SIP_METHOD_NEGOTIATE},
        {"invite", SIP_METHOD_OTHER},
        {"Invite", SIP_METHOD_OTHER},
        {"INVITEX", SIP_METHOD_OTHER},
        {"INVIT", SIP_METHOD_OTHER},
        {"NEWMETHOD", SIP_METHOD_OTHER},
        {"RE%47IST%45R", SIP_METHOD_OTHER},
        {"", SIP_METHOD_OTHER},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        size_t n = strlen(rows[i].name);
        assert_int_equal(sip_method_lookup(heap_copy(rows[i].name, n), n), rows[i].id);
    }
}

static void test_method_case_in_request(void **state)
{
    (void)state;
    static const char m[] = "invite sip:b@example.com SIP/2.0\r\n"
                            "Content-Length: 0\r\n"
                            "\r\n";
    tmsg_t t;
    assert_int_equal(TPARSE(&t, m), sizeof(m) - 1);
    assert_slice(t.msg.method, "invite");
    assert_int_equal(t.msg.method_id, SIP_METHOD_OTHER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_long_names_any_case),
        cmocka_unit_test(test_lookup_compact_forms),
        cmocka_unit_test(test_lookup_unknown),
        cmocka_unit_test(test_lookup_no_case_fold_false_match),
        cmocka_unit_test(test_first_and_count),
        cmocka_unit_test(test_count_saturates),
        cmocka_unit_test(test_header_find_next),
        cmocka_unit_test(test_header_find_name),
        cmocka_unit_test(test_folding),
        cmocka_unit_test(test_folding_blank_continuation),
        cmocka_unit_test(test_folding_value_on_next_line),
        cmocka_unit_test(test_value_trimming),
        cmocka_unit_test(test_space_before_colon),
        cmocka_unit_test(test_empty_values),
        cmocka_unit_test(test_utf8_value),
        cmocka_unit_test(test_value_next_simple),
        cmocka_unit_test(test_value_next_quotes_and_brackets),
        cmocka_unit_test(test_value_next_empty_values),
        cmocka_unit_test(test_value_next_folded),
        cmocka_unit_test(test_method_ids),
        cmocka_unit_test(test_method_case_in_request),
    };
    return cmocka_run_group_tests(tests, NULL, heap_release);
}
