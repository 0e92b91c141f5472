/*
 * conf.c - loading the configuration with libinih. Each section has a table of keys (name,
 * kind, where it goes), so parsing, the defaults and the error messages come from one place;
 * a second pass checks what only the whole file can tell (required keys, duplicates, pairs).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "conf.h"

typedef enum { K_STR, K_TOKENS, K_HOSTPORT, K_U32, K_SIZE, K_MS, K_BOOL, K_ENUM, K_HOPS } kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    size_t off;                 /* into the section's struct */
    size_t len;                 /* K_STR: buffer size */
    const char *const *choices; /* K_ENUM: names, index = value */
    uint32_t min, max;          /* K_U32/K_SIZE/K_MS bounds */
} conf_key_t;

#define KEY_STR(st, f, n)                                                                          \
    {                                                                                              \
        n, K_STR, offsetof(st, f), sizeof(((st *)0)->f), NULL, 0, 0                                \
    }
#define KEY_NUM(st, f, n, k, lo, hi)                                                               \
    {                                                                                              \
        n, k, offsetof(st, f), 0, NULL, lo, hi                                                     \
    }
#define KEY_ENUM(st, f, n, ch)                                                                     \
    {                                                                                              \
        n, K_ENUM, offsetof(st, f), 0, ch, 0, 0                                                    \
    }

static const char *const sides[] = {"external", "internal", NULL};
static const char *const protos[] = {"sip", "xmpp-s2s", "xmpp-gateway", NULL};
static const char *const certs[] = {"none", "optional", "required", NULL};
static const char *const levels[] = {"error", "warn", "info", "debug", NULL};

static const conf_key_t node_keys[] = {
    KEY_STR(conf_node_t, id, "id"),
    KEY_STR(conf_node_t, external_fqdn, "external_fqdn"),
    KEY_STR(conf_node_t, internal_address, "internal_address"),
    KEY_STR(conf_node_t, state_dir, "state_dir"),
    {NULL, 0, 0, 0, NULL, 0, 0},
};

static const conf_key_t listener_keys[] = {
    {"address", K_HOSTPORT, offsetof(conf_listener_t, address), 0, NULL, 0, 0},
    KEY_ENUM(conf_listener_t, side, "side", sides),
    KEY_ENUM(conf_listener_t, protocol, "protocol", protos),
    KEY_STR(conf_listener_t, cert, "cert"),
    KEY_STR(conf_listener_t, key, "key"),
    KEY_STR(conf_listener_t, ca, "ca"),
    KEY_ENUM(conf_listener_t, client_cert, "client_cert", certs),
    KEY_NUM(conf_listener_t, proxy_protocol, "proxy_protocol", K_BOOL, 0, 1),
    {NULL, 0, 0, 0, NULL, 0, 0},
};

static const conf_key_t pool_keys[] = {
    {"members", K_HOPS, offsetof(conf_pool_t, members), 0, NULL, 0, 0},
    KEY_STR(conf_pool_t, server_name, "server_name"),
    KEY_STR(conf_pool_t, cert, "cert"),
    KEY_STR(conf_pool_t, key, "key"),
    KEY_STR(conf_pool_t, ca, "ca"),
    KEY_NUM(conf_pool_t, health_interval_ms, "health_interval", K_MS, 100, 3600000),
    KEY_NUM(conf_pool_t, health_timeout_ms, "health_timeout", K_MS, 50, 600000),
    KEY_NUM(conf_pool_t, down_after, "down_after", K_U32, 1, 100),
    KEY_NUM(conf_pool_t, up_after, "up_after", K_U32, 1, 100),
    KEY_NUM(conf_pool_t, transaction_timeout_ms, "transaction_timeout", K_MS, 100, 600000),
    {NULL, 0, 0, 0, NULL, 0, 0},
};

