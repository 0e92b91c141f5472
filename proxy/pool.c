/*
 * pool.c - the internal next-hop pool (the Director pool): one persistent MTLS connection per
 * member, reused for every transaction (RFC 5923 style), reconnected with exponential backoff;
 * SIP OPTIONS probes over that connection at the configured interval; members marked down after
 * down_after consecutive failures (probe timeout, error response, connect or TLS failure) and up
 * again after up_after good probes. Picks members round-robin among the healthy ones.
 */
#include <stdio.h>
#include <string.h>

#include "edge.h"
#include "log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000

int edge_pool_init(edge_t *e, char *err, size_t errlen)
{
    const conf_pool_t *p = &e->conf.pool;
    e->nmembers = p->nmembers;
    if (!p->nmembers)
        return 0;
    char terr[400];
    tls_client_conf_t cc = {0};
    cc.cert_file = p->cert[0] ? p->cert : NULL;
    cc.key_file = p->key[0] ? p->key : NULL;
    cc.ca_file = p->ca;
    e->pool_ctx = tls_client_ctx_new(&cc, terr, sizeof terr);
    if (!e->pool_ctx) {
        snprintf(err, errlen, "[pool]: %s", terr);
        return -1;
    }
    for (size_t i = 0; i < p->nmembers; i++) {
        edge_member_t *m = &e->members[i];
        memset(m, 0, sizeof *m);
        m->edge = e;
        m->idx = (int)i;
        m->hop = &p->members[i];
        m->up = 1; /* optimistic until probes or connections say otherwise */
        m->backoff_ms = BACKOFF_MIN_MS;
        if (uv_ip4_addr(m->hop->host, m->hop->port, (struct sockaddr_in *)&m->addr) == 0 ||
            uv_ip6_addr(m->hop->host, m->hop->port, (struct sockaddr_in6 *)&m->addr) == 0) {
            m->addr_ok = 1;
        } else {
            snprintf(err, errlen, "[pool] members: '%s' must be an IP address", m->hop->host);
            return -1;
        }
    }
    return 0;
}

static void member_mark(edge_t *e, edge_member_t *m, int good, const char *why)
{
    if (good) {
        m->bad = 0;
        if (!m->up && ++m->good >= e->conf.pool.up_after) {
            m->up = 1;
            EDGE_COUNT(&e->m, pool_member_up);
            edge_info("pool member %s:%d is up", m->hop->host, m->hop->port);
        }
        return;
    }
    m->good = 0;
    if (m->up && ++m->bad >= e->conf.pool.down_after) {
        m->up = 0;
        EDGE_COUNT(&e->m, pool_member_down);
        edge_warn("pool member %s:%d is down (%s)", m->hop->host, m->hop->port, why);
    }
}

static void member_connect(edge_t *e, edge_member_t *m)
{
    if (m->conn || e->stopping)
        return;
    m->conn = edge_conn_connect(e, m);
    if (!m->conn) {
        EDGE_COUNT(&e->m, pool_connect_failed);
        member_mark(e, m, 0, "cannot connect");
        m->next_connect_ms = e->now_ms + m->backoff_ms;
    }
}

edge_member_t *edge_pool_pick(edge_t *e, uint32_t exclude)
{
    size_t n = e->nmembers;
    edge_member_t *fallback = NULL;
    for (size_t k = 0; k < n; k++) {
        edge_member_t *m = &e->members[(e->rr_next + k) % n];
        if (exclude & (1u << m->idx))
            continue;
        if (m->up && m->conn && m->conn->up) {
            e->rr_next = (size_t)m->idx + 1;
            return m;
        }
        if (!fallback && m->up)
            fallback = m; /* healthy but (re)connecting: the request waits for it */
    }
    if (fallback)
        return fallback;
    /* nothing healthy: a connected member marked down is better than certain failure */
    for (size_t k = 0; k < n; k++) {
        edge_member_t *m = &e->members[k];
        if (!(exclude & (1u << m->idx)) && m->conn && m->conn->up)
            return m;
    }
    return NULL;
}

edge_member_t *edge_pool_find(edge_t *e, sip_slice_t host, int port)
{
    for (size_t i = 0; i < e->nmembers; i++) {
        edge_member_t *m = &e->members[i];
        size_t hl = strlen(m->hop->host);
        if (hl == host.len && strncasecmp(m->hop->host, host.p, hl) == 0 &&
            (port == 0 ? m->hop->port == 5061 : m->hop->port == port))
            return m;
    }
    return NULL;
}

static void send_now(edge_t *e, edge_member_t *m, edge_txn_t *t)
{
    t->member = m;
    t->member_conn_gen = m->conn->gen;
    if (edge_conn_send(m->conn, t->iov, t->iovcnt) < 0)
        return; /* the close handler retries it with the member's other transactions */
    EDGE_COUNT(&e->m, sip_requests_relayed);
}

void edge_pool_send(edge_t *e, edge_member_t *m, edge_txn_t *t)
{
    t->tried |= 1u << m->idx;
    t->attempts++;
    if (!m->conn)
        member_connect(e, m);
    if (m->conn && m->conn->up) {
        send_now(e, m, t);
        return;
    }
    if (!m->conn) {
        edge_txn_retry(e, t, 503, "Service Unavailable");
        return;
    }
    t->member = m;
    t->member_conn_gen = m->conn->gen;
    t->waiting = 1;
    t->wait_next = NULL;
    if (m->wait_tail)
        m->wait_tail->wait_next = t;
    else
        m->wait_head = t;
    m->wait_tail = t;
}

