/*
 * sip_router.c - what the edge does with each SIP message (DESIGN.md 4).
 *
 * From the outside (remote users, partners): checked, rate-limited, brute-force guarded, then
 * relayed only to the internal pool, whatever the Request-URI or Route says (no open relay),
 * transaction-stateful: our Via branch names the transaction, which keeps a reference to the
 * request's bytes so a connect failure, a 503 or a timeout can send the same bytes to the next
 * member. Record-Route (inward: our internal address with the client's flow token; outward: the
 * external FQDN), Path on REGISTER, Max-Forwards, received/rport, trust headers stripped and our
 * own added, Ms-Keep-Alive answered.
 *
 * From the inside (the pool): requests go out only over the flow their Route (our Record-Route
 * or Path) names, verified by its HMAC; a dead flow is 430. They are relayed statelessly: our
 * Via branch names the inbound connection, so the response finds its way back.
 *
 * Every edit is a splice on the original bytes; forwarding writes original slices plus the few
 * new header bytes in one vectored TLS write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge.h"
#include "log.h"

#define MAX_OPS    40
#define BR_TXN     "z9hG4bKet" /* our transaction toward the pool: slot, generation */
#define BR_OUT     "z9hG4bKes" /* stateless, outward: inbound conn slot/gen, out slot, hash */
#define BR_ACK     "z9hG4bKea" /* ACK for a 2xx, stateless inward */
#define BR_PROBE   "z9hG4bKeh" /* health probes (pool.c) */
#define BR_PREFIX  "z9hG4bKe"
#define BR_PFX_LEN 9

typedef struct {
    char *p;
    size_t used, cap;
} arena_t;

/* A header line built piece by piece in the arena (no printf on the hot path): start it, put
 * pieces, end it for the pointer and length (NULL when it did not fit). */
static void arena_put(arena_t *a, const char *p, size_t n)
{
    if (a->used + n <= a->cap)
        memcpy(a->p + a->used, p, n);
    a->used += n; /* past cap: arena_end reports the overflow */
}

static void arena_puts(arena_t *a, const char *s)
{
    arena_put(a, s, strlen(s));
}

static void arena_hex32(arena_t *a, uint32_t v)
{
    static const char hexd[] = "0123456789abcdef";
    char h[8];
    for (int i = 7; i >= 0; i--, v >>= 4)
        h[i] = hexd[v & 15];
    arena_put(a, h, 8);
}

static void arena_u32(arena_t *a, uint32_t v)
{
    char d[10];
    int n = 0;
    do
        d[9 - n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < 10);
    arena_put(a, d + 10 - n, (size_t)n);
}

static const char *arena_end(arena_t *a, size_t start, size_t *len)
{
    if (a->used > a->cap) {
        a->used = start;
        *len = 0;
        return NULL;
    }
    *len = a->used - start;
    return a->p + start;
}

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int slice_starts(sip_slice_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len >= n && memcmp(s.p, lit, n) == 0;
}

