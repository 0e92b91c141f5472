/*
 * edge.c - the daemon's lifecycle and its connections: listeners and their TLS contexts, the
 * connection table (a slot and a generation name each connection, which is what flow tokens
 * carry), the receive path that frames SIP in place in a slab buffer, PROXY protocol headers
 * from the HLB, per-source and idle limits, the 100 ms tick, and the signals (TERM/INT stop,
 * HUP reloads certificates, USR1 dumps counters).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "edge.h"
#include "log.h"
#include "xmpp_proxy.h"
#include "proxy_proto.h"

#define TICK_MS 100

static const tls_stream_cbs_t conn_cbs;

static uint64_t now_ms(edge_t *e)
{
    uv_update_time(e->loop);
    e->now_ms = uv_now(e->loop);
    return e->now_ms;
}

/* ---------------------------------------------------------------- per-source counts */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

/* The source's entry (created when 'create'); NULL if the table is full. */
static edge_source_t *source_at(edge_t *e, const char *ip, int create)
{
    uint64_t h = hash_str(ip);
    for (size_t i = 0; i <= e->sources_mask; i++) {
        edge_source_t *s = &e->sources[(h + i) & e->sources_mask];
        if (s->hash == h)
            return s;
        if (s->hash == 0 || (s->count == 0 && create)) {
            if (!create)
                return NULL;
            s->hash = h;
            s->count = 0;
            return s;
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- connection table */

edge_conn_t *edge_conn_get(edge_t *e, uint32_t slot, uint32_t gen)
{
    edge_conn_t *c = edge_slots_get(&e->conns, slot, gen);
    return c && !c->closing && c->up ? c : NULL;
}

static edge_conn_t *conn_new(edge_t *e, edge_role_t role)
{
    edge_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (tls_stream_init(e->loop, &c->s, &conn_cbs, c) < 0) {
        free(c);
        return NULL;
    }
    c->edge = e;
    c->role = (uint8_t)role;
    c->s.handshake_timeout_ms = e->conf.limits.handshake_timeout_ms;
    if (role == EDGE_ROLE_POOL)
        c->s.max_queue = 16u << 20; /* the pool link carries every client's traffic */
    if (edge_slots_add(&e->conns, c, 256, &c->slot, &c->gen) < 0) {
        tls_stream_close(&c->s);
        return NULL;
    }
    c->last_rx_ms = now_ms(e);
    edge_flow_token_make(&e->flow_key, c->slot, c->gen, c->token);
    return c;
}

void edge_conn_close(edge_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    tls_stream_close(&c->s);
}

static void on_conn_close(tls_stream_t *s)
{
    edge_conn_t *c = (edge_conn_t *)s;
    edge_t *e = c->edge;
    if (c->role == EDGE_ROLE_POOL)
        edge_pool_conn_down(e, c, !c->up);
    if (c->counted) {
        edge_source_t *src = source_at(e, c->ip, 0);
        if (src && src->count)
            src->count--;
    }
    if (c->buf)
        edge_buf_unref(c->buf);
    edge_slots_remove(&e->conns, c->slot);
    edge_debug("conn %u closed (%s %s:%u)", c->slot,
               c->role == EDGE_ROLE_POOL       ? "pool"
               : c->role == EDGE_ROLE_INTERNAL ? "internal"
                                               : "external",
               c->ip, c->port);
    free(c);
}

int edge_conn_send(edge_conn_t *c, const struct iovec *iov, size_t n)
{
    if (c->closing)
        return -1;
    int r = tls_stream_write(&c->s, iov, n);
    if (r < 0) {
        edge_warn("conn %u %s:%u: write failed (%s), closing", c->slot, c->ip, c->port,
                  tls_strerror(r));
        edge_conn_close(c);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- receive path */

static void on_alloc(tls_stream_t *s, size_t suggested, uv_buf_t *out)
{
    edge_conn_t *c = (edge_conn_t *)s;
    edge_t *e = c->edge;
    edge_buf_t *b = c->buf;
    (void)suggested;
    if (!b) {
        b = c->buf = edge_buf_get(EDGE_BUF_STD);
        c->parse_off = 0;
    } else if (b->len == b->cap) {
        /* full: move the partial message to the front, or to a new (bigger) slab if a
         * transaction still references this one or the message is larger than the slab */
        size_t tail = b->len - c->parse_off;
        size_t limit = e->conf.limits.max_message_size + 4096;
        if (b->ref == 1 && c->parse_off > 0) {
            memmove(b->data, b->data + c->parse_off, tail);
            b->len = (uint32_t)tail;
        } else {
            size_t want = tail * 2 < EDGE_BUF_STD ? EDGE_BUF_STD : tail * 2;
            if (want > limit)
                want = limit;
            edge_buf_t *nb = tail < want ? edge_buf_get(want) : NULL;
            if (nb) {
                memcpy(nb->data, b->data + c->parse_off, tail);
                nb->len = (uint32_t)tail;
            }
            edge_buf_unref(b);
            b = c->buf = nb;
        }
        c->parse_off = 0;
    }
    if (!b) {
        *out = uv_buf_init(NULL, 0); /* the stream reports UV_ENOBUFS and we close */
        return;
    }
    *out = uv_buf_init(b->data + b->len, b->cap - b->len);
}

/* The per-source connection limit, on the real client address (after a PROXY header when the
 * listener takes one). Returns 0 with the connection counted, or -1 with it closed. */
static int source_admit(edge_t *e, edge_conn_t *c)
{
    edge_source_t *src = source_at(e, c->ip, 1);
    if (!src || src->count >= e->conf.limits.connections_per_source) {
        EDGE_COUNT(&e->m, conn_refused_source);
        edge_warn("conn from %s refused: %u connections from that source (limit)", c->ip,
                  src ? src->count : 0);
        edge_conn_close(c);
        return -1;
    }
    src->count++;
    c->counted = 1;
    return 0;
}

static void conn_plain_read(edge_conn_t *c, ssize_t n)
{
    edge_buf_t *b = c->buf;
    b->len += (uint32_t)n;
    int used = edge_proxy_proto_parse(b->data, b->len, c->ip, &c->port);
    if (used < 0 || (used == 0 && b->len > 256)) {
        edge_warn("conn %u %s:%u: bad PROXY protocol header, closing", c->slot, c->ip, c->port);
        edge_conn_close(c);
        return;
    }
    if (used == 0)
        return;
    c->proxy_hdr = 0;
    if (c->role == EDGE_ROLE_EXTERNAL && source_admit(c->edge, c) < 0)
        return;
    const char *early = b->data + used;
    size_t nearly = b->len - (size_t)used;
    int r = tls_stream_start_server(&c->s, c->listener->ctx, early, nearly);
    edge_buf_unref(c->buf);
    c->buf = NULL;
    if (r < 0)
        edge_conn_close(c);
}

static void on_read(tls_stream_t *s, ssize_t n, const uv_buf_t *ub)
{
    edge_conn_t *c = (edge_conn_t *)s;
    edge_t *e = c->edge;
    (void)ub;
    if (n < 0) {
        if (n == UV_ENOBUFS)
            edge_warn("conn %u %s:%u: message over the size limit, closing", c->slot, c->ip,
                      c->port);
        if (n == UV_EOF && !c->closing)
            tls_stream_end(s);
        else
            edge_conn_close(c);
        return;
    }
    if (n == 0) {
        /* the buffer came back unused: an idle connection keeps no slab */
        if (c->buf && c->parse_off == c->buf->len) {
            edge_buf_unref(c->buf);
            c->buf = NULL;
            c->parse_off = 0;
        }
        return;
    }
    c->last_rx_ms = e->now_ms;
    if (c->proxy_hdr) {
        conn_plain_read(c, n);
        return;
    }
    edge_buf_t *b = c->buf;
    b->len += (uint32_t)n;
    edge_buf_ref(b); /* the router may close the connection under us */
    static sip_hdr_t hdrs[32768];
    sip_msg_t msg;
    sip_msg_init(&msg, hdrs, e->conf.limits.max_headers);
    msg.max_size = e->conf.limits.max_message_size;
    msg.max_line = e->conf.limits.max_line;
    while (!c->closing && c->parse_off < b->len) {
        const char *base = b->data + c->parse_off;
        int r = sip_parse(base, b->len - c->parse_off, &msg, 0);
        if (r == SIP_INCOMPLETE)
            break;
        edge_sip_message(c, base, &msg, r);
        if (r == SIP_ERROR) {
            if (sip_err_is_framing(msg.err) || msg.msg_len == 0) {
                edge_conn_close(c);
                break;
            }
            c->parse_off += (uint32_t)msg.msg_len;
        } else {
            c->parse_off += (uint32_t)r;
        }
    }
    if (c->buf == b && c->parse_off == b->len) {
        /* nothing pending: give the slab back (transactions keep their own reference) */
        edge_buf_unref(b);
        c->buf = NULL;
        c->parse_off = 0;
    }
    edge_buf_unref(b);
}

static void on_handshake(tls_stream_t *s, int status)
{
    edge_conn_t *c = (edge_conn_t *)s;
    edge_t *e = c->edge;
    if (status < 0) {
        EDGE_COUNT(&e->m, conn_handshake_failed);
        edge_info("conn %u %s:%u: TLS handshake failed: %s (%s)", c->slot, c->ip, c->port,
                  tls_strerror(status), tls_last_error());
        edge_conn_close(c);
        return;
    }
    c->up = 1;
    edge_debug("conn %u %s:%u: TLS up (%s%s)", c->slot, c->ip, c->port, tls_stream_version(s),
               tls_stream_peer_verified(s) ? ", peer verified" : "");
    if (c->role == EDGE_ROLE_POOL)
        edge_pool_conn_up(e, c);
}

static const tls_stream_cbs_t conn_cbs = {on_handshake, on_alloc, on_read, NULL, on_conn_close};

static void peer_of(edge_conn_t *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->s.tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            uv_ip4_name(a, c->ip, sizeof c->ip);
            c->port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, c->ip, sizeof c->ip);
            c->port = ntohs(a->sin6_port);
        }
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    edge_listener_t *l = server->data;
    edge_t *e = l->edge;
    if (status < 0 || e->stopping)
        return;
    edge_conn_t *c =
        conn_new(e, l->conf->side == CONF_SIDE_INTERNAL ? EDGE_ROLE_INTERNAL : EDGE_ROLE_EXTERNAL);
    if (!c) {
        uv_tcp_t tmp; /* accept and drop so the backlog does not spin */
        if (uv_tcp_init(e->loop, &tmp) == 0) {
            uv_accept(server, (uv_stream_t *)&tmp);
            uv_close((uv_handle_t *)&tmp, NULL);
            uv_run(e->loop, UV_RUN_NOWAIT);
        }
        return;
    }
    c->listener = l;
    if (uv_accept(server, (uv_stream_t *)&c->s.tcp) < 0) {
        edge_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->s.tcp, 1);
    peer_of(c);
    EDGE_COUNT(&e->m, conn_accepted);
    if (c->role == EDGE_ROLE_EXTERNAL && !l->conf->proxy_protocol && source_admit(e, c) < 0)
        return;
    int r;
    if (l->conf->proxy_protocol) {
        c->proxy_hdr = 1;
        r = tls_stream_read_plain(&c->s);
    } else {
        r = tls_stream_start_server(&c->s, l->ctx, NULL, 0);
    }
    if (r < 0)
        edge_conn_close(c);
}

/* ---------------------------------------------------------------- outbound */

static void on_connect(uv_connect_t *req, int status)
{
    edge_conn_t *c = req->data;
    edge_t *e = c->edge;
    free(req);
    if (c->closing)
        return;
    if (status < 0) {
        edge_info("pool member %s:%d: connect failed: %s", c->member->hop->host,
                  c->member->hop->port, uv_strerror(status));
        edge_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->s.tcp, 1);
    const char *name =
        e->conf.pool.server_name[0] ? e->conf.pool.server_name : c->member->hop->host;
    if (tls_stream_start_client(&c->s, e->pool_ctx, name) < 0)
        edge_conn_close(c);
}

edge_conn_t *edge_conn_connect(edge_t *e, edge_member_t *m)
{
    edge_conn_t *c = conn_new(e, EDGE_ROLE_POOL);
    if (!c)
        return NULL;
    c->member = m;
    size_t hl = strnlen(m->hop->host, sizeof c->ip - 1);
    memcpy(c->ip, m->hop->host, hl);
    c->ip[hl] = '\0';
    c->port = (uint16_t)m->hop->port;
    uv_connect_t *req = malloc(sizeof *req);
    if (!req) {
        edge_conn_close(c);
        return NULL;
    }
    req->data = c;
    int r = uv_tcp_connect(req, &c->s.tcp, (const struct sockaddr *)&m->addr, on_connect);
    if (r < 0) {
        free(req);
        edge_info("pool member %s:%d: connect failed: %s", m->hop->host, m->hop->port,
                  uv_strerror(r));
        edge_conn_close(c);
        return NULL;
    }
    return c;
}

/* ---------------------------------------------------------------- timers, signals */

static void idle_sweep(edge_t *e)
{
    uint64_t limit = e->conf.limits.idle_timeout_ms;
    for (size_t i = 0; i < e->conns.cap; i++) {
        edge_conn_t *c = edge_slots_at(&e->conns, i);
        if (!c || c->closing || c->role == EDGE_ROLE_POOL)
            continue;
        if (e->now_ms - c->last_rx_ms > limit) {
            EDGE_COUNT(&e->m, conn_idle_closed);
            edge_info("conn %u %s:%u: idle for %llu ms, closing", c->slot, c->ip, c->port,
                      (unsigned long long)(e->now_ms - c->last_rx_ms));
            if (c->up)
                tls_stream_end(&c->s);
            else
                edge_conn_close(c);
            c->closing = 1;
        }
    }
}

static void on_tick(uv_timer_t *t)
{
    edge_t *e = t->data;
    static unsigned n;
    now_ms(e);
    edge_txn_tick(e);
    edge_pool_tick(e);
    if (++n % 10 == 0)
        idle_sweep(e);
}

static void on_signal(uv_signal_t *h, int signum)
{
    edge_t *e = h->data;
    if (signum == SIGUSR1) {
        edge_metrics_dump(&e->m, stderr);
        edge_xmpp_dump(e, stderr);
        return;
    }
    if (signum == SIGHUP) {
        char err[512];
        for (size_t i = 0; i < e->nlisteners; i++) {
            if (tls_ctx_reload(e->listeners[i].ctx, err, sizeof err) < 0)
                edge_err("reload of listener %s failed, keeping the old certificates: %s",
                         e->listeners[i].conf->name, err);
        }
        if (e->pool_ctx && tls_ctx_reload(e->pool_ctx, err, sizeof err) < 0)
            edge_err("reload of the pool client certificate failed: %s", err);
        edge_xmpp_reload(e);
        edge_info("certificates reloaded");
        return;
    }
    edge_info("signal %d: stopping", signum);
    edge_stop(e);
}

/* ---------------------------------------------------------------- setup */

/* The flow-token secret survives restarts (tokens in registrations stay checkable): it lives in
 * the state directory, made on first start. */
static int load_flow_secret(edge_t *e, char *err, size_t errlen)
{
    unsigned char secret[32];
    char path[CONF_PATH + 16];
    snprintf(path, sizeof path, "%s/flow.key", e->conf.node.state_dir);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, secret, sizeof secret);
        close(fd);
        if (n == (ssize_t)sizeof secret) {
            edge_flow_key_init(&e->flow_key, secret, sizeof secret, e->conf.node.id);
            return 0;
        }
    }
    if (RAND_bytes(secret, sizeof secret) != 1) {
        snprintf(err, errlen, "no random bytes for the flow-token key");
        return -1;
    }
    mkdir(e->conf.node.state_dir, 0700);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, secret, sizeof secret) != (ssize_t)sizeof secret) {
        edge_warn("%s: cannot save the flow-token key (%s); tokens will not survive a restart",
                  path, strerror(errno));
    }
    if (fd >= 0)
        close(fd);
    edge_flow_key_init(&e->flow_key, secret, sizeof secret, e->conf.node.id);
    return 0;
}