static const conf_key_t limit_keys[] = {
    KEY_NUM(conf_limits_t, max_message_size, "max_message_size", K_SIZE, 1024, 16u << 20),
    KEY_NUM(conf_limits_t, max_headers, "max_headers", K_U32, 16, 32767),
    KEY_NUM(conf_limits_t, max_line, "max_line", K_SIZE, 256, 1u << 20),
    KEY_NUM(conf_limits_t, connections_per_source, "connections_per_source", K_U32, 1, 1000000),
    KEY_NUM(conf_limits_t, requests_per_second, "requests_per_second", K_U32, 1, 1000000),
    KEY_NUM(conf_limits_t, handshake_timeout_ms, "handshake_timeout", K_MS, 100, 600000),
    KEY_NUM(conf_limits_t, idle_timeout_ms, "idle_timeout", K_MS, 1000, 86400000),
    {NULL, 0, 0, 0, NULL, 0, 0},
};

static const conf_key_t sip_keys[] = {
    {"trust_headers", K_TOKENS, offsetof(conf_sip_t, trust_headers),
     sizeof(((conf_sip_t *)0)->trust_headers), NULL, 0, 0},
    {"proxy_require", K_TOKENS, offsetof(conf_sip_t, proxy_require),
     sizeof(((conf_sip_t *)0)->proxy_require), NULL, 0, 0},
    KEY_NUM(conf_sip_t, auth_fail_limit, "auth_fail_limit", K_U32, 1, 1000000),
    KEY_NUM(conf_sip_t, auth_fail_window_ms, "auth_fail_window", K_MS, 1000, 86400000),
    KEY_NUM(conf_sip_t, lockout_ms, "lockout", K_MS, 1000, 86400000),
    KEY_NUM(conf_sip_t, keepalive_ms, "keepalive", K_MS, 10000, 3600000),
    KEY_NUM(conf_sip_t, invite_timeout_ms, "invite_timeout", K_MS, 1000, 3600000),
    KEY_NUM(conf_sip_t, max_transactions, "max_transactions", K_U32, 16, 10000000),
    {NULL, 0, 0, 0, NULL, 0, 0},
};

static const conf_key_t xmpp_keys[] = {
    {"domains", K_TOKENS, offsetof(conf_xmpp_t, domains), sizeof(((conf_xmpp_t *)0)->domains), NULL,
     0, 0},
    {"gateway", K_HOPS, offsetof(conf_xmpp_t, gateways), 0, NULL, 0, 0},
    KEY_STR(conf_xmpp_t, gateway_name, "gateway_name"),
    KEY_STR(conf_xmpp_t, allow_file, "allow_file"),
    KEY_STR(conf_xmpp_t, block_file, "block_file"),
    KEY_STR(conf_xmpp_t, dialback_secret, "dialback_secret"),
    KEY_STR(conf_xmpp_t, dns_servers, "dns_servers"),
    KEY_NUM(conf_xmpp_t, tls_required, "tls_required", K_BOOL, 0, 1),
    KEY_NUM(conf_xmpp_t, dialback, "dialback", K_BOOL, 0, 1),
    KEY_NUM(conf_xmpp_t, direct_tls, "direct_tls", K_BOOL, 0, 1),
    KEY_NUM(conf_xmpp_t, gateway_direct_tls, "gateway_direct_tls", K_BOOL, 0, 1),
    KEY_NUM(conf_xmpp_t, idle_timeout_ms, "idle_timeout", K_MS, 1000, 86400000),
    KEY_NUM(conf_xmpp_t, keepalive_ms, "keepalive", K_MS, 1000, 86400000),
    KEY_NUM(conf_xmpp_t, connect_timeout_ms, "connect_timeout", K_MS, 100, 600000),
    KEY_NUM(conf_xmpp_t, max_queue, "max_queue", K_SIZE, 1024, 256u << 20),
    {NULL, 0, 0, 0, NULL, 0, 0},
};