static int hex32(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

static int top_branch(const sip_msg_t *msg, sip_slice_t *branch)
{
    sip_via_t via;
    if (sip_msg_top_via(msg, &via) < 0)
        return -1;
    *branch = via.branch;
    return 0;
}

/* ---------------------------------------------------------------- local answers */

/*
 * Answer a request ourselves: the status line, the request's Via, From, To (with a tag of ours
 * when it has none), Call-ID and CSeq, 'extra' header lines, no body.
 */
static void reply(edge_conn_t *c, const sip_msg_t *msg, int status, const char *reason,
                  const char *extra)
{
    edge_t *e = c->edge;
    struct iovec iov[EDGE_IOV_MAX];
    char head[160], totag[64], tail[600];
    size_t n = 0;
    if (msg->kind != SIP_MSG_REQUEST || msg->method_id == SIP_METHOD_ACK)
        return;
    int hl = snprintf(head, sizeof head, "SIP/2.0 %d %s\r\n", status, reason);
    iov[n++] = (struct iovec){head, (size_t)hl};
    for (size_t i = 0; i < msg->nhdrs && n + 3 < EDGE_IOV_MAX; i++) {
        const sip_hdr_t *h = &msg->hdrs[i];
        if (h->id == SIP_HDR_TO && status > 100) {
            sip_naddr_t to;
            if (sip_naddr_parse(h->value, &to) == 0 && !to.has_tag) {
                const sip_hdr_t *cid = sip_msg_header_find(msg, SIP_HDR_CALL_ID);
                uint64_t th = cid ? hash_bytes(cid->value.p, cid->value.len) : 0;
                int tl = snprintf(totag, sizeof totag, ";tag=ep%08x\r\n", (unsigned)th);
                iov[n++] = (struct iovec){(void *)h->raw.p,
                                          (size_t)(h->value.p + h->value.len - h->raw.p)};
                iov[n++] = (struct iovec){totag, (size_t)tl};
                continue;
            }
        }
        if (h->id == SIP_HDR_VIA || h->id == SIP_HDR_FROM || h->id == SIP_HDR_TO ||
            h->id == SIP_HDR_CALL_ID || h->id == SIP_HDR_CSEQ)
            iov[n++] = (struct iovec){(void *)h->raw.p, h->raw.len};
    }
    int tl = snprintf(tail, sizeof tail, "%sServer: edgeproxy\r\nContent-Length: 0\r\n\r\n",
                      extra ? extra : "");
    iov[n++] = (struct iovec){tail, (size_t)tl};
    EDGE_COUNT(&e->m, sip_local_replies);
    edge_conn_send(c, iov, n);
}

/* The answer for a parse or check failure; a 420 lists every unsupported Proxy-Require tag. */
static void reply_verdict(edge_conn_t *c, const sip_msg_t *msg, const sip_verdict_t *v)
{
    edge_t *e = c->edge;
    char extra[512] = "";
    if (v->err == SIP_E_BAD_EXTENSION) {
        sip_tag_iter_t it = {0};
        sip_slice_t tag;
        size_t off = 0;
        while (sip_msg_option_tag_next(msg, SIP_HDR_PROXY_REQUIRE, &it, &tag) == 1) {
            if (sip_check_option_supported(&e->check_opts, tag) || off + tag.len + 20 > 480)
                continue;
            off += (size_t)snprintf(extra + off, sizeof extra - off, "%s%.*s",
                                    off ? ", " : "Unsupported: ", (int)tag.len, tag.p);
        }
        if (off)
            snprintf(extra + off, sizeof extra - off, "\r\n");
    }
    if (v->err == SIP_E_TOO_LARGE)
        EDGE_COUNT(&e->m, sip_too_large);
    if (v->err == SIP_E_TOO_MANY_HOPS)
        EDGE_COUNT(&e->m, sip_too_many_hops);
    else
        EDGE_COUNT(&e->m, sip_bad_requests);
    edge_info("conn %u %s:%u: %d %s (%s)", c->slot, c->ip, c->port, v->status,
              sip_err_reason(v->err), sip_strerror(v->err));
    reply(c, msg, v->status, sip_err_reason(v->err), extra);
}

/* The proxy checks of a request (sip_msg_check): 1 to go on, 0 when it was dropped, answered or
 * its connection closed. */
static int request_checked(edge_conn_t *c, const sip_msg_t *msg)
{
    edge_t *e = c->edge;
    sip_verdict_t v;
    sip_msg_check(msg, &e->check_opts, &v);
    if (v.action == SIP_ACT_FORWARD)
        return 1;
    if (v.action == SIP_ACT_DROP) {
        EDGE_COUNT(&e->m, sip_dropped);
        return 0;
    }
    reply_verdict(c, msg, &v);
    if (v.action == SIP_ACT_CLOSE)
        edge_conn_close(c);
    return 0;
}

/* ---------------------------------------------------------------- transactions */

static void list_add(edge_txn_list_t *l, edge_txn_t *t)
{
    t->next = NULL;
    t->prev = l->tail;
    if (l->tail)
        l->tail->next = t;
    else
        l->head = t;
    l->tail = t;
}

static void list_del(edge_txn_list_t *l, edge_txn_t *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        l->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        l->tail = t->prev;
    t->prev = t->next = NULL;
}

static edge_txn_list_t *txn_list(edge_t *e, edge_txn_t *t)
{
    return t->long_timer ? &e->txn_long : &e->txn_short;
}

/* (Re)arm the transaction's timer: timer B/F (the configured timeout), or timer C (3 min) for
 * an INVITE that has had a provisional answer ([sip] invite_timeout). Each list is FIFO in deadline
 * order. */
static void txn_arm(edge_t *e, edge_txn_t *t, int long_timer)
{
    if (t->in_list)
        list_del(txn_list(e, t), t);
    t->long_timer = (uint8_t)long_timer;
    t->deadline = e->now_ms + (long_timer ? e->conf.sip.invite_timeout_ms
                                          : e->conf.pool.transaction_timeout_ms);
    list_add(txn_list(e, t), t);
    t->in_list = 1;
}

static edge_txn_t *txn_new(edge_t *e)
{
    if (e->txns.count >= e->conf.sip.max_transactions)
        return NULL;
    edge_txn_t *t = e->txn_pool;
    if (t)
        e->txn_pool = t->next;
    else if (!(t = malloc(sizeof *t)))
        return NULL;
    memset(t, 0, offsetof(edge_txn_t, extra));
    if (edge_slots_add(&e->txns, t, 1024, &t->slot, &t->gen) < 0) {
        free(t);
        return NULL;
    }
    return t;
}

static void cmap_del(edge_t *e, edge_txn_t *t)
{
    if (!t->cbranch)
        return;
    edge_txn_t **pp = &e->cmap[t->cbranch & e->cmap_mask];
    while (*pp && *pp != t)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = t->hnext;
    t->cbranch = 0;
}

/* Take t off its member's wait queue. */
static void txn_unwait(edge_txn_t *t)
{
    if (!t->waiting || !t->member)
        return;
    edge_member_t *m = t->member;
    edge_txn_t **pp = &m->wait_head, *prev = NULL;
    while (*pp && *pp != t) {
        prev = *pp;
        pp = &(*pp)->wait_next;
    }
    if (*pp) {
        *pp = t->wait_next;
        if (m->wait_tail == t)
            m->wait_tail = prev;
    }
    t->waiting = 0;
}

static void txn_free(edge_t *e, edge_txn_t *t)
{
    if (t->in_list)
        list_del(txn_list(e, t), t);
    txn_unwait(t);
    cmap_del(e, t);
    edge_buf_unref(t->buf);
    edge_slots_remove(&e->txns, t->slot);
    t->next = e->txn_pool;
    e->txn_pool = t;
}

static uint64_t cbranch_key(uint32_t conn_slot, sip_slice_t branch)
{
    uint64_t h = hash_bytes(branch.p, branch.len) ^ ((uint64_t)conn_slot * 0x9e3779b97f4a7c15ull);
    return h ? h : 1;
}

static edge_txn_t *cmap_find(edge_t *e, uint64_t key, uint32_t slot, uint32_t gen)
{
    for (edge_txn_t *t = e->cmap[key & e->cmap_mask]; t; t = t->hnext) {
        if (t->cbranch == key && t->client_slot == slot && t->client_gen == gen)
            return t;
    }
    return NULL;
}

/* Re-index the transaction's request (for answers the edge makes on its behalf). */
static int txn_request(const edge_txn_t *t, sip_msg_t *msg)
{
    static sip_hdr_t hdrs[32768];
    sip_msg_init(msg, hdrs, sizeof hdrs / sizeof hdrs[0]);
    msg->max_size = t->req_len + 1;
    msg->max_line = t->req_len + 1;
    return sip_parse(t->req, t->req_len, msg, 0) > 0 ? 0 : -1;
}

/* The edge gives the final answer itself (no member left, timeout, cancel while waiting). */
static void txn_answer(edge_t *e, edge_txn_t *t, int status, const char *reason)
{
    edge_conn_t *client = edge_conn_get(e, t->client_slot, t->client_gen);
    sip_msg_t msg;
    if (client && txn_request(t, &msg) == 0)
        reply(client, &msg, status, reason, NULL);
    if (t->method == SIP_METHOD_INVITE) {
        /* keep it for the ACK of our answer, which must not wander into the pool */
        t->state = EDGE_TXN_COMPLETED;
        t->member = NULL;
        txn_arm(e, t, 0);
    } else {
        txn_free(e, t);
    }
}

void edge_txn_retry(edge_t *e, edge_txn_t *t, int status, const char *reason)
{
    txn_unwait(t);
    if (t->state == EDGE_TXN_CALLING && !t->cancel_sent) {
        edge_member_t *m = edge_pool_pick(e, t->tried);
        if (m) {
            EDGE_COUNT(&e->m, txn_retries);
            edge_info("transaction %u: %d %s from member %d, trying %s:%d", t->slot, status, reason,
                      t->member ? t->member->idx : -1, m->hop->host, m->hop->port);
            txn_arm(e, t, 0);
            edge_pool_send(e, m, t);
            return;
        }
    }
    if (t->state == EDGE_TXN_COMPLETED)
        return;
    if (status == 408)
        EDGE_COUNT(&e->m, txn_timeouts);
    txn_answer(e, t, status, reason);
}

/*
 * Timer C fired on an INVITE that had a provisional answer: CANCEL it at the member (RFC 3261
 * 16.8), built from the request as the edge forwarded it (our Via, the Route set, From, To,
 * Call-ID, the CSeq number), so the Director stops ringing the callee.
 */
static void txn_cancel_downstream(edge_t *e, edge_txn_t *t)
{
    static sip_hdr_t hdrs[1024];
    edge_conn_t *mc = t->member ? t->member->conn : NULL;
    if (t->method != SIP_METHOD_INVITE || t->cancel_sent || !mc || !mc->up ||
        mc->gen != t->member_conn_gen)
        return;
    size_t len = 0;
    for (int i = 0; i < t->iovcnt; i++)
        len += t->iov[i].iov_len;
    char *flat = malloc(len);
    if (!flat)
        return;
    size_t off = 0;
    for (int i = 0; i < t->iovcnt; i++) {
        memcpy(flat + off, t->iov[i].iov_base, t->iov[i].iov_len);
        off += t->iov[i].iov_len;
    }
    sip_msg_t msg;
    sip_msg_init(&msg, hdrs, sizeof hdrs / sizeof hdrs[0]);
    msg.max_size = len + 1;
    msg.max_line = len + 1;
    const sip_hdr_t *cs;
    sip_cseq_t cseq;
    if (sip_parse(flat, len, &msg, 0) > 0 && (cs = sip_msg_header_find(&msg, SIP_HDR_CSEQ)) &&
        sip_cseq_parse(cs->value, &cseq) == 0 && msg.first[SIP_HDR_VIA] >= 0) {
        struct iovec iov[EDGE_IOV_MAX];
        char head[64], tail[96];
        size_t n = 0;
        iov[n++] = (struct iovec){"CANCEL ", 7};
        iov[n++] = (struct iovec){(void *)msg.ruri.p, msg.ruri.len};
        iov[n++] = (struct iovec){" SIP/2.0\r\n", 10};
        const sip_hdr_t *via = &msg.hdrs[msg.first[SIP_HDR_VIA]]; /* ours: a line of its own */
        iov[n++] = (struct iovec){(void *)via->raw.p, via->raw.len};
        int hl = snprintf(head, sizeof head, "Max-Forwards: 70\r\n");
        iov[n++] = (struct iovec){head, (size_t)hl};
        for (size_t i = 0; i < msg.nhdrs && n + 2 < EDGE_IOV_MAX; i++) {
            const sip_hdr_t *h = &msg.hdrs[i];
            if (h->id == SIP_HDR_ROUTE || h->id == SIP_HDR_FROM || h->id == SIP_HDR_TO ||
                h->id == SIP_HDR_CALL_ID)
                iov[n++] = (struct iovec){(void *)h->raw.p, h->raw.len};
        }
        int tl = snprintf(tail, sizeof tail, "CSeq: %u CANCEL\r\nContent-Length: 0\r\n\r\n",
                          cseq.number);
        iov[n++] = (struct iovec){tail, (size_t)tl};
        if (edge_conn_send(mc, iov, n) == 0) {
            t->cancel_sent = 1;
            EDGE_COUNT(&e->m, txn_timer_c);
            edge_info("transaction %u: INVITE unanswered after timer C, CANCEL sent to %s:%d",
                      t->slot, t->member->hop->host, t->member->hop->port);
        }
    }
    free(flat);
}

void edge_txn_tick(edge_t *e)
{
    edge_txn_list_t *lists[2] = {&e->txn_short, &e->txn_long};
    for (int i = 0; i < 2; i++) {
        edge_txn_t *t;
        while ((t = lists[i]->head) && t->deadline <= e->now_ms) {
            list_del(lists[i], t);
            t->in_list = 0;
            if (t->state == EDGE_TXN_COMPLETED) {
                txn_free(e, t);
                continue;
            }
            txn_unwait(t); /* its member never came up in time */
            if (t->state == EDGE_TXN_PROCEEDING)
                txn_cancel_downstream(e, t);
            edge_txn_retry(e, t, 408, "Request Timeout");
        }
    }
}

void edge_txn_conn_lost(edge_t *e, edge_member_t *m, uint32_t conn_gen)
{
    for (size_t i = 0; i < e->txns.cap; i++) {
        edge_txn_t *t = edge_slots_at(&e->txns, i);
        if (!t || t->member != m || t->member_conn_gen != conn_gen || t->waiting)
            continue;
        if (t->state == EDGE_TXN_COMPLETED)
            t->member = NULL;
        else
            edge_txn_retry(e, t, 503, "Service Unavailable");
    }
}

void edge_txn_free_all(edge_t *e)
{
    for (size_t i = 0; i < e->txns.cap; i++) {
        edge_txn_t *t = edge_slots_at(&e->txns, i);
        if (t)
            txn_free(e, t);
    }
}

/* Our Via branch for a transaction: BR_TXN, slot, generation (NUL-terminated, 26 bytes). */
static void txn_branch(const edge_txn_t *t, char *out)
{
    arena_t a = {out, 0, 32};
    arena_puts(&a, BR_TXN);
    arena_hex32(&a, t->slot);
    arena_hex32(&a, t->gen);
    out[a.used] = '\0';
}

/* ---------------------------------------------------------------- edits */

static int is_trust_header(const edge_t *e, const sip_hdr_t *h)
{
    if (h->id == SIP_HDR_MS_EDGE_TRUST)
        return 1;
    if (h->id != SIP_HDR_OTHER)
        return 0;
    for (size_t i = 0; i < e->ntrust; i++) {
        if (strlen(e->trust_names[i]) == h->name.len &&
            strncasecmp(e->trust_names[i], h->name.p, h->name.len) == 0)
            return 1;
    }
    return 0;
}

/* Whether a Route/Record-Route URI names this edge: our internal address, our external FQDN, or
 * a flow token of ours in the user part. The token (unverified) is returned for the caller. */
static int route_is_ours(const edge_t *e, sip_slice_t value, sip_slice_t *user, sip_slice_t *host,
                         int *port)
{
    sip_naddr_t na;
    sip_uri_t u;
    *user = SIP_SLICE_NULL;
    *host = SIP_SLICE_NULL;
    *port = 0;
    if (sip_naddr_parse(value, &na) < 0 || sip_uri_parse(na.uri, &u) < 0 ||
        (u.scheme != SIP_SCHEME_SIP && u.scheme != SIP_SCHEME_SIPS))
        return 0;
    *host = u.hostport.host;
    *port = u.hostport.port;
    size_t il = strlen(e->int_host), xl = strlen(e->conf.node.external_fqdn);
    int ours = (u.hostport.host.len == il && strncasecmp(u.hostport.host.p, e->int_host, il) == 0 &&
                (u.hostport.port == 0 || u.hostport.port == e->int_port)) ||
               (u.hostport.host.len == xl &&
                strncasecmp(u.hostport.host.p, e->conf.node.external_fqdn, xl) == 0);
    if (ours)
        *user = u.user;
    return ours;
}

typedef struct {
    sip_slice_t token;     /* a flow token found in a Route of ours */
    sip_slice_t next_host; /* the first Route that is not ours */
    int next_port;
    int has_next;
} routes_t;

/* Pop the Route values that name us (top of the list) and report what follows. */
static void pop_routes(edge_t *e, const sip_msg_t *msg, sip_edit_t *ed, routes_t *r)
{
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < msg->nhdrs; i++) {
        const sip_hdr_t *h = &msg->hdrs[i];
        if (h->id != SIP_HDR_ROUTE)
            continue;
        size_t pos = 0, popped = 0;
        sip_slice_t v;
        while (sip_value_next(h->value, &pos, &v)) {
            sip_slice_t user, host;
            int port;
            if (route_is_ours(e, v, &user, &host, &port)) {
                if (user.len == EDGE_FLOW_TOKEN_LEN && !r->token.p)
                    r->token = user;
                popped++;
                continue;
            }
            r->next_host = host;
            r->next_port = port;
            r->has_next = 1;
            if (popped) /* remove the values of ours before this one */
                sip_edit_splice(ed, h->value.p, (size_t)(v.p - h->value.p), NULL, 0);
            return;
        }
        if (popped)
            sip_edit_drop(ed, i);
    }
}