int edge_listen_tls(uv_loop_t *loop, const conf_listener_t *lc, tls_verify_t verify,
                    const char *const *alpn, size_t nalpn, uv_tcp_t *tcp, void *data,
                    uv_connection_cb cb, tls_ctx_t **ctx, int *open, char *err, size_t errlen)
{
    char terr[400];
    tls_cert_conf_t cert = {lc->cert, lc->key};
    tls_server_conf_t sc = {0};
    sc.certs = &cert;
    sc.ncerts = 1;
    sc.ca_file = lc->ca[0] ? lc->ca : NULL;
    sc.verify = verify;
    sc.alpn = alpn;
    sc.nalpn = nalpn;
    *ctx = tls_server_ctx_new(&sc, terr, sizeof terr);
    if (!*ctx) {
        snprintf(err, errlen, "[listener %s]: %s", lc->name, terr);
        return -1;
    }
    struct sockaddr_storage ss;
    if (uv_ip4_addr(lc->address, lc->port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(lc->address, lc->port, (struct sockaddr_in6 *)&ss) != 0) {
        snprintf(err, errlen, "[listener %s]: '%s' is not an IP address", lc->name, lc->address);
        return -1;
    }
    uv_tcp_init(loop, tcp);
    tcp->data = data;
    *open = 1;
    int r = uv_tcp_bind(tcp, (const struct sockaddr *)&ss, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)tcp, 1024, cb);
    if (r < 0) {
        snprintf(err, errlen, "[listener %s]: cannot listen on %s:%d: %s", lc->name, lc->address,
                 lc->port, uv_strerror(r));
        return -1;
    }
    return 0;
}

