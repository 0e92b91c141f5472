/*
 * test_conf.c - the configuration loader: the shipped files load, defaults apply where a key is
 * absent, and every kind of mistake is an error that names file:line and the key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"

static conf_t c; /* large: one instance for every test */

#define GOOD_LISTENER "[listener a]\naddress = 127.0.0.1:5061\ncert = e.pem\nkey = e.key\n"

static void expect_error(const char *text, const char *want)
{
    char err[512] = "";
    if (conf_load_string(text, "t.conf", &c, err, sizeof err) == 0)
        fail_msg("loaded, expected an error containing '%s'", want);
    if (!strstr(err, want))
        fail_msg("error '%s' does not contain '%s'", err, want);
}

static void test_sip_section(void **state)
{
    char err[512];
    (void)state;
    if (conf_load_string(GOOD_LISTENER "[sip]\ntrust_headers = X-A, X-B\nauth_fail_limit = 5\n"
                                       "lockout = 2m\nkeepalive = 90s\n",
                         "t.conf", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(c.sip.trust_headers, "X-A, X-B");
    assert_int_equal(c.sip.auth_fail_limit, 5);
    assert_int_equal(c.sip.lockout_ms, 120000);
    assert_int_equal(c.sip.keepalive_ms, 90000);
    assert_string_equal(c.sip.proxy_require, "ms-benotify"); /* the default stays */
    expect_error(GOOD_LISTENER "[sip]\ntrust_headers = X-A; X-B\n",
                 "t.conf:6: [sip] trust_headers: 'X-A; X-B' is not a list of tokens");
    expect_error(GOOD_LISTENER "[sip]\nauth_fail_limit = 0\n", "t.conf:6: [sip] auth_fail_limit");
    expect_error(GOOD_LISTENER "[sip]\nlockouts = 1m\n", "t.conf:6: [sip] lockouts");
}

static void test_shipped_files_load(void **state)
{
    char err[512];
    (void)state;
    if (conf_load(EDGE_SOURCE_DIR "/conf/edgeproxy.conf", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(c.nlisteners, 5);
    assert_int_equal(c.listeners[3].protocol, CONF_PROTO_XMPP_S2S);
    assert_int_equal(c.listeners[4].protocol, CONF_PROTO_XMPP_GATEWAY);
    assert_int_equal(c.listeners[4].client_cert, CONF_CLIENT_CERT_REQUIRED);
    assert_string_equal(c.xmpp.domains, "example.test");
    assert_int_equal(c.listeners[2].side, CONF_SIDE_INTERNAL);
    assert_int_equal(c.listeners[2].client_cert, CONF_CLIENT_CERT_REQUIRED); /* default inside */
    assert_int_equal(c.listeners[0].client_cert, CONF_CLIENT_CERT_NONE);     /* and outside */
    assert_int_equal(c.pool.nmembers, 1);
    assert_int_equal(c.pool.health_interval_ms, 5000);
    assert_int_equal(c.limits.max_message_size, 65536);
    assert_int_equal(c.limits.idle_timeout_ms, 3600000);

    if (conf_load(EDGE_SOURCE_DIR "/conf/examples/node1.conf", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(c.nlisteners, 5);
    assert_int_equal(c.listeners[2].protocol, CONF_PROTO_XMPP_S2S);
    assert_int_equal(c.listeners[0].proxy_protocol, 1);
    assert_int_equal(c.pool.nmembers, 3);
    assert_string_equal(c.pool.members[2].host, "10.0.2.23");
    assert_int_equal(c.pool.members[2].port, 5061);

    if (conf_load(EDGE_SOURCE_DIR "/conf/examples/node2.conf", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(c.node.id, "edge2");
    assert_string_equal(c.node.internal_address, "10.0.1.12");
    assert_int_equal(c.pool.nmembers, 3);
    assert_int_equal(c.limits.idle_timeout_ms, 30 * 60000);
}

static void test_defaults(void **state)
{
    char err[512];
    (void)state;
    assert_int_equal(conf_load_string(GOOD_LISTENER, "t.conf", &c, err, sizeof err), 0);
    assert_string_equal(c.node.id, "edge1");
    assert_int_equal(c.listeners[0].port, 5061);
    assert_int_equal(c.listeners[0].protocol, CONF_PROTO_SIP);
    assert_int_equal(c.limits.max_headers, 256);
    assert_int_equal(c.limits.handshake_timeout_ms, 10000);
    assert_int_equal(c.pool.transaction_timeout_ms, 32000);
    assert_int_equal(c.log.level, CONF_LOG_INFO);
}

static void test_values(void **state)
{
    char err[512];
    (void)state;
    assert_int_equal(conf_load_string(GOOD_LISTENER "proxy_protocol = on\n"
                                                    "[listener v6]\naddress = [::1]:443\n"
                                                    "cert = x\nkey = y\n"
                                                    "[limits]\nmax_line = 16k\nidle_timeout = 90s\n"
                                                    "handshake_timeout = 1500ms\n",
                                      "t.conf", &c, err, sizeof err),
                     0);
    assert_int_equal(c.listeners[0].proxy_protocol, 1);
    assert_string_equal(c.listeners[1].address, "::1");
    assert_int_equal(c.listeners[1].port, 443);
    assert_int_equal(c.limits.max_line, 16384);
    assert_int_equal(c.limits.idle_timeout_ms, 90000);
    assert_int_equal(c.limits.handshake_timeout_ms, 1500);
}

static void test_errors_name_line_and_key(void **state)
{
    (void)state;
    expect_error(GOOD_LISTENER "colour = blue\n", "t.conf:5: [listener a] colour: unknown key");
    expect_error("[nodes]\nid = x\n", "t.conf:2: [nodes] id: unknown section [nodes]");
    expect_error(GOOD_LISTENER "side = outside\n", "t.conf:5: [listener a] side: 'outside'");
    expect_error(GOOD_LISTENER "[limits]\nidle_timeout = soon\n",
                 "t.conf:6: [limits] idle_timeout: 'soon' is not a duration");
    expect_error(GOOD_LISTENER "[limits]\nmax_headers = 5\n",
                 "t.conf:6: [limits] max_headers: '5' is out of range (16 to 32767)");
    expect_error("[listener a]\naddress = 127.0.0.1\n", "t.conf:2: [listener a] address:");
    expect_error("[listener a]\naddress = 127.0.0.1:70000\n", "t.conf:2: [listener a] address:");
    expect_error(GOOD_LISTENER "cert = again.pem\n", "t.conf:5: [listener a] cert: given twice");
    expect_error(GOOD_LISTENER GOOD_LISTENER, "listener 'a' is defined twice");
    expect_error(GOOD_LISTENER "[pool]\nmembers = 10.0.0.1\n",
                 "t.conf:6: [pool] members: member '10.0.0.1' is not HOST:PORT");
    expect_error("this is not ini\n", "t.conf:1: syntax error");
    expect_error("", "t.conf:0: no [listener NAME] section");
    /* whole-file checks blame the listener's first line */
    expect_error("[node]\nid = x\n[listener a]\naddress = 127.0.0.1:5061\ncert = e.pem\n",
                 "t.conf:4: [listener a] key: required");
    expect_error(GOOD_LISTENER "client_cert = required\n",
                 "t.conf:2: [listener a] ca: required when client_cert is required");
    expect_error(GOOD_LISTENER "[listener b]\naddress = 127.0.0.1:5061\ncert = e\nkey = k\n",
                 "127.0.0.1:5061 is also used by [listener a]");
    expect_error(GOOD_LISTENER "[pool]\nmembers = 10.0.0.1:5061\n", "[pool] ca: required");
    expect_error(GOOD_LISTENER "[pool]\nhealth_interval = 1s\nhealth_timeout = 2s\n",
                 "health_timeout: must be shorter");
    char err[256];
    assert_int_equal(conf_load("/nonexistent/edge.conf", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/edge.conf:0: cannot open"));
}

#define XMPP_LISTENERS                                                                             \
    "[listener x]\naddress = 127.0.0.1:5269\nprotocol = xmpp-s2s\ncert = e.pem\nkey = e.key\n"     \
    "ca = ca.pem\n"                                                                                \
    "[listener g]\naddress = 127.0.0.1:23456\nside = internal\nprotocol = xmpp-gateway\n"          \
    "cert = i.pem\nkey = i.key\nca = ca.pem\n"

static void test_xmpp_section(void **state)
{
    char err[512];
    (void)state;
    if (conf_load_string(XMPP_LISTENERS "[xmpp]\ndomains = contoso.test, Fabrikam-2.test\n"
                                        "gateway = 10.0.0.20:5269 gw2.contoso.local:5270\n"
                                        "gateway_name = gateway.contoso.test\n"
                                        "allow_file = /etc/p.allow\nidle_timeout = 5m\n"
                                        "keepalive = 30s\ndialback = no\nmax_queue = 4m\n"
                                        "dns_servers = 127.0.0.1:5353\ngateway_direct_tls = yes\n",
                         "t.conf", &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(c.xmpp.domains, "contoso.test, Fabrikam-2.test");
    assert_int_equal(c.xmpp.ngateways, 2);
    assert_string_equal(c.xmpp.gateways[1].host, "gw2.contoso.local");
    assert_int_equal(c.xmpp.gateways[1].port, 5270);
    assert_string_equal(c.xmpp.gateway_name, "gateway.contoso.test");
    assert_string_equal(c.xmpp.allow_file, "/etc/p.allow");
    assert_int_equal(c.xmpp.idle_timeout_ms, 300000);
    assert_int_equal(c.xmpp.keepalive_ms, 30000);
    assert_int_equal(c.xmpp.dialback, 0);
    assert_int_equal(c.xmpp.tls_required, 1); /* defaults */
    assert_int_equal(c.xmpp.direct_tls, 1);
    assert_int_equal(c.xmpp.connect_timeout_ms, 15000);
    assert_int_equal(c.xmpp.max_queue, 4u << 20);
    assert_int_equal(c.xmpp.gateway_direct_tls, 1);
    /* partners are asked for a certificate (SASL EXTERNAL); the gateway must present one */
    assert_int_equal(c.listeners[0].client_cert, CONF_CLIENT_CERT_OPTIONAL);
    assert_int_equal(c.listeners[1].client_cert, CONF_CLIENT_CERT_REQUIRED);
    /* without an XMPP listener the section is not required */
    assert_int_equal(conf_load_string(GOOD_LISTENER, "t.conf", &c, err, sizeof err), 0);

    expect_error(XMPP_LISTENERS, "t.conf:0: [xmpp] domains: required");
    expect_error(XMPP_LISTENERS "[xmpp]\ndomains = contoso.test\ngateway_name = g\n",
                 "t.conf:15: [xmpp] gateway: required with an xmpp-s2s listener");
    expect_error(XMPP_LISTENERS "[xmpp]\ndomains = contoso.test\ngateway = 10.0.0.1:1\n",
                 "t.conf:15: [xmpp] gateway_name: required");
    expect_error(XMPP_LISTENERS "[xmpp]\ndomains = contoso..test\n",
                 "t.conf:15: [xmpp] domains: 'contoso..test' is not a domain name");
    expect_error(XMPP_LISTENERS "[xmpp]\ngateway = 10.0.0.1\n",
                 "t.conf:15: [xmpp] gateway: member '10.0.0.1' is not HOST:PORT");
    expect_error(XMPP_LISTENERS "[xmpp]\nkeepalive = 1ms\n",
                 "t.conf:15: [xmpp] keepalive: '1ms' is out of range");
    expect_error(XMPP_LISTENERS "[xmpp]\ndomain = contoso.test\n",
                 "t.conf:15: [xmpp] domain: unknown key");
    expect_error("[listener x]\naddress = 127.0.0.1:5269\nprotocol = xmpp-s2s\ncert = e\n"
                 "key = k\n[xmpp]\ndomains = contoso.test\ngateway = 10.0.0.1:1\n"
                 "gateway_name = g\n",
                 "an xmpp-s2s listener needs an xmpp-gateway listener too");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_files_load),
        cmocka_unit_test(test_sip_section),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors_name_line_and_key),
        cmocka_unit_test(test_xmpp_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