/* A Via of ours already in the message: the request has been here (RFC 3261 16.3 item 4). */
static int loop_detected(const edge_t *e, const sip_msg_t *msg)
{
    size_t il = strlen(e->int_host), xl = strlen(e->conf.node.external_fqdn);
    for (const sip_hdr_t *h = sip_msg_header_find(msg, SIP_HDR_VIA); h;
         h = sip_msg_header_next(msg, h)) {
        size_t pos = 0;
        sip_via_t v;
        while (sip_via_next(h->value, &pos, &v) == 1) {
            if (!slice_starts(v.branch, BR_PREFIX))
                continue;
            sip_slice_t host = v.sent_by.host;
            if ((host.len == il && strncasecmp(host.p, e->int_host, il) == 0 &&
                 v.sent_by.port == e->int_port) ||
                (host.len == xl && strncasecmp(host.p, e->conf.node.external_fqdn, xl) == 0 &&
                 (v.sent_by.port == 0 || v.sent_by.port == e->ext_port)))
                return 1;
        }
    }
    return 0;
}

/* Strip forged trust headers; with 'ka' also hop-by-hop Ms-Keep-Alive (reported in *ka). */
static void strip_headers(edge_t *e, const sip_msg_t *msg, sip_edit_t *ed, int keepalive, int *ka)
{
    for (size_t i = 0; i < msg->nhdrs; i++) {
        const sip_hdr_t *h = &msg->hdrs[i];
        if (is_trust_header(e, h)) {
            EDGE_COUNT(&e->m, sip_trust_stripped);
            sip_edit_drop(ed, i);
        } else if (keepalive && h->id == SIP_HDR_MS_KEEP_ALIVE) {
            sip_slice_t v;
            if (sip_param_find(h->value, "hop-hop", &v) && v.len == 3 &&
                strncasecmp(v.p, "yes", 3) == 0) {
                sip_edit_drop(ed, i);
                if (ka)
                    *ka = 1;
            }
        }
    }
}

