/*
 * edge.h - the daemon's state: one edge_t owns the libuv loop and everything in it (listeners,
 * connections, the pool, transactions, flows, counters). The modules of proxy/ share this
 * header: edge.c (lifecycle, listeners, connections, timers), pool.c (the next-hop pool and its
 * health), sip_router.c (what happens to each SIP message). Nothing here is global: a test can
 * run two edges in one process.
 */
#ifndef EDGE_EDGE_H
#define EDGE_EDGE_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "authguard.h"
#include "buf.h"
#include "conf.h"
#include "flow.h"
#include "metrics.h"
#include "sip.h"
#include "slots.h"
#include "tls.h"

#define EDGE_IOV_MAX     48
#define EDGE_TXN_EXTRA   1024
#define EDGE_MAX_TRUST   16
#define EDGE_MAX_OPTIONS 16

typedef struct edge edge_t;
typedef struct edge_conn edge_conn_t;
typedef struct edge_member edge_member_t;
typedef struct edge_txn edge_txn_t;

typedef enum {
    EDGE_ROLE_EXTERNAL = 0, /* accepted on an external listener: remote user or partner */
    EDGE_ROLE_INTERNAL,     /* accepted on an internal listener: a pool server connected to us */
    EDGE_ROLE_POOL          /* we connected to a pool member */
} edge_role_t;

typedef struct {
    edge_t *edge;
    const conf_listener_t *conf;
    uv_tcp_t tcp;
    tls_ctx_t *ctx;
    int open;
} edge_listener_t;

struct edge_conn {
    tls_stream_t s; /* first: a tls_stream_t pointer is an edge_conn_t pointer */
    edge_t *edge;
    edge_listener_t *listener; /* accepted connections */
    edge_member_t *member;     /* EDGE_ROLE_POOL */
    edge_buf_t *buf;           /* pending bytes, NULL when there are none */
    uint32_t parse_off;        /* start of the next message in buf */
    uint32_t slot, gen;        /* the flow: index in the connection table and its generation */
    uint8_t role, up, proxy_hdr, closing;
    uint8_t ka_negotiated; /* Ms-Keep-Alive answered on this connection */
    uint8_t counted;       /* counted against its source's connection limit */
    uint16_t port;         /* the real peer's port (PROXY protocol aware) */
    uint64_t last_rx_ms;
    uint64_t rate_start_ms;
    uint32_t rate_count;
    char ip[INET6_ADDRSTRLEN]; /* the real peer's address */
    char token[EDGE_FLOW_TOKEN_LEN];
};

typedef enum { EDGE_TXN_CALLING = 0, EDGE_TXN_PROCEEDING, EDGE_TXN_COMPLETED } edge_txn_state_t;

struct edge_txn {
    uint32_t slot, gen;
    edge_buf_t *buf; /* holds the request's bytes the iovec points at */
    struct iovec iov[EDGE_IOV_MAX];
    uint8_t iovcnt, method, state, attempts;
    uint8_t ka, has_creds, cancel_sent, long_timer;
    uint8_t is_register;
    uint32_t client_slot, client_gen;
    edge_member_t *member;
    uint32_t member_conn_gen; /* the member connection the request went out on */
    uint32_t tried;           /* bit per member */
    uint64_t deadline;
    uint64_t cbranch; /* INVITE: hash of the client's branch, for CANCEL and ACK */
    const char *req;  /* the original request in buf (for local answers) */
    uint32_t req_len;
    edge_txn_t *prev, *next;  /* timer list */
    edge_txn_t *wait_next;    /* member's wait queue */
    edge_txn_t *hnext;        /* client-branch map */
    uint8_t in_list, waiting; /* which list it is on */
    uint8_t user_len;
    char user[96];
    size_t extra_used;
    char extra[EDGE_TXN_EXTRA];
};

typedef struct {
    edge_txn_t *head, *tail;
} edge_txn_list_t;

struct edge_member {
    edge_t *edge;
    int idx;
    const conf_hop_t *hop;
    struct sockaddr_storage addr;
    int addr_ok;
    edge_conn_t *conn; /* established or handshaking; NULL when none */
    uint8_t up, connecting, probe_outstanding;
    uint32_t good, bad;
    uint32_t backoff_ms;
    uint64_t next_connect_ms, next_probe_ms, probe_deadline;
    uint32_t probe_seq;
    edge_txn_t *wait_head, *wait_tail;
};

typedef struct {
    uint64_t hash;
    uint32_t count;
} edge_source_t;

struct edge {
    uv_loop_t *loop;
    conf_t conf;
    edge_metrics_t m;
    edge_listener_t listeners[CONF_MAX_LISTENERS];
    size_t nlisteners;
    tls_ctx_t *pool_ctx;
    edge_member_t members[CONF_MAX_HOPS];
    size_t nmembers;
    size_t rr_next;

    edge_slots_t conns; /* connections by (slot, generation): the flows */