/* Take t off its member's wait queue (a transaction that ends while waiting). */
static void unwait_all(edge_member_t *m, edge_txn_t **out)
{
    *out = m->wait_head;
    m->wait_head = m->wait_tail = NULL;
}

void edge_pool_conn_up(edge_t *e, edge_conn_t *c)
{
    edge_member_t *m = c->member;
    m->backoff_ms = BACKOFF_MIN_MS;
    edge_info("pool member %s:%d connected (%s)", m->hop->host, m->hop->port,
              tls_stream_version(&c->s));
    member_mark(e, m, 1, "");
    m->next_probe_ms = e->now_ms; /* probe at once: a fresh link proves itself */
    edge_txn_t *t;
    unwait_all(m, &t);
    while (t) {
        edge_txn_t *next = t->wait_next;
        t->waiting = 0;
        t->member_conn_gen = c->gen;
        if (!c->closing)
            send_now(e, m, t);
        t = next;
    }
}

void edge_pool_conn_down(edge_t *e, edge_conn_t *c, int during_handshake)
{
    edge_member_t *m = c->member;
    if (m->conn == c)
        m->conn = NULL;
    m->probe_outstanding = 0;
    if (during_handshake) {
        EDGE_COUNT(&e->m, pool_connect_failed);
        member_mark(e, m, 0, "connection or TLS handshake failed");
    } else {
        member_mark(e, m, 0, "connection lost");
    }
    m->next_connect_ms = e->now_ms + m->backoff_ms;
    m->backoff_ms = m->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : m->backoff_ms * 2;
    if (!e->stopping) {
        edge_txn_t *t;
        unwait_all(m, &t);
        while (t) {
            edge_txn_t *next = t->wait_next;
            t->waiting = 0;
            edge_txn_retry(e, t, 503, "Service Unavailable");
            t = next;
        }
        edge_txn_conn_lost(e, m, c->gen);
    }
}

static void probe_send(edge_t *e, edge_member_t *m)
{
    char req[1024];
    const conf_t *c = &e->conf;
    m->probe_seq++;
    int n = snprintf(req, sizeof req,
                     "OPTIONS sip:%s:%d;transport=tls SIP/2.0\r\n"
                     "Via: SIP/2.0/TLS %s:%d;branch=z9hG4bKeh%x.%x\r\n"
                     "Max-Forwards: 70\r\n"
                     "From: <sip:%s@%s>;tag=probe%x\r\n"
                     "To: <sip:%s:%d>\r\n"
                     "Call-ID: probe-%s-%d-%x-%x\r\n"
                     "CSeq: %u OPTIONS\r\n"
                     "User-Agent: edgeproxy\r\n"
                     "Content-Length: 0\r\n\r\n",
                     m->hop->host, m->hop->port, e->int_host, e->int_port, (unsigned)m->idx,
                     m->probe_seq, c->node.id, c->node.external_fqdn, m->probe_seq, m->hop->host,
                     m->hop->port, c->node.id, m->idx, e->probe_tag, m->probe_seq, m->probe_seq);
    struct iovec iov = {req, (size_t)n};
    EDGE_COUNT(&e->m, pool_probes);
    m->probe_outstanding = 1;
    m->probe_deadline = e->now_ms + c->pool.health_timeout_ms;
    m->next_probe_ms = e->now_ms + c->pool.health_interval_ms;
    edge_conn_send(m->conn, &iov, 1);
}

void edge_pool_probe_response(edge_t *e, edge_conn_t *c, const sip_msg_t *msg, sip_slice_t branch)
{
    edge_member_t *m = c->member;
    unsigned idx = 0, seq = 0;
    char tmp[32];
    size_t n = branch.len < sizeof tmp - 1 ? branch.len : sizeof tmp - 1;
    memcpy(tmp, branch.p, n);
    tmp[n] = '\0';
    if (!m || sscanf(tmp, "z9hG4bKeh%x.%x", &idx, &seq) != 2 || idx != (unsigned)m->idx ||
        seq != m->probe_seq || !m->probe_outstanding || msg->status < 200)
        return;
    m->probe_outstanding = 0;
    if (msg->status >= 500) {
        EDGE_COUNT(&e->m, pool_probe_failed);
        member_mark(e, m, 0, "probe answered with an error");
    } else {
        member_mark(e, m, 1, "");
    }
}

void edge_pool_tick(edge_t *e)
{
    for (size_t i = 0; i < e->nmembers; i++) {
        edge_member_t *m = &e->members[i];
        if (!m->conn) {
            if (e->now_ms >= m->next_connect_ms)
                member_connect(e, m);
            continue;
        }
        if (!m->conn->up)
            continue;
        if (m->probe_outstanding && e->now_ms >= m->probe_deadline) {
            m->probe_outstanding = 0;
            EDGE_COUNT(&e->m, pool_probe_failed);
            member_mark(e, m, 0, "probe timed out");
        }
        if (!m->probe_outstanding && e->now_ms >= m->next_probe_ms)
            probe_send(e, m);
    }
}