/* received/rport on the sender's top Via (RFC 3261 18.2.1, RFC 3581). */
static void via_received(edge_conn_t *c, const sip_msg_t *msg, sip_edit_t *ed, arena_t *a)
{
    int vi = msg->first[SIP_HDR_VIA];
    sip_slice_t first, rv;
    sip_via_t via;
    size_t pos = 0, len;
    if (vi < 0 || !sip_value_next(msg->hdrs[vi].value, &pos, &first))
        return;
    pos = 0;
    if (sip_via_next(msg->hdrs[vi].value, &pos, &via) != 1)
        return;
    if (via.rport == 0 && sip_param_find(via.params, "rport", &rv)) {
        size_t at = a->used;
        arena_put(a, "=", 1);
        arena_u32(a, c->port);
        const char *s = arena_end(a, at, &len);
        if (s)
            sip_edit_splice(ed, rv.p, 0, s, len);
    }
    if (!via.received.p) {
        size_t at = a->used;
        arena_put(a, ";received=", 10);
        arena_puts(a, c->ip);
        const char *s = arena_end(a, at, &len);
        if (s)
            sip_edit_splice(ed, first.p + first.len, 0, s, len);
    }
}

static void add_line(sip_edit_t *ed, int at, const char *s, size_t len)
{
    if (s)
        sip_edit_insert(ed, at < 0 ? 0 : (size_t)at, s, len);
}

/* ---------------------------------------------------------------- from the outside */

enum { IN_RR = 1, IN_PATH = 2, IN_NO_TRUST = 4 };

/* The edits of a request relayed inward. Returns the iovec count, or -1. */
static int build_inward(edge_conn_t *c, const char *base, const sip_msg_t *msg, arena_t *a,
                        const char *branch, int flags, routes_t *routes, int *ka, struct iovec *iov)
{
    edge_t *e = c->edge;
    sip_splice_t ops[MAX_OPS];
    sip_edit_t ed;
    size_t len, total;
    const char *s;
    sip_edit_init(&ed, msg, base, ops, MAX_OPS);

    size_t at = a->used;
    arena_puts(a, e->via_int);
    arena_puts(a, branch);
    arena_put(a, "\r\n", 2);
    s = arena_end(a, at, &len);
    add_line(&ed, msg->first[SIP_HDR_VIA], s, len);
    via_received(c, msg, &ed, a);
    if (sip_edit_max_forwards(&ed) < 0)
        return -1;
    pop_routes(e, msg, &ed, routes);
    strip_headers(e, msg, &ed, 1, ka);
    if (flags & IN_RR) {
        at = a->used;
        arena_put(a, "Record-Route: <sip:", 19);
        arena_put(a, c->token, EDGE_FLOW_TOKEN_LEN);
        arena_put(a, "@", 1);
        arena_puts(a, e->int_host);
        arena_put(a, ":", 1);
        arena_u32(a, (uint32_t)e->int_port);
        arena_puts(a, ";transport=tls;lr>\r\nRecord-Route: ");
        arena_puts(a, e->rr_ext);
        arena_put(a, "\r\n", 2);
        s = arena_end(a, at, &len);
        int rr = msg->first[SIP_HDR_RECORD_ROUTE];
        add_line(&ed, rr >= 0 ? rr : msg->first[SIP_HDR_VIA], s, len);
    }
    if (flags & IN_PATH) {
        at = a->used;
        arena_put(a, "Path: <sip:", 11);
        arena_put(a, c->token, EDGE_FLOW_TOKEN_LEN);
        arena_put(a, "@", 1);
        arena_puts(a, e->int_host);
        arena_put(a, ":", 1);
        arena_u32(a, (uint32_t)e->int_port);
        arena_puts(a, ";transport=tls;lr;ob>\r\n");
        s = arena_end(a, at, &len);
        int ph = msg->first[SIP_HDR_PATH];
        add_line(&ed, ph >= 0 ? ph : msg->first[SIP_HDR_VIA], s, len);
    }
    if (!(flags & IN_NO_TRUST)) {
        int partner = tls_stream_peer_verified(&c->s);
        sip_edit_insert(&ed, msg->nhdrs, partner ? e->trust_partner : e->trust_remote,
                        partner ? e->trust_partner_len : e->trust_remote_len);
    }
    int n = sip_edit_render(&ed, iov, EDGE_IOV_MAX, &total);
    /* the rewritten Max-Forwards digits live in ed, on this stack: a transaction resends these
     * iovecs later (failover, a member still connecting), so they move into the arena */
    for (int i = 0; i < n; i++) {
        const char *b = iov[i].iov_base;
        if (b >= ed.mf_digits && b < ed.mf_digits + sizeof ed.mf_digits) {
            size_t mat = a->used;
            arena_put(a, b, iov[i].iov_len);
            const char *moved = arena_end(a, mat, &len);
            if (!moved)
                return -1;
            iov[i].iov_base = (void *)moved;
        }
    }
    return n;
}