static int listener_open(edge_t *e, edge_listener_t *l, const conf_listener_t *lc, char *err,
                         size_t errlen)
{
    /* SIP clients rarely send ALPN: no protocol list, so any (or none) is accepted */
    tls_verify_t verify = lc->client_cert == CONF_CLIENT_CERT_REQUIRED   ? TLS_VERIFY_REQUIRED
                          : lc->client_cert == CONF_CLIENT_CERT_OPTIONAL ? TLS_VERIFY_OPTIONAL
                                                                         : TLS_VERIFY_NONE;
    l->edge = e;
    l->conf = lc;
    if (edge_listen_tls(e->loop, lc, verify, NULL, 0, &l->tcp, l, on_connection, &l->ctx, &l->open,
                        err, errlen) < 0)
        return -1;
    edge_info("listening on %s:%d (%s, %s, client certificates %s)", lc->address, lc->port,
              conf_side_name(lc->side), conf_proto_name(lc->protocol),
              verify == TLS_VERIFY_REQUIRED   ? "required"
              : verify == TLS_VERIFY_OPTIONAL ? "optional"
                                              : "not asked");
    return 0;
}

int edge_init(edge_t *e, uv_loop_t *loop, const conf_t *c, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    e->loop = loop;
    e->conf = *c;
    now_ms(e);
    edge_log_set_level((edge_log_level_t)c->log.level);
    e->sources_mask = 65535;
    e->sources = calloc(e->sources_mask + 1, sizeof *e->sources);
    e->guard = edge_authguard_new(c->sip.auth_fail_limit, c->sip.auth_fail_window_ms,
                                  c->sip.lockout_ms, 65536);
    if (!e->sources || !e->guard) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (load_flow_secret(e, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < c->nlisteners; i++) {
        const conf_listener_t *lc = &e->conf.listeners[i];
        if (lc->protocol != CONF_PROTO_SIP)
            continue; /* XMPP listeners: edge_xmpp_init */
        if (listener_open(e, &e->listeners[e->nlisteners++], lc, err, errlen) < 0)
            return -1;
    }
    if (edge_xmpp_init(e, err, errlen) < 0)
        return -1;
    if (edge_sip_init(e, err, errlen) < 0 || edge_pool_init(e, err, errlen) < 0)
        return -1;
    uv_timer_init(loop, &e->tick);
    e->tick.data = e;
    uv_timer_start(&e->tick, on_tick, TICK_MS, TICK_MS);
    uv_signal_t *sigs[] = {&e->sig_term, &e->sig_int, &e->sig_hup, &e->sig_usr1};
    int signums[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
    for (int i = 0; i < 4; i++) {
        uv_signal_init(loop, sigs[i]);
        sigs[i]->data = e;
        uv_signal_start(sigs[i], on_signal, signums[i]);
    }
    edge_info("edge %s up: external %s, internal %s:%d, %zu pool member(s)", c->node.id,
              c->node.external_fqdn, e->int_host, e->int_port, e->nmembers);
    return 0;
}

void edge_stop(edge_t *e)
{
    if (e->stopping)
        return;
    e->stopping = 1;
    for (size_t i = 0; i < e->nlisteners; i++) {
        if (e->listeners[i].open)
            uv_close((uv_handle_t *)&e->listeners[i].tcp, NULL);
    }
    uv_timer_stop(&e->tick);
    uv_close((uv_handle_t *)&e->tick, NULL);
    uv_close((uv_handle_t *)&e->sig_term, NULL);
    uv_close((uv_handle_t *)&e->sig_int, NULL);
    uv_close((uv_handle_t *)&e->sig_hup, NULL);
    uv_close((uv_handle_t *)&e->sig_usr1, NULL);
    edge_txn_free_all(e);
    edge_xmpp_stop(e);
    for (size_t i = 0; i < e->conns.cap; i++) {
        edge_conn_t *c = edge_slots_at(&e->conns, i);
        if (c)
            edge_conn_close(c);
    }
    edge_metrics_dump(&e->m, stderr);
}

void edge_free(edge_t *e)
{
    for (size_t i = 0; i < e->nlisteners; i++)
        tls_ctx_free(e->listeners[i].ctx);
    tls_ctx_free(e->pool_ctx);
    edge_slots_release(&e->conns);
    edge_slots_release(&e->txns);
    free(e->cmap);
    while (e->txn_pool) {
        edge_txn_t *t = e->txn_pool;
        e->txn_pool = t->next;
        free(t);
    }
    free(e->sources);
    edge_authguard_free(e->guard);
    edge_xmpp_free(e);
    edge_buf_trim();
}