/* K_HOPS writes a member array followed by its count: [pool] members and [xmpp] gateway. */
_Static_assert(offsetof(conf_pool_t, nmembers) ==
                   offsetof(conf_pool_t, members) + sizeof(conf_hop_t) * CONF_MAX_HOPS,
               "conf_pool_t: nmembers follows members");
_Static_assert(offsetof(conf_xmpp_t, ngateways) ==
                   offsetof(conf_xmpp_t, gateways) + sizeof(conf_hop_t) * CONF_MAX_HOPS,
               "conf_xmpp_t: ngateways follows gateways");

static const conf_key_t log_keys[] = {
    KEY_ENUM(conf_log_t, level, "level", levels),
    {NULL, 0, 0, 0, NULL, 0, 0},
};

void conf_defaults(conf_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->node.id, sizeof c->node.id, "edge1");
    snprintf(c->node.external_fqdn, sizeof c->node.external_fqdn, "edge.example.test");
    snprintf(c->node.internal_address, sizeof c->node.internal_address, "127.0.0.1");
    snprintf(c->node.state_dir, sizeof c->node.state_dir, "/var/lib/edgeproxy");
    c->pool.health_interval_ms = 5000;
    c->pool.health_timeout_ms = 2000;
    c->pool.down_after = 2;
    c->pool.up_after = 2;
    c->pool.transaction_timeout_ms = 32000; /* RFC 3261 timer B/F: 64*T1 */
    c->limits.max_message_size = 65536;
    c->limits.max_headers = 256;
    c->limits.max_line = 8192;
    c->limits.connections_per_source = 10000; /* behind an HLB with SNAT, one source is many */
    c->limits.requests_per_second = 200;
    c->limits.handshake_timeout_ms = 10000;
    c->limits.idle_timeout_ms = 3600000;
    c->log.level = CONF_LOG_INFO;
    snprintf(c->sip.proxy_require, sizeof c->sip.proxy_require, "ms-benotify");
    c->sip.auth_fail_limit = 10;
    c->sip.auth_fail_window_ms = 300000;
    c->sip.lockout_ms = 900000;
    c->sip.keepalive_ms = 300000;
    c->sip.invite_timeout_ms = 180000; /* RFC 3261 timer C: more than 3 minutes */
    c->sip.max_transactions = 100000;
    c->xmpp.tls_required = 1;
    c->xmpp.dialback = 1;
    c->xmpp.direct_tls = 1;
    c->xmpp.idle_timeout_ms = 600000;
    c->xmpp.keepalive_ms = 60000;
    c->xmpp.connect_timeout_ms = 15000;
    c->xmpp.max_queue = 1u << 20;
}

const char *conf_side_name(conf_side_t s)
{
    return (unsigned)s < 2 ? sides[s] : "?";
}

const char *conf_proto_name(conf_proto_t p)
{
    return (unsigned)p < 3 ? protos[p] : "?";
}

/* ---------------------------------------------------------------- values */

typedef struct {
    conf_t *c;
    char msg[400]; /* the first error, without file:line */
    int err_line;  /* set by the caller from ini's return */
    char section[CONF_NAME + 16];
    conf_listener_t *listener;
    unsigned seen_pool, seen_node, seen_limits, seen_log, seen_sip, seen_xmpp;
    uint64_t seen_keys; /* bit per key of the current section (duplicates) */
    int line;           /* current line, counted by our reader */
    int new_section;    /* a [section] line was read since the last key */
} state_t;

static int parse_u64(const char *v, uint64_t *out, const char **rest)
{
    char *end;
    if (!isdigit((unsigned char)v[0]))
        return -1;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno)
        return -1;
    *out = n;
    *rest = end;
    return 0;
}