/* The brute-force guard's key for a source address: "s:" and the address. */
static int source_key(const char *ip, char *out, size_t outlen)
{
    size_t n = strnlen(ip, outlen - 3);
    memcpy(out, "s:", 2);
    memcpy(out + 2, ip, n);
    out[n + 2] = '\0';
    return (int)(n + 2);
}

static void auth_user_key(const sip_msg_t *msg, char *out, size_t outlen, uint8_t *len)
{
    const sip_hdr_t *h = sip_msg_header_find(msg, SIP_HDR_AUTHORIZATION);
    if (!h)
        h = sip_msg_header_find(msg, SIP_HDR_PROXY_AUTHORIZATION);
    *len = 0;
    if (!h)
        return;
    const char *p = h->value.p, *end = p + h->value.len;
    for (; p + 8 < end; p++) {
        if (strncasecmp(p, "username", 8) != 0)
            continue;
        const char *q = p + 8;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (q >= end || *q != '=')
            continue;
        q++;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (q < end && *q == '"')
            q++;
        const char *u = q;
        while (q < end && *q != '"' && *q != ',')
            q++;
        size_t n = (size_t)(q - u);
        if (n + 3 > outlen)
            n = outlen - 3;
        memcpy(out, "u:", 2);
        memcpy(out + 2, u, n);
        *len = (uint8_t)(n + 2);
        return;
    }
}

static edge_member_t *route_member(edge_t *e, const routes_t *r, uint32_t exclude)
{
    if (r->has_next) {
        edge_member_t *m = edge_pool_find(e, r->next_host, r->next_port);
        if (m && !(exclude & (1u << m->idx)))
            return m;
    }
    return edge_pool_pick(e, exclude);
}

static void cancel_external(edge_conn_t *c, const char *base, const sip_msg_t *msg)
{
    edge_t *e = c->edge;
    sip_slice_t br;
    if (top_branch(msg, &br) < 0)
        return;
    edge_txn_t *t = cmap_find(e, cbranch_key(c->slot, br), c->slot, c->gen);
    if (!t) {
        reply(c, msg, 481, "Call/Transaction Does Not Exist", NULL);
        return;
    }
    reply(c, msg, 200, "OK", NULL);
    if (t->state == EDGE_TXN_COMPLETED || t->cancel_sent)
        return;
    if (t->waiting || !t->member || !t->member->conn || !t->member->conn->up) {
        txn_answer(e, t, 487, "Request Terminated");
        return;
    }
    char store[EDGE_TXN_EXTRA], branch[32];
    arena_t a = {store, 0, sizeof store};
    struct iovec iov[EDGE_IOV_MAX];
    routes_t r;
    int ka = 0;
    txn_branch(t, branch);
    int n = build_inward(c, base, msg, &a, branch, 0, &r, &ka, iov);
    if (n > 0 && edge_conn_send(t->member->conn, iov, (size_t)n) == 0) {
        t->cancel_sent = 1;
        EDGE_COUNT(&e->m, sip_requests_relayed);
    }
}

static void ack_external(edge_conn_t *c, const char *base, const sip_msg_t *msg)
{
    edge_t *e = c->edge;
    sip_slice_t br;
    char store[EDGE_TXN_EXTRA], branch[32];
    arena_t a = {store, 0, sizeof store};
    struct iovec iov[EDGE_IOV_MAX];
    routes_t r;
    int ka = 0;
    edge_member_t *m;
    if (top_branch(msg, &br) < 0)
        return;
    edge_txn_t *t = cmap_find(e, cbranch_key(c->slot, br), c->slot, c->gen);
    if (t) {
        /* the ACK of a non-2xx final answer: same branch as the INVITE, same member */
        if (t->state != EDGE_TXN_COMPLETED || !t->member || !t->member->conn)
            return; /* we answered it ourselves: absorbed */
        m = t->member;
        txn_branch(t, branch);
    } else {
        snprintf(branch, sizeof branch, BR_ACK "%016llx",
                 (unsigned long long)hash_bytes(br.p, br.len));
        m = NULL;
    }
    int n = build_inward(c, base, msg, &a, branch, 0, &r, &ka, iov);
    if (!m)
        m = route_member(e, &r, 0);
    if (n > 0 && m && m->conn && m->conn->up && edge_conn_send(m->conn, iov, (size_t)n) == 0)
        EDGE_COUNT(&e->m, sip_requests_relayed);
    else
        EDGE_COUNT(&e->m, sip_dropped);
}

