/*
 * check_config.c - `edgeproxy --check-config FILE`: everything the daemon checks before it
 * listens, without listening: the file itself (conf/) and every certificate, key and CA it
 * names, loaded into the TLS contexts the listeners and the pool link would use (tls/).
 */
#include <stdio.h>

#include "check_config.h"
#include "conf.h"
#include "tls.h"
#include "xmpp_policy.h"

static int check_tls(const conf_t *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->nlisteners; i++) {
        const conf_listener_t *l = &c->listeners[i];
        tls_cert_conf_t cert = {l->cert, l->key};
        tls_server_conf_t sc = {.certs = &cert,
                                .ncerts = 1,
                                .ca_file = l->ca[0] ? l->ca : NULL,
                                .verify = (tls_verify_t)l->client_cert};
        char why[512];
        tls_ctx_t *ctx = tls_server_ctx_new(&sc, why, sizeof why);
        if (!ctx) {
            snprintf(err, errlen, "[listener %s] %s", l->name, why);
            return -1;
        }
        tls_ctx_free(ctx);
    }
    if (c->pool.nmembers) {
        tls_client_conf_t cc = {.cert_file = c->pool.cert[0] ? c->pool.cert : NULL,
                                .key_file = c->pool.key[0] ? c->pool.key : NULL,
                                .ca_file = c->pool.ca};
        char why[512];
        tls_ctx_t *ctx = tls_client_ctx_new(&cc, why, sizeof why);
        if (!ctx) {
            snprintf(err, errlen, "[pool] %s", why);
            return -1;
        }
        tls_ctx_free(ctx);
    }
    for (size_t i = 0; i < c->nlisteners; i++) {
        if (c->listeners[i].protocol == CONF_PROTO_SIP)
            continue;
        /* the XMPP partner lists: what the daemon would load (errors name FILE:LINE) */
        edge_xmpp_policy_t *p =
            edge_xmpp_policy_load(c->xmpp.allow_file, c->xmpp.block_file, err, errlen);
        if (!p)
            return -1;
        edge_xmpp_policy_free(p);
        break;
    }
    return 0;
}

int edge_check_config_main(const char *path)
{
    static conf_t c;
    char err[1024];
    if (conf_load(path, &c, err, sizeof err) < 0 || check_tls(&c, err, sizeof err) < 0) {
        fprintf(stderr, "edgeproxy: %s\n", err);
        return 1;
    }
    printf("%s: ok: node %s, %zu listener%s, %zu pool member%s\n", path, c.node.id, c.nlisteners,
           c.nlisteners == 1 ? "" : "s", c.pool.nmembers, c.pool.nmembers == 1 ? "" : "s");
    for (size_t i = 0; i < c.nlisteners; i++) {
        const conf_listener_t *l = &c.listeners[i];
        printf("  listener %s: %s:%d %s %s\n", l->name, l->address, l->port,
               conf_side_name(l->side), conf_proto_name(l->protocol));
    }
    return 0;
}
