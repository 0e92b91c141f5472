/*
 * test_xmpp_policy.c - the XMPP partner allow and block lists: exact names, wildcards and their
 * precedence, per-partner options, the block list winning, case and trailing dots, and every
 * mistake in a file reported as FILE:LINE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "xmpp_policy.h"

static edge_xmpp_policy_t *parse(const char *allow, const char *block)
{
    char err[256] = "";
    edge_xmpp_policy_t *p = edge_xmpp_policy_parse(allow, "allow", block, "block", err, sizeof err);
    if (!p)
        fail_msg("parse failed: %s", err);
    return p;
}

static void expect_error(const char *allow, const char *block, const char *want)
{
    char err[256] = "";
    edge_xmpp_policy_t *p = edge_xmpp_policy_parse(allow, "allow", block, "block", err, sizeof err);
    if (p) {
        edge_xmpp_policy_free(p);
        fail_msg("parsed, expected an error containing '%s'", want);
    }
    if (!strstr(err, want))
        fail_msg("error '%s' does not contain '%s'", err, want);
}

static void test_exact_and_options(void **state)
{
    (void)state;
    edge_xmpp_policy_t *p = parse("# partners\n"
                                  "fabrikam.test auth=sasl\n"
                                  "Northwind.Test. auth=dialback tls=optional  # comment\n"
                                  "\n   \t\n"
                                  "tailspin.test\n",
                                  NULL);
    edge_xmpp_partner_t o;
    assert_int_equal(edge_xmpp_policy_check(p, "fabrikam.test", &o), EDGE_XMPP_ALLOWED);
    assert_int_equal(o.auth, EDGE_XMPP_AUTH_SASL);
    assert_int_equal(o.tls, EDGE_XMPP_TLS_DEFAULT);
    assert_int_equal(edge_xmpp_policy_check(p, "NORTHWIND.test.", &o), EDGE_XMPP_ALLOWED);
    assert_int_equal(o.auth, EDGE_XMPP_AUTH_DIALBACK);
    assert_int_equal(o.tls, EDGE_XMPP_TLS_OPTIONAL);
    assert_int_equal(edge_xmpp_policy_check(p, "tailspin.test", &o), EDGE_XMPP_ALLOWED);
    assert_int_equal(o.auth, EDGE_XMPP_AUTH_ANY);
    assert_int_equal(edge_xmpp_policy_check(p, "sub.fabrikam.test", NULL), EDGE_XMPP_NOT_ALLOWED);
    assert_int_equal(edge_xmpp_policy_check(p, "abrikam.test", NULL), EDGE_XMPP_NOT_ALLOWED);
    assert_int_equal(edge_xmpp_policy_check(p, "", NULL), EDGE_XMPP_NOT_ALLOWED);
    assert_int_equal(edge_xmpp_policy_check(p, NULL, NULL), EDGE_XMPP_NOT_ALLOWED);
    assert_int_equal(edge_xmpp_policy_allowed(p), 3);
    assert_int_equal(edge_xmpp_policy_blocked(p), 0);
    edge_xmpp_policy_free(p);
}

static void test_wildcards_and_precedence(void **state)
{
    (void)state;
    edge_xmpp_policy_t *p = parse("*.partners.test auth=dialback\n"
                                  "*.eu.partners.test auth=sasl\n"
                                  "special.eu.partners.test tls=optional\n",
                                  NULL);
    edge_xmpp_partner_t o;
    assert_int_equal(edge_xmpp_policy_check(p, "a.partners.test", &o), EDGE_XMPP_ALLOWED);
    assert_int_equal(o.auth, EDGE_XMPP_AUTH_DIALBACK);
    assert_int_equal(edge_xmpp_policy_check(p, "x.y.partners.test", &o), EDGE_XMPP_ALLOWED);
    assert_int_equal(o.auth, EDGE_XMPP_AUTH_DIALBACK);
    /* the longest suffix wins, then the exact name */
    assert_int_equal(edge_xmpp_policy_check(p, "b.eu.partners.test", &o), EDGE_XMPP_ALLOWED);
    assert_int_equal(o.auth, EDGE_XMPP_AUTH_SASL);
    assert_int_equal(edge_xmpp_policy_check(p, "special.eu.partners.test", &o), EDGE_XMPP_ALLOWED);
    assert_int_equal(o.auth, EDGE_XMPP_AUTH_ANY);
    assert_int_equal(o.tls, EDGE_XMPP_TLS_OPTIONAL);
    /* a wildcard covers subdomains only */
    assert_int_equal(edge_xmpp_policy_check(p, "partners.test", NULL), EDGE_XMPP_NOT_ALLOWED);
    edge_xmpp_policy_free(p);
}