static void request_external(edge_conn_t *c, const char *base, sip_msg_t *msg)
{
    edge_t *e = c->edge;
    char key[112];
    int is_ack = msg->method_id == SIP_METHOD_ACK;

    if (e->now_ms - c->rate_start_ms >= 1000) {
        c->rate_start_ms = e->now_ms;
        c->rate_count = 0;
    }
    if (++c->rate_count > e->conf.limits.requests_per_second && !is_ack) {
        EDGE_COUNT(&e->m, sip_rate_limited);
        if (c->rate_count == e->conf.limits.requests_per_second + 1)
            edge_warn("conn %u %s:%u: over %u requests/s, answering 503", c->slot, c->ip, c->port,
                      e->conf.limits.requests_per_second);
        reply(c, msg, 503, "Rate Limit Exceeded", "Retry-After: 1\r\n");
        return;
    }
    if (!request_checked(c, msg))
        return;

    /* brute-force guard: a locked source, or a locked user presenting credentials */
    uint8_t ulen;
    char user[96];
    auth_user_key(msg, user, sizeof user, &ulen);
    int klen = source_key(c->ip, key, sizeof key);
    if (edge_authguard_locked(e->guard, key, (size_t)klen, e->now_ms) ||
        (ulen && edge_authguard_locked(e->guard, user, ulen, e->now_ms))) {
        EDGE_COUNT(&e->m, sip_lockout_rejects);
        reply(c, msg, 403, "Too Many Failed Authentications", NULL);
        return;
    }
    if (loop_detected(e, msg)) {
        EDGE_COUNT(&e->m, sip_loops);
        reply(c, msg, 482, "Loop Detected", NULL);
        return;
    }
    if (msg->method_id == SIP_METHOD_CANCEL) {
        cancel_external(c, base, msg);
        return;
    }
    if (is_ack) {
        ack_external(c, base, msg);
        return;
    }

    edge_txn_t *t = txn_new(e);
    if (!t) {
        EDGE_COUNT(&e->m, txn_overload);
        reply(c, msg, 503, "Service Unavailable", "Retry-After: 5\r\n");
        return;
    }
    EDGE_COUNT(&e->m, txn_created);
    t->buf = c->buf;
    edge_buf_ref(t->buf);
    t->req = base;
    t->req_len = (uint32_t)msg->msg_len;
    t->method = (uint8_t)msg->method_id;
    t->client_slot = c->slot;
    t->client_gen = c->gen;
    t->has_creds = ulen > 0 || msg->first[SIP_HDR_AUTHORIZATION] >= 0 ||
                   msg->first[SIP_HDR_PROXY_AUTHORIZATION] >= 0;
    memcpy(t->user, user, ulen);
    t->user_len = ulen;
    t->is_register = msg->method_id == SIP_METHOD_REGISTER;

    int flags = 0;
    const sip_hdr_t *to = sip_msg_header_find(msg, SIP_HDR_TO);
    sip_naddr_t tna;
    int in_dialog = to && sip_naddr_parse(to->value, &tna) == 0 && tna.has_tag;
    if (t->is_register)
        flags |= IN_PATH;
    else if (!in_dialog)
        flags |= IN_RR;
    char branch[32];
    txn_branch(t, branch);
    arena_t a = {t->extra, 0, sizeof t->extra};
    routes_t r;
    int ka = 0;
    int n = build_inward(c, base, msg, &a, branch, flags, &r, &ka, t->iov);
    if (n < 0) {
        txn_free(e, t);
        EDGE_COUNT(&e->m, sip_too_many_hops);
        reply(c, msg, 483, "Too Many Hops", NULL);
        return;
    }
    t->iovcnt = (uint8_t)n;
    t->ka = (uint8_t)ka;
    if (msg->method_id == SIP_METHOD_INVITE) {
        sip_slice_t br;
        if (top_branch(msg, &br) == 0) {
            t->cbranch = cbranch_key(c->slot, br);
            edge_txn_t **b = &e->cmap[t->cbranch & e->cmap_mask];
            t->hnext = *b;
            *b = t;
        }
        reply(c, msg, 100, "Trying", NULL);
    }
    txn_arm(e, t, 0);
    edge_member_t *m = route_member(e, &r, 0);
    if (!m) {
        EDGE_COUNT(&e->m, txn_no_member);
        txn_answer(e, t, 503, "Service Unavailable");
        return;
    }
    edge_pool_send(e, m, t);
}

/* A response from the pool to one of our transactions. */
static void response_for_txn(edge_conn_t *c, const char *base, sip_msg_t *msg, sip_slice_t br)
{
    edge_t *e = c->edge;
    uint32_t slot, gen;
    if (br.len != BR_PFX_LEN + 16 || hex32(br.p + BR_PFX_LEN, &slot) < 0 ||
        hex32(br.p + BR_PFX_LEN + 8, &gen) < 0 || !edge_slots_get(&e->txns, slot, gen)) {
        EDGE_COUNT(&e->m, sip_dropped);
        return;
    }
    edge_txn_t *t = edge_slots_get(&e->txns, slot, gen);
    if (c->role != EDGE_ROLE_POOL || t->member != c->member || t->member_conn_gen != c->gen) {
        EDGE_COUNT(&e->m, sip_dropped); /* from an earlier attempt */
        return;
    }
    const sip_hdr_t *cs = sip_msg_header_find(msg, SIP_HDR_CSEQ);
    sip_cseq_t cseq;
    if (!cs || sip_cseq_parse(cs->value, &cseq) < 0) {
        EDGE_COUNT(&e->m, sip_dropped);
        return;
    }
    if (cseq.method_id == SIP_METHOD_CANCEL)
        return; /* the answer to our CANCEL: we answered the client's ourselves */
    if (cseq.method_id == SIP_METHOD_ACK)
        return;
    int status = msg->status;
    if (status < 200) {
        if (t->method == SIP_METHOD_INVITE && t->state == EDGE_TXN_CALLING) {
            t->state = EDGE_TXN_PROCEEDING;
            txn_arm(e, t, 1);
        }
        if (status == 100)
            return; /* hop by hop: we sent our own */
    } else if (t->state == EDGE_TXN_COMPLETED) {
        if (t->method != SIP_METHOD_INVITE || status >= 300)
            return; /* a retransmission */
    } else if (status == 503 && t->state == EDGE_TXN_CALLING) {
        edge_txn_retry(e, t, 503, "Service Unavailable");
        return;
    }

    edge_conn_t *client = edge_conn_get(e, t->client_slot, t->client_gen);
    if (status >= 200 && t->state != EDGE_TXN_COMPLETED) {
        char key[112];
        int klen = source_key(client ? client->ip : "", key, sizeof key);
        if ((status == 401 || status == 407) && t->has_creds) {
            EDGE_COUNT(&e->m, sip_auth_failures);
            int locked =
                t->user_len && edge_authguard_fail(e->guard, t->user, t->user_len, e->now_ms);
            if (client && edge_authguard_fail(e->guard, key, (size_t)klen, e->now_ms))
                locked |= 2;
            if (locked) {
                EDGE_COUNT(&e->m, sip_lockouts);
                edge_warn("brute-force guard: %s%.*s%s%s locked out for %u s after %u failed "
                          "authentications",
                          locked & 1 ? "user " : "", locked & 1 ? (int)t->user_len - 2 : 0,
                          t->user + 2, locked & 2 ? " source " : "", locked & 2 ? key + 2 : "",
                          e->conf.sip.lockout_ms / 1000, e->conf.sip.auth_fail_limit);
            }
        } else if (status < 300 && t->has_creds && t->user_len) {
            edge_authguard_success(e->guard, t->user, t->user_len);
        }
    }

    if (client) {
        sip_splice_t ops[MAX_OPS];
        sip_edit_t ed;
        struct iovec iov[EDGE_IOV_MAX];
        size_t total;
        char kabuf[128];
        sip_edit_init(&ed, msg, base, ops, MAX_OPS);
        sip_edit_drop_first_value(&ed, (size_t)msg->first[SIP_HDR_VIA]);
        if (t->ka && status >= 200) {
            strip_headers(e, msg, &ed, 1, NULL);
            int kl = snprintf(kabuf, sizeof kabuf,
                              "Ms-Keep-Alive: UAS;tcp=no;hop-hop=yes;end=no;timeout=%u\r\n",
                              e->conf.sip.keepalive_ms / 1000);
            sip_edit_insert(&ed, msg->nhdrs, kabuf, (size_t)kl);
            if (!client->ka_negotiated) {
                client->ka_negotiated = 1;
                EDGE_COUNT(&e->m, sip_keepalive_negotiated);
            }
        }
        int n = sip_edit_render(&ed, iov, EDGE_IOV_MAX, &total);
        if (n > 0 && edge_conn_send(client, iov, (size_t)n) == 0)
            EDGE_COUNT(&e->m, sip_responses_relayed);
    } else {
        EDGE_COUNT(&e->m, sip_dropped);
    }
    if (status >= 200 && t->state != EDGE_TXN_COMPLETED) {
        if (t->method == SIP_METHOD_INVITE) {
            t->state = EDGE_TXN_COMPLETED; /* kept for the ACK and further 2xx */
            txn_arm(e, t, 0);
        } else {
            txn_free(e, t);
        }
    }
}

