/*
 * conf.h - the edge's configuration: schema, defaults, loading (libinih) and validation. Every
 * key has a documented default (docs/configuration.md); an unknown key, a bad value or a
 * missing requirement is an error naming file:line and the key. Depends on no other module.
 */
#ifndef EDGE_CONF_H
#define EDGE_CONF_H

#include <stddef.h>
#include <stdint.h>

#define CONF_MAX_LISTENERS 16
#define CONF_MAX_HOPS      16
#define CONF_PATH          256
#define CONF_NAME          64
#define CONF_HOST          256

typedef enum { CONF_SIDE_EXTERNAL = 0, CONF_SIDE_INTERNAL } conf_side_t;

typedef enum {
    CONF_PROTO_SIP = 0,     /* SIP over TLS (443 remote users, 5061 federation/pool) */
    CONF_PROTO_XMPP_S2S,    /* XMPP server-to-server (5269, STARTTLS) */
    CONF_PROTO_XMPP_GATEWAY /* XMPP over MTLS from the internal gateway (23456) */
} conf_proto_t;

typedef enum {
    CONF_CLIENT_CERT_NONE = 0,
    CONF_CLIENT_CERT_OPTIONAL,
    CONF_CLIENT_CERT_REQUIRED
} conf_client_cert_t;

typedef enum { CONF_LOG_ERROR = 0, CONF_LOG_WARN, CONF_LOG_INFO, CONF_LOG_DEBUG } conf_log_level_t;

typedef struct {
    char name[CONF_NAME];
    char address[CONF_HOST]; /* IPv4 or IPv6 literal */
    int port;
    conf_side_t side;
    conf_proto_t protocol;
    char cert[CONF_PATH], key[CONF_PATH], ca[CONF_PATH];
    conf_client_cert_t client_cert;
    int proxy_protocol; /* expect a PROXY protocol header from the HLB */
    int line;           /* where the section starts, for later messages */
} conf_listener_t;

typedef struct {
    char host[CONF_HOST];
    int port;
} conf_hop_t;

typedef struct {
    char id[CONF_NAME];
    char external_fqdn[CONF_HOST];
    char internal_address[CONF_HOST];
    char state_dir[CONF_PATH];
} conf_node_t;

typedef struct {
    conf_hop_t members[CONF_MAX_HOPS];
    size_t nmembers;
    char server_name[CONF_HOST]; /* expected name in the pool's certificates */
    char cert[CONF_PATH], key[CONF_PATH], ca[CONF_PATH];
    uint32_t health_interval_ms, health_timeout_ms;
    uint32_t down_after, up_after; /* consecutive failed / good probes */
    uint32_t transaction_timeout_ms;
} conf_pool_t;

typedef struct {
    uint32_t max_message_size, max_headers, max_line;
    uint32_t connections_per_source, requests_per_second;
    uint32_t handshake_timeout_ms, idle_timeout_ms;
} conf_limits_t;

typedef struct {
    conf_log_level_t level;
} conf_log_t;

/* SIP relay policy: trust marking, brute-force guard, keepalive negotiation. */
typedef struct {
    char trust_headers[512];  /* extra header names stripped from external input */
    char proxy_require[512];  /* option tags accepted in Proxy-Require */
    uint32_t auth_fail_limit; /* failed authentications before a lockout */
    uint32_t auth_fail_window_ms;
    uint32_t lockout_ms;
    uint32_t keepalive_ms;      /* timeout offered in Ms-Keep-Alive answers */
    uint32_t invite_timeout_ms; /* timer C: an INVITE with a provisional answer */
    uint32_t max_transactions;  /* concurrent transactions toward the pool */
} conf_sip_t;

/* XMPP federation (docs/xmpp-federation.md): our domains, the internal gateway, partner policy. */
typedef struct {
    char domains[512];                  /* the XMPP domains we serve, comma or space separated */
    conf_hop_t gateways[CONF_MAX_HOPS]; /* where the internal XMPP gateway listens (we dial) */
    size_t ngateways;                   /* (same layout as conf_pool_t's members) */
    char gateway_name[CONF_HOST];       /* name the gateway's certificate must carry */
    char allow_file[CONF_PATH];         /* partner allow list (with per-partner options) */
    char block_file[CONF_PATH];         /* partner block list */
    char dialback_secret[256];          /* empty: generated into state_dir/xmpp-dialback.key */
    char dns_servers[512];              /* resolvers "ip[:port]", comma or space separated */
    int tls_required;                   /* STARTTLS before anything on partner streams */
    int dialback;                       /* accept and use dialback (else SASL EXTERNAL only) */
    int direct_tls;                     /* dial partners' _xmpps-server (XEP-0368) first */
    int gateway_direct_tls;             /* TLS from the first byte toward the gateway */
    uint32_t idle_timeout_ms;
    uint32_t keepalive_ms;       /* a whitespace keepalive after this long without sending */
    uint32_t connect_timeout_ms; /* DNS, connect and negotiation of an outgoing stream */
    uint32_t max_queue;          /* bytes held per domain pair while its stream comes up */
    int line;                    /* where the section starts, for later messages */
} conf_xmpp_t;

typedef struct {
    conf_node_t node;
    conf_listener_t listeners[CONF_MAX_LISTENERS];
    size_t nlisteners;
    conf_pool_t pool;
    conf_limits_t limits;
    conf_log_t log;
    conf_sip_t sip;
    conf_xmpp_t xmpp;
} conf_t;

/* Fill c with every default (no listener, no pool member). */
void conf_defaults(conf_t *c);

/*
 * Load a file (or, for conf_load_string, text whose messages name 'name'). Returns 0, or -1 with
 * err holding "FILE:LINE: [section] key: what is wrong" (LINE 0 for whole-file problems).
 */
int conf_load(const char *path, conf_t *c, char *err, size_t errlen);
int conf_load_string(const char *text, const char *name, conf_t *c, char *err, size_t errlen);

const char *conf_side_name(conf_side_t s);
const char *conf_proto_name(conf_proto_t p);

#endif