    edge_slots_t txns; /* transactions by (slot, generation): our Via branches */
    edge_txn_list_t txn_short, txn_long;
    edge_txn_t **cmap; /* client-branch map (INVITE transactions) */
    size_t cmap_mask;
    edge_txn_t *txn_pool; /* free transaction objects */

    edge_source_t *sources; /* connections per source address */
    size_t sources_mask;

    edge_authguard_t *guard;
    edge_flow_key_t flow_key;

    /* SIP policy, prepared from the configuration */
    sip_check_opts_t check_opts;
    const char *proxy_supported[EDGE_MAX_OPTIONS];
    char opt_names[EDGE_MAX_OPTIONS][64];
    char trust_names[EDGE_MAX_TRUST][64];
    size_t ntrust;
    char via_int[300]; /* "SIP/2.0/TLS host:port;branch=z9hG4bK" toward the inside */
    char via_ext[300]; /* toward the outside */
    char rr_ext[300];  /* "<sip:fqdn:port;transport=tls;lr>" */
    char int_host[CONF_HOST];
    int int_port, ext_port;
    char trust_remote[400];  /* our trust header line for remote users */
    char trust_partner[400]; /* ... for partners whose certificate verified */
    size_t trust_remote_len, trust_partner_len;

    uv_timer_t tick;
    uv_signal_t sig_term, sig_int, sig_hup, sig_usr1;
    uint64_t now_ms;
    int stopping;
    uint32_t probe_tag;
    struct edge_xmpp *xmpp; /* the XMPP federation proxy (xmpp_proxy.c), NULL without one */
};

/* ---------------------------------------------------------------- edge.c */

/* Set up listeners, contexts, the pool and timers from c on loop; err says why not. */
int edge_init(edge_t *e, uv_loop_t *loop, const conf_t *c, char *err, size_t errlen);
/* Close everything (after the loop has run the close callbacks, edge_free releases memory). */
void edge_stop(edge_t *e);
void edge_free(edge_t *e);

/*
 * Open a configured listener: a TLS server context from its certificate, key and CA (client
 * certificates per 'verify', ALPN list), then bind and listen with cb; tcp->data = data. The
 * SIP and XMPP listeners share it. Returns 0, or -1 with err naming the listener. *open says
 * whether tcp needs a uv_close, *ctx whether a context needs freeing, even on failure.
 */
int edge_listen_tls(uv_loop_t *loop, const conf_listener_t *lc, tls_verify_t verify,
                    const char *const *alpn, size_t nalpn, uv_tcp_t *tcp, void *data,
                    uv_connection_cb cb, tls_ctx_t **ctx, int *open, char *err, size_t errlen);

/* Connection by flow (slot and generation), NULL when it is gone. */
edge_conn_t *edge_conn_get(edge_t *e, uint32_t slot, uint32_t gen);
/* Write an iovec on a connection; on failure the connection is closed and -1 returned. */
int edge_conn_send(edge_conn_t *c, const struct iovec *iov, size_t n);
void edge_conn_close(edge_conn_t *c);
/* A new outbound connection to a pool member (role POOL); NULL on failure. */
edge_conn_t *edge_conn_connect(edge_t *e, edge_member_t *m);

/* ---------------------------------------------------------------- pool.c */

int edge_pool_init(edge_t *e, char *err, size_t errlen);
void edge_pool_tick(edge_t *e);
/* A member to send to, not in 'exclude' (bit per member); NULL when none can take it. */
edge_member_t *edge_pool_pick(edge_t *e, uint32_t exclude);
/* The member whose configured address is host:port, or NULL. */
edge_member_t *edge_pool_find(edge_t *e, sip_slice_t host, int port);
/* Send a transaction's request to a member now, or queue it until the member is connected. */
void edge_pool_send(edge_t *e, edge_member_t *m, edge_txn_t *t);
void edge_pool_conn_up(edge_t *e, edge_conn_t *c);
void edge_pool_conn_down(edge_t *e, edge_conn_t *c, int during_handshake);
/* A response to a health probe (top Via branch starts with the probe tag). */
void edge_pool_probe_response(edge_t *e, edge_conn_t *c, const sip_msg_t *msg, sip_slice_t branch);

/* ---------------------------------------------------------------- sip_router.c */

/* One framed message (or keepalive) from c, at base in c->buf. */
void edge_sip_message(edge_conn_t *c, const char *base, sip_msg_t *msg, int parse_rc);
/* Transactions: retry on the next member, or answer with 'status' when none is left. */
void edge_txn_retry(edge_t *e, edge_txn_t *t, int status, const char *reason);
void edge_txn_tick(edge_t *e);
/* Every transaction still waiting on a connection that went away is retried elsewhere. */
void edge_txn_conn_lost(edge_t *e, edge_member_t *m, uint32_t conn_gen);
void edge_txn_free_all(edge_t *e);
int edge_sip_init(edge_t *e, char *err, size_t errlen);

#endif