/* A response from the outside to a request we relayed from the inside. */
static void response_external(edge_conn_t *c, const char *base, sip_msg_t *msg)
{
    edge_t *e = c->edge;
    sip_verdict_t v;
    sip_slice_t br;
    uint32_t in_slot, in_gen, out_slot;
    sip_msg_check(msg, &e->check_opts, &v);
    if (v.action != SIP_ACT_FORWARD || top_branch(msg, &br) < 0 || br.len != BR_PFX_LEN + 32 ||
        !slice_starts(br, BR_OUT) || hex32(br.p + BR_PFX_LEN, &in_slot) < 0 ||
        hex32(br.p + BR_PFX_LEN + 8, &in_gen) < 0 || hex32(br.p + BR_PFX_LEN + 16, &out_slot) < 0 ||
        out_slot != c->slot) {
        EDGE_COUNT(&e->m, sip_dropped);
        return;
    }
    edge_conn_t *in = edge_conn_get(e, in_slot, in_gen);
    if (!in || in->role == EDGE_ROLE_EXTERNAL) {
        EDGE_COUNT(&e->m, sip_dropped);
        return;
    }
    sip_splice_t ops[MAX_OPS];
    sip_edit_t ed;
    struct iovec iov[EDGE_IOV_MAX];
    size_t total;
    sip_edit_init(&ed, msg, base, ops, MAX_OPS);
    sip_edit_drop_first_value(&ed, (size_t)msg->first[SIP_HDR_VIA]);
    strip_headers(e, msg, &ed, 0, NULL);
    int partner = tls_stream_peer_verified(&c->s);
    sip_edit_insert(&ed, msg->nhdrs, partner ? e->trust_partner : e->trust_remote,
                    partner ? e->trust_partner_len : e->trust_remote_len);
    int n = sip_edit_render(&ed, iov, EDGE_IOV_MAX, &total);
    if (n > 0 && edge_conn_send(in, iov, (size_t)n) == 0)
        EDGE_COUNT(&e->m, sip_responses_relayed);
}

/* ---------------------------------------------------------------- from the inside */

static void request_internal(edge_conn_t *c, const char *base, sip_msg_t *msg)
{
    edge_t *e = c->edge;
    if (!request_checked(c, msg))
        return;
    if (loop_detected(e, msg)) {
        EDGE_COUNT(&e->m, sip_loops);
        reply(c, msg, 482, "Loop Detected", NULL);
        return;
    }
    sip_splice_t ops[MAX_OPS];
    sip_edit_t ed;
    struct iovec iov[EDGE_IOV_MAX];
    char store[512];
    arena_t a = {store, 0, sizeof store};
    routes_t r;
    size_t total, len;
    sip_edit_init(&ed, msg, base, ops, MAX_OPS);
    pop_routes(e, msg, &ed, &r);
    if (!r.token.p) {
        /* no flow named: OPTIONS to the edge itself is a keepalive; anything else has no
         * destination (outbound federation is not configured) */
        if (msg->method_id == SIP_METHOD_OPTIONS && !r.has_next) {
            reply(c, msg, 200, "OK",
                  "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, "
                  "REGISTER, SUBSCRIBE, NOTIFY, BENOTIFY, INFO, REFER\r\n");
            return;
        }
        EDGE_COUNT(&e->m, sip_no_route_out);
        edge_info("conn %u %s:%u: %.*s request names no flow of ours: 404", c->slot, c->ip, c->port,
                  (int)msg->method.len, msg->method.p);
        reply(c, msg, 404, "No Flow For Destination", NULL);
        return;
    }
    uint32_t slot, gen;
    if (edge_flow_token_parse(&e->flow_key, r.token.p, r.token.len, &slot, &gen) < 0) {
        EDGE_COUNT(&e->m, sip_flow_forged);
        edge_warn("conn %u %s:%u: invalid flow token %.*s refused", c->slot, c->ip, c->port,
                  (int)r.token.len, r.token.p);
        reply(c, msg, 403, "Invalid Flow Token", NULL);
        return;
    }
    edge_conn_t *out = edge_conn_get(e, slot, gen);
    if (!out || out->role != EDGE_ROLE_EXTERNAL) {
        EDGE_COUNT(&e->m, sip_flow_failed);
        reply(c, msg, 430, "Flow Failed", NULL);
        return;
    }
    sip_slice_t br = SIP_SLICE_NULL;
    top_branch(msg, &br);
    arena_puts(&a, e->via_ext);
    arena_puts(&a, BR_OUT);
    arena_hex32(&a, c->slot);
    arena_hex32(&a, c->gen);
    arena_hex32(&a, out->slot);
    arena_hex32(&a, (uint32_t)hash_bytes(br.p, br.len));
    arena_put(&a, "\r\n", 2);
    const char *via = arena_end(&a, 0, &len);
    add_line(&ed, msg->first[SIP_HDR_VIA], via, len);
    const sip_hdr_t *to = sip_msg_header_find(msg, SIP_HDR_TO);
    sip_naddr_t tna;
    if (msg->method_id != SIP_METHOD_REGISTER && msg->method_id != SIP_METHOD_ACK &&
        !(to && sip_naddr_parse(to->value, &tna) == 0 && tna.has_tag)) {
        /* a dialog from the inside: the same double Record-Route, outward FQDN on top, so the
         * remote user's in-dialog requests and the inside's ACK and BYE both cross the edge */
        size_t at = a.used;
        arena_puts(&a, "Record-Route: ");
        arena_puts(&a, e->rr_ext);
        arena_puts(&a, "\r\nRecord-Route: <sip:");
        arena_put(&a, out->token, EDGE_FLOW_TOKEN_LEN);
        arena_put(&a, "@", 1);
        arena_puts(&a, e->int_host);
        arena_put(&a, ":", 1);
        arena_u32(&a, (uint32_t)e->int_port);
        arena_puts(&a, ";transport=tls;lr>\r\n");
        size_t rlen;
        const char *rr = arena_end(&a, at, &rlen);
        int rri = msg->first[SIP_HDR_RECORD_ROUTE];
        add_line(&ed, rri >= 0 ? rri : msg->first[SIP_HDR_VIA], rr, rlen);
    }
    if (sip_edit_max_forwards(&ed) < 0) {
        EDGE_COUNT(&e->m, sip_too_many_hops);
        reply(c, msg, 483, "Too Many Hops", NULL);
        return;
    }
    strip_headers(e, msg, &ed, 0, NULL); /* internal trust data does not leave the network */
    int n = sip_edit_render(&ed, iov, EDGE_IOV_MAX, &total);
    if (n > 0 && edge_conn_send(out, iov, (size_t)n) == 0)
        EDGE_COUNT(&e->m, sip_requests_relayed);
}