/* Parse v as a duration (ms, s, m, h; bare numbers are ms) into milliseconds. */
static int parse_ms(const char *v, uint64_t *ms)
{
    const char *u;
    uint64_t n;
    if (parse_u64(v, &n, &u) < 0)
        return -1;
    if (strcmp(u, "") == 0 || strcmp(u, "ms") == 0)
        *ms = n;
    else if (strcmp(u, "s") == 0)
        *ms = n * 1000;
    else if (strcmp(u, "m") == 0)
        *ms = n * 60000;
    else if (strcmp(u, "h") == 0)
        *ms = n * 3600000;
    else
        return -1;
    return n > UINT32_MAX ? -1 : 0;
}

static int parse_size(const char *v, uint64_t *bytes)
{
    const char *u;
    uint64_t n;
    if (parse_u64(v, &n, &u) < 0)
        return -1;
    if (*u == 'k' || *u == 'K')
        n *= 1024, u++;
    else if (*u == 'm' || *u == 'M')
        n *= 1024 * 1024, u++;
    return *u == '\0' && n <= UINT32_MAX ? (*bytes = n, 0) : -1;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false",
                                                                                "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0)
            return *out = 1, 0;
        if (strcmp(v, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

/* host:port, [v6]:port; the host part is copied into host (CONF_HOST). */
static int parse_hostport(const char *v, char *host, int *port)
{
    const char *colon;
    size_t hl;
    uint64_t p;
    const char *rest;
    if (v[0] == '[') {
        const char *rb = strchr(v, ']');
        if (!rb || rb[1] != ':')
            return -1;
        hl = (size_t)(rb - v - 1);
        v++;
        colon = rb + 1;
    } else {
        colon = strrchr(v, ':');
        if (!colon || strchr(v, ':') != colon)
            return -1;
        hl = (size_t)(colon - v);
    }
    if (hl == 0 || hl >= CONF_HOST || parse_u64(colon + 1, &p, &rest) < 0 || *rest || p == 0 ||
        p > 65535)
        return -1;
    memcpy(host, v, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

static int fail(state_t *st, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(state_t *st, const char *key, const char *fmt, ...)
{
    if (!st->msg[0]) {
        va_list ap;
        int n = snprintf(st->msg, sizeof st->msg, "[%s] %s%s", st->section, key, *key ? ": " : "");
        va_start(ap, fmt);
        vsnprintf(st->msg + n, sizeof st->msg - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return 0; /* tells inih the line is in error */
}

static int set_key(state_t *st, const conf_key_t *keys, void *base, const char *name,
                   const char *value)
{
    size_t k;
    for (k = 0; keys[k].name; k++) {
        if (strcmp(keys[k].name, name) == 0)
            break;
    }
    if (!keys[k].name)
        return fail(st, name, "unknown key");
    if (st->seen_keys & (1ull << k))
        return fail(st, name, "given twice in the section");
    st->seen_keys |= 1ull << k;

    const conf_key_t *key = &keys[k];
    char *dst = (char *)base + key->off;
    uint64_t n;
    int b;
    switch (key->kind) {
    case K_TOKENS: /* a list of RFC 3261 tokens (header names, option tags) */
        for (const char *p = value; *p; p++) {
            if (!isalnum((unsigned char)*p) && !strchr("-.!%*_+`'~, \t", *p))
                return fail(st, name, "'%s' is not a list of tokens (bad character '%c')", value,
                            *p);
        }
        /* fall through */
    case K_STR:
        if (strlen(value) >= key->len)
            return fail(st, name, "value too long: '%s'", value);
        memcpy(dst, value, strlen(value) + 1);
        return 1;
    case K_HOSTPORT: {
        conf_listener_t *l = (conf_listener_t *)base;
        if (parse_hostport(value, l->address, &l->port) < 0)
            return fail(st, name, "'%s' is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)", value);
        return 1;
    }
    case K_ENUM:
        for (int i = 0; key->choices[i]; i++) {
            if (strcmp(value, key->choices[i]) == 0) {
                *(int *)dst = i;
                return 1;
            }
        }
        return fail(st, name, "'%s' is not one of the allowed values", value);
    case K_BOOL:
        if (parse_bool(value, &b) < 0)
            return fail(st, name, "'%s' is not yes or no", value);
        *(int *)dst = b;
        return 1;
    case K_U32:
    case K_SIZE:
    case K_MS: {
        const char *rest = "";
        int r = key->kind == K_MS     ? parse_ms(value, &n)
                : key->kind == K_SIZE ? parse_size(value, &n)
                                      : (parse_u64(value, &n, &rest) < 0 || *rest ? -1 : 0);
        if (r < 0)
            return fail(st, name,
                        key->kind == K_MS     ? "'%s' is not a duration (500ms, 10s, 5m, 1h)"
                        : key->kind == K_SIZE ? "'%s' is not a size (65536, 64k, 1m)"
                                              : "'%s' is not a whole number",
                        value);
        if (n < key->min || n > key->max) {
            return fail(st, name, "'%s' is out of range (%u to %u)", value, key->min, key->max);
        }
        *(uint32_t *)dst = (uint32_t)n;
        return 1;
    }
    case K_HOPS: {
        conf_hop_t *hops = (conf_hop_t *)dst;
        size_t *nhops = (size_t *)(dst + sizeof(conf_hop_t) * CONF_MAX_HOPS);
        const char *p = value;
        *nhops = 0;
        while (*p) {
            char one[CONF_HOST + 8];
            size_t len = strcspn(p, ", \t");
            if (len == 0) {
                p++;
                continue;
            }
            if (len >= sizeof one || *nhops >= CONF_MAX_HOPS)
                return fail(st, name, "too many or too long members in '%s'", value);
            memcpy(one, p, len);
            one[len] = '\0';
            conf_hop_t *h = &hops[*nhops];
            if (parse_hostport(one, h->host, &h->port) < 0)
                return fail(st, name, "member '%s' is not HOST:PORT", one);
            (*nhops)++;
            p += len;
        }
        if (!*nhops)
            return fail(st, name, "no member in '%s'", value);
        return 1;
    }
    }
    return 0;
}

static int on_line(void *user, const char *section, const char *name, const char *value)
{
    state_t *st = user;
    conf_t *c = st->c;

    if (st->new_section || strcmp(section, st->section) != 0) {
        /* a new section starts (possibly with the name of an earlier one) */
        st->new_section = 0;
        snprintf(st->section, sizeof st->section, "%s", section);
        st->seen_keys = 0;
        st->listener = NULL;
        if (strncmp(section, "listener ", 9) == 0) {
            const char *lname = section + 9;
            if (!*lname || strlen(lname) >= CONF_NAME)
                return fail(st, "", "listener name must be 1-63 characters");
            for (size_t i = 0; i < c->nlisteners; i++) {
                if (strcmp(c->listeners[i].name, lname) == 0)
                    return fail(st, "", "listener '%s' is defined twice", lname);
            }
            if (c->nlisteners >= CONF_MAX_LISTENERS)
                return fail(st, "", "more than 16 listeners");
            st->listener = &c->listeners[c->nlisteners++];
            memset(st->listener, 0, sizeof *st->listener);
            snprintf(st->listener->name, sizeof st->listener->name, "%s", lname);
            st->listener->client_cert = (conf_client_cert_t)-1; /* default by side, later */
            st->listener->line = st->line;
        } else {
            unsigned *seen = strcmp(section, "node") == 0     ? &st->seen_node
                             : strcmp(section, "pool") == 0   ? &st->seen_pool
                             : strcmp(section, "limits") == 0 ? &st->seen_limits
                             : strcmp(section, "log") == 0    ? &st->seen_log
                             : strcmp(section, "sip") == 0    ? &st->seen_sip
                             : strcmp(section, "xmpp") == 0   ? &st->seen_xmpp
                                                              : NULL;
            if (!seen)
                return fail(st, name, "unknown section [%s]", section);
            if ((*seen)++)
                return fail(st, name, "section [%s] appears twice", section);
            if (seen == &st->seen_xmpp)
                c->xmpp.line = st->line;
        }
    }
    if (st->listener)
        return set_key(st, listener_keys, st->listener, name, value);
    if (strcmp(section, "node") == 0)
        return set_key(st, node_keys, &c->node, name, value);
    if (strcmp(section, "pool") == 0)
        return set_key(st, pool_keys, &c->pool, name, value);
    if (strcmp(section, "limits") == 0)
        return set_key(st, limit_keys, &c->limits, name, value);
    if (strcmp(section, "log") == 0)
        return set_key(st, log_keys, &c->log, name, value);
    if (strcmp(section, "sip") == 0)
        return set_key(st, sip_keys, &c->sip, name, value);
    if (strcmp(section, "xmpp") == 0)
        return set_key(st, xmpp_keys, &c->xmpp, name, value);
    return fail(st, name, "key outside any section");
}

/* A domain as [xmpp] domains lists it: LDH labels separated by dots. */
static int domain_ok(const char *d, size_t n)
{
    if (n == 0 || n > 253 || d[0] == '.' || d[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)d[i]) && d[i] != '-' && !(d[i] == '.' && d[i + 1] != '.'))
            return 0;
    }
    return 1;
}

/* [xmpp] is needed once an XMPP listener exists; -1 when all is well, else the line. */
static int validate_xmpp(conf_t *c, char *msg, size_t len)
{
    int s2s = 0, gw = 0;
    for (size_t i = 0; i < c->nlisteners; i++) {
        s2s |= c->listeners[i].protocol == CONF_PROTO_XMPP_S2S;
        gw |= c->listeners[i].protocol == CONF_PROTO_XMPP_GATEWAY;
    }
    if (!s2s && !gw)
        return -1;
    const conf_xmpp_t *x = &c->xmpp;
    size_t ndom = 0;
    for (const char *p = x->domains; *p;) {
        size_t n = strcspn(p, ", \t");
        if (n && !domain_ok(p, n)) {
            snprintf(msg, len, "[xmpp] domains: '%.*s' is not a domain name", (int)n, p);
            return x->line;
        }
        ndom += n != 0;
        p += n ? n : 1;
    }
    if (!ndom) {
        snprintf(msg, len, "[xmpp] domains: required with an xmpp-s2s or xmpp-gateway listener");
        return x->line;
    }
    if (s2s && !x->ngateways) {
        snprintf(msg, len,
                 "[xmpp] gateway: required with an xmpp-s2s listener (where inbound "
                 "partner traffic goes)");
        return x->line;
    }
    if (!x->gateway_name[0]) {
        snprintf(msg, len,
                 "[xmpp] gateway_name: required (the name in the gateway's "
                 "certificate)");
        return x->line;
    }
    if (s2s && !gw) {
        snprintf(msg, len,
                 "[xmpp]: an xmpp-s2s listener needs an xmpp-gateway listener too "
                 "(the gateway's outbound traffic and its dialback checks)");
        return x->line;
    }
    return -1;
}

/*
 * What only the whole file can tell: required keys, defaults that depend on other keys. Returns
 * -1 when all is well, else the line to blame (a listener's first line, or 0 for the file).
 */
static int validate(conf_t *c, char *msg, size_t len)
{
    if (c->nlisteners == 0) {
        snprintf(msg, len, "no [listener NAME] section: the edge would listen nowhere");
        return 0;
    }
    for (size_t i = 0; i < c->nlisteners; i++) {
        conf_listener_t *l = &c->listeners[i];
        if (!l->port) {
            snprintf(msg, len, "[listener %s] address: required", l->name);
            return l->line;
        }
        if (!l->cert[0] || !l->key[0]) {
            snprintf(msg, len, "[listener %s] %s: required (every listener is TLS)", l->name,
                     l->cert[0] ? "key" : "cert");
            return l->line;
        }
        if ((int)l->client_cert == -1) /* internal links are mutual TLS unless said otherwise */
            l->client_cert = l->side == CONF_SIDE_INTERNAL || l->protocol == CONF_PROTO_XMPP_GATEWAY
                                 ? CONF_CLIENT_CERT_REQUIRED
                             : l->protocol == CONF_PROTO_XMPP_S2S && l->ca[0]
                                 ? CONF_CLIENT_CERT_OPTIONAL /* for SASL EXTERNAL */
                                 : CONF_CLIENT_CERT_NONE;
        if (l->client_cert != CONF_CLIENT_CERT_NONE && !l->ca[0]) {
            snprintf(msg, len, "[listener %s] ca: required when client_cert is %s", l->name,
                     certs[l->client_cert]);
            return l->line;
        }
        for (size_t j = 0; j < i; j++) {
            if (c->listeners[j].port == l->port &&
                strcmp(c->listeners[j].address, l->address) == 0) {
                snprintf(msg, len, "[listener %s] address: %s:%d is also used by [listener %s]",
                         l->name, l->address, l->port, c->listeners[j].name);
                return l->line;
            }
        }
    }
    if (c->pool.nmembers && !c->pool.ca[0]) {
        snprintf(msg, len, "[pool] ca: required to verify the pool's certificates");
        return 0;
    }
    if (!!c->pool.cert[0] != !!c->pool.key[0]) {
        snprintf(msg, len, "[pool] %s: required with %s", c->pool.cert[0] ? "key" : "cert",
                 c->pool.cert[0] ? "cert" : "key");
        return 0;
    }
    int line = validate_xmpp(c, msg, len);
    if (line >= 0)
        return line;
    if (c->pool.health_timeout_ms >= c->pool.health_interval_ms) {
        snprintf(msg, len, "[pool] health_timeout: must be shorter than health_interval");
        return 0;
    }
    return -1;
}

/* Where inih reads from: a file or a string, counting lines so messages can name them. */
typedef struct {
    FILE *f;
    const char *text;
    state_t *st;
} source_t;

static char *read_line(char *buf, int size, void *stream)
{
    source_t *src = stream;
    if (src->f) {
        if (!fgets(buf, size, src->f))
            return NULL;
    } else {
        const char *t = src->text;
        if (!*t)
            return NULL;
        size_t n = strcspn(t, "\n");
        size_t take = n + (t[n] == '\n');
        if (take >= (size_t)size)
            take = (size_t)size - 1;
        memcpy(buf, t, take);
        buf[take] = '\0';
        src->text = t + take;
    }
    src->st->line++;
    const char *q = buf + strspn(buf, " \t");
    if (*q == '[')
        src->st->new_section = 1;
    return buf;
}

static int load(const char *text, FILE *f, const char *name, conf_t *c, char *err, size_t errlen)
{
    state_t st;
    source_t src = {f, text, &st};
    memset(&st, 0, sizeof st);
    conf_defaults(c);
    st.c = c;
    int r = ini_parse_stream(read_line, &src, on_line, &st);
    if (r != 0) {
        snprintf(err, errlen, "%s:%d: %s", name, r < 0 ? 0 : r,
                 st.msg[0] ? st.msg
                 : r == -2 ? "out of memory"
                           : "syntax error (expected [section] or key = value)");
        return -1;
    }
    char msg[400];
    int line = validate(c, msg, sizeof msg);
    if (line >= 0) {
        snprintf(err, errlen, "%s:%d: %s", name, line, msg);
        return -1;
    }
    return 0;
}

int conf_load(const char *path, conf_t *c, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s:0: cannot open: %s", path, strerror(errno));
        return -1;
    }
    int r = load(NULL, f, path, c, err, errlen);
    fclose(f);
    return r;
}

int conf_load_string(const char *text, const char *name, conf_t *c, char *err, size_t errlen)
{
    return load(text, NULL, name, c, err, errlen);
}