static void test_block_wins(void **state)
{
    (void)state;
    edge_xmpp_policy_t *p = parse("*\nevil.test\n", "evil.test\n*.spam.test\n");
    assert_int_equal(edge_xmpp_policy_check(p, "anyone.test", NULL), EDGE_XMPP_ALLOWED);
    assert_int_equal(edge_xmpp_policy_check(p, "evil.test", NULL), EDGE_XMPP_BLOCKED);
    assert_int_equal(edge_xmpp_policy_check(p, "Evil.Test", NULL), EDGE_XMPP_BLOCKED);
    assert_int_equal(edge_xmpp_policy_check(p, "a.spam.test", NULL), EDGE_XMPP_BLOCKED);
    assert_int_equal(edge_xmpp_policy_check(p, "spam.test", NULL), EDGE_XMPP_ALLOWED);
    edge_xmpp_policy_free(p);
    p = parse("fabrikam.test\n", "*\n");
    assert_int_equal(edge_xmpp_policy_check(p, "fabrikam.test", NULL), EDGE_XMPP_BLOCKED);
    edge_xmpp_policy_free(p);
    /* no allow list: nobody */
    p = parse(NULL, NULL);
    assert_int_equal(edge_xmpp_policy_check(p, "fabrikam.test", NULL), EDGE_XMPP_NOT_ALLOWED);
    edge_xmpp_policy_free(p);
    assert_string_equal(edge_xmpp_verdict_name(EDGE_XMPP_BLOCKED), "blocked");
}

static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    expect_error("ok.test\nnot-a-domain!\n", NULL, "allow:2: 'not-a-domain!' is not a domain");
    expect_error("ok.test\nnot a domain\n", NULL, "allow:2: unknown option 'a'");
    expect_error("ok.test auth=password\n", NULL, "allow:1: unknown option 'auth=password'");
    expect_error("bad..dots.test\n", NULL, "allow:1: 'bad..dots.test' is not a domain");
    expect_error("*.\n", NULL, "allow:1:");
    expect_error("a.*.test\n", NULL, "allow:1:");
    expect_error(NULL, "x.test\ny.test auth=sasl\n", "block:2: 'auth=sasl': a block list line");
    char err[256];
    assert_null(edge_xmpp_policy_load("/nonexistent/allow", NULL, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/allow:0: cannot open"));
    /* a file on disk */
    char path[] = "/tmp/test_xmpp_policy_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "fabrikam.test auth=sasl\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    edge_xmpp_policy_t *p = edge_xmpp_policy_load(path, "", err, sizeof err);
    unlink(path);
    assert_non_null(p);
    assert_int_equal(edge_xmpp_policy_check(p, "fabrikam.test", NULL), EDGE_XMPP_ALLOWED);
    edge_xmpp_policy_free(p);
}

static void test_many_entries(void **state)
{
    (void)state;
    static char text[200000];
    size_t n = 0;
    for (int i = 4999; i >= 0; i--) /* reverse order: the list sorts itself */
        n += (size_t)snprintf(text + n, sizeof text - n, "partner%d.test\n", i);
    edge_xmpp_policy_t *p = parse(text, NULL);
    assert_int_equal(edge_xmpp_policy_allowed(p), 5000);
    char d[64];
    for (int i = 0; i < 5000; i += 37) {
        snprintf(d, sizeof d, "partner%d.test", i);
        assert_int_equal(edge_xmpp_policy_check(p, d, NULL), EDGE_XMPP_ALLOWED);
    }
    assert_int_equal(edge_xmpp_policy_check(p, "partner5000.test", NULL), EDGE_XMPP_NOT_ALLOWED);
    edge_xmpp_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_and_options), cmocka_unit_test(test_wildcards_and_precedence),
        cmocka_unit_test(test_block_wins),        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_many_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