void edge_sip_message(edge_conn_t *c, const char *base, sip_msg_t *msg, int rc)
{
    edge_t *e = c->edge;
    if (rc == SIP_ERROR) {
        sip_verdict_t v;
        sip_parse_verdict(msg, &v);
        if (msg->kind == SIP_MSG_REQUEST)
            EDGE_COUNT(&e->m, sip_requests_in);
        if (v.action == SIP_ACT_CLOSE)
            EDGE_COUNT(&e->m, conn_framing_closed);
        if ((v.action == SIP_ACT_REPLY || v.action == SIP_ACT_CLOSE) && v.status &&
            msg->kind == SIP_MSG_REQUEST && msg->first[SIP_HDR_VIA] >= 0 &&
            msg->first[SIP_HDR_CSEQ] >= 0)
            reply_verdict(c, msg, &v);
        else if (v.action == SIP_ACT_CLOSE)
            edge_info("conn %u %s:%u: %s, closing", c->slot, c->ip, c->port,
                      sip_strerror(msg->err));
        else
            EDGE_COUNT(&e->m, sip_dropped);
        return;
    }
    switch (msg->kind) {
    case SIP_MSG_PING: {
        struct iovec iov = {(void *)"\r\n", 2};
        EDGE_COUNT(&e->m, sip_pings);
        edge_conn_send(c, &iov, 1);
        return;
    }
    case SIP_MSG_PONG:
        return;
    case SIP_MSG_REQUEST:
        EDGE_COUNT(&e->m, sip_requests_in);
        if (c->role == EDGE_ROLE_EXTERNAL)
            request_external(c, base, msg);
        else
            request_internal(c, base, msg);
        return;
    case SIP_MSG_RESPONSE: {
        EDGE_COUNT(&e->m, sip_responses_in);
        if (c->role == EDGE_ROLE_EXTERNAL) {
            response_external(c, base, msg);
            return;
        }
        sip_slice_t br;
        if (top_branch(msg, &br) < 0) {
            EDGE_COUNT(&e->m, sip_dropped);
        } else if (slice_starts(br, BR_PROBE)) {
            edge_pool_probe_response(e, c, msg, br);
        } else if (slice_starts(br, BR_TXN)) {
            response_for_txn(c, base, msg, br);
        } else {
            EDGE_COUNT(&e->m, sip_dropped);
        }
        return;
    }
    default:
        return;
    }
}

/* ---------------------------------------------------------------- setup */

/* Split a comma/space separated list into fixed slots. Returns the count. */
static size_t split_list(const char *s, char (*out)[64], size_t max)
{
    size_t n = 0;
    while (*s && n < max) {
        size_t len = strcspn(s, ", \t");
        if (len && len < 64) {
            memcpy(out[n], s, len);
            out[n][len] = '\0';
            n++;
        }
        s += len;
        while (*s == ',' || *s == ' ' || *s == '\t')
            s++;
    }
    return n;
}

int edge_sip_init(edge_t *e, char *err, size_t errlen)
{
    const conf_t *c = &e->conf;
    size_t nopt = split_list(c->sip.proxy_require, e->opt_names, EDGE_MAX_OPTIONS);
    for (size_t i = 0; i < nopt; i++)
        e->proxy_supported[i] = e->opt_names[i];
    e->check_opts.proxy_supported = e->proxy_supported;
    e->check_opts.n_proxy_supported = nopt;
    e->ntrust = split_list(c->sip.trust_headers, e->trust_names, EDGE_MAX_TRUST);

    snprintf(e->int_host, sizeof e->int_host, "%s", c->node.internal_address);
    e->int_port = 5061;
    e->ext_port = 443;
    int have_int = 0, have_ext = 0;
    for (size_t i = 0; i < c->nlisteners; i++) {
        const conf_listener_t *l = &c->listeners[i];
        if (l->protocol != CONF_PROTO_SIP)
            continue;
        if (l->side == CONF_SIDE_INTERNAL && !have_int++)
            e->int_port = l->port;
        if (l->side == CONF_SIDE_EXTERNAL && !have_ext++)
            e->ext_port = l->port;
    }
    snprintf(e->via_int, sizeof e->via_int, "Via: SIP/2.0/TLS %s:%d;branch=", e->int_host,
             e->int_port);
    snprintf(e->via_ext, sizeof e->via_ext, "Via: SIP/2.0/TLS %s:%d;branch=", c->node.external_fqdn,
             e->ext_port);
    snprintf(e->rr_ext, sizeof e->rr_ext, "<sip:%s:%d;transport=tls;lr>", c->node.external_fqdn,
             e->ext_port);
    int n = snprintf(e->trust_remote, sizeof e->trust_remote,
                     "ms-edge-proxy-message-trust: ms-source-type=InternetUser;ms-ep-fqdn=%s;"
                     "ms-source-network=Internet\r\n",
                     c->node.external_fqdn);
    e->trust_remote_len = (size_t)n;
    n = snprintf(e->trust_partner, sizeof e->trust_partner,
                 "ms-edge-proxy-message-trust: ms-source-type=DirectPartner;ms-ep-fqdn=%s;"
                 "ms-source-network=Federation;ms-source-verified-user=verified\r\n",
                 c->node.external_fqdn);
    e->trust_partner_len = (size_t)n;

    e->cmap_mask = 4095;
    e->cmap = calloc(e->cmap_mask + 1, sizeof *e->cmap);
    if (!e->cmap) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    e->probe_tag = (uint32_t)hash_bytes(c->node.id, strlen(c->node.id));
    return 0;
}
