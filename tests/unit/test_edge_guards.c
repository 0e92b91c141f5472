/*
 * test_edge_guards.c - the daemon's two pure security pieces: flow tokens (made, verified,
 * refused when forged, from another node or under another key) and the brute-force guard
 * (counting per key over a window, the lockout and its end, bounded memory under a flood).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "authguard.h"
#include "flow.h"

static const unsigned char secret[] = "0123456789abcdef0123456789abcdef";

static void test_flow_roundtrip(void **state)
{
    edge_flow_key_t k;
    char tok[EDGE_FLOW_TOKEN_LEN];
    uint32_t slot, gen;
    (void)state;
    edge_flow_key_init(&k, secret, 32, "edge1");
    edge_flow_token_make(&k, 0x1234, 0xdeadbeef, tok);
    for (size_t i = 0; i < sizeof tok; i++)
        assert_true((tok[i] >= '0' && tok[i] <= '9') || (tok[i] >= 'a' && tok[i] <= 'f'));
    assert_int_equal(edge_flow_token_parse(&k, tok, sizeof tok, &slot, &gen), 0);
    assert_int_equal(slot, 0x1234);
    assert_int_equal(gen, 0xdeadbeef);
}

static void test_flow_forgeries(void **state)
{
    edge_flow_key_t k, other_node, other_key;
    char tok[EDGE_FLOW_TOKEN_LEN], bad[EDGE_FLOW_TOKEN_LEN];
    uint32_t slot, gen;
    (void)state;
    edge_flow_key_init(&k, secret, 32, "edge1");
    edge_flow_key_init(&other_node, secret, 32, "edge2");
    edge_flow_key_init(&other_key, (const unsigned char *)"another secret", 14, "edge1");
    edge_flow_token_make(&k, 7, 1, tok);
    /* every single-character change is refused */
    for (size_t i = 0; i < sizeof tok; i++) {
        memcpy(bad, tok, sizeof tok);
        bad[i] = bad[i] == '0' ? '1' : '0';
        assert_int_equal(edge_flow_token_parse(&k, bad, sizeof bad, &slot, &gen), -1);
    }
    /* another slot with the MAC of this one */
    edge_flow_token_make(&k, 8, 1, bad);
    memcpy(bad + 16, tok + 16, sizeof tok - 16);
    assert_int_equal(edge_flow_token_parse(&k, bad, sizeof bad, &slot, &gen), -1);
    /* another node, another key, wrong length, upper case, non-hex */
    assert_int_equal(edge_flow_token_parse(&other_node, tok, sizeof tok, &slot, &gen), -1);
    assert_int_equal(edge_flow_token_parse(&other_key, tok, sizeof tok, &slot, &gen), -1);
    assert_int_equal(edge_flow_token_parse(&k, tok, sizeof tok - 1, &slot, &gen), -1);
    memcpy(bad, tok, sizeof tok);
    for (size_t i = 0; i < sizeof bad; i++)
        if (bad[i] >= 'a')
            bad[i] = (char)(bad[i] - 32);
    if (memcmp(bad, tok, sizeof tok) != 0)
        assert_int_equal(edge_flow_token_parse(&k, bad, sizeof bad, &slot, &gen), -1);
    memcpy(bad, tok, sizeof tok);
    bad[3] = 'g';
    assert_int_equal(edge_flow_token_parse(&k, bad, sizeof bad, &slot, &gen), -1);
}

static void test_guard_lockout(void **state)
{
    edge_authguard_t *g = edge_authguard_new(3, 60000, 10000, 64);
    (void)state;
    assert_non_null(g);
    assert_false(edge_authguard_locked(g, "u:alice", 7, 0));
    assert_int_equal(edge_authguard_fail(g, "u:alice", 7, 1000), 0);
    assert_int_equal(edge_authguard_fail(g, "u:alice", 7, 2000), 0);
    assert_false(edge_authguard_locked(g, "u:alice", 7, 2000));
    assert_int_equal(edge_authguard_fail(g, "u:alice", 7, 3000), 1); /* the third: locked */
    assert_true(edge_authguard_locked(g, "u:alice", 7, 3001));
    assert_false(edge_authguard_locked(g, "u:bob", 5, 3001));        /* keys are separate */
    assert_int_equal(edge_authguard_fail(g, "u:alice", 7, 4000), 0); /* no second lockout */
    assert_true(edge_authguard_locked(g, "u:alice", 7, 12999));
    assert_false(edge_authguard_locked(g, "u:alice", 7, 13001)); /* lockout over */
    edge_authguard_free(g);
}

static void test_guard_window_and_success(void **state)
{
    edge_authguard_t *g = edge_authguard_new(3, 1000, 10000, 64);
    (void)state;
    edge_authguard_fail(g, "s:10.0.0.1", 10, 0);
    edge_authguard_fail(g, "s:10.0.0.1", 10, 500);
    /* the window expired: counting starts again */
    assert_int_equal(edge_authguard_fail(g, "s:10.0.0.1", 10, 2000), 0);
    assert_int_equal(edge_authguard_fail(g, "s:10.0.0.1", 10, 2100), 0);
    edge_authguard_success(g, "s:10.0.0.1", 10);
    assert_int_equal(edge_authguard_fail(g, "s:10.0.0.1", 10, 2200), 0);
    assert_int_equal(edge_authguard_fail(g, "s:10.0.0.1", 10, 2300), 0);
    assert_int_equal(edge_authguard_fail(g, "s:10.0.0.1", 10, 2400), 1);
    edge_authguard_free(g);
}

static void test_guard_flood_keeps_lockouts(void **state)
{
    edge_authguard_t *g = edge_authguard_new(2, 60000, 60000, 64);
    char key[32];
    (void)state;
    edge_authguard_fail(g, "u:victim", 8, 0);
    assert_int_equal(edge_authguard_fail(g, "u:victim", 8, 1), 1);
    /* a flood of new keys cannot push a running lockout out of the table */
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(key, sizeof key, "u:flood%d", i);
        edge_authguard_fail(g, key, (size_t)n, 10 + (uint64_t)(i % 1000));
    }
    assert_true(edge_authguard_locked(g, "u:victim", 8, 50000));
    edge_authguard_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_roundtrip),
        cmocka_unit_test(test_flow_forgeries),
        cmocka_unit_test(test_guard_lockout),
        cmocka_unit_test(test_guard_window_and_success),
        cmocka_unit_test(test_guard_flood_keeps_lockouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
