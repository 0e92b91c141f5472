/*
 * xmpp_proxy.c - the XMPP federation proxy (see xmpp_proxy.h and docs/xmpp-federation.md).
 *
 * Four kinds of stream, each driven by one xmpp/s2s.h state machine:
 *   partner-in   a partner connected to an xmpp-s2s listener (we are its receiving server for
 *                our domains)
 *   partner-out  we connected to a partner found by DNS (our domain -> partner), or a
 *                verify-only stream carrying our db:verify questions to its authoritative server
 *   gateway-in   the internal gateway connected to an xmpp-gateway listener (MTLS): to the
 *                gateway we are the partners' server, so the stream's 'to' is the partner domain
 *   gateway-out  we connected to the gateway for one (partner -> our domain) pair; the gateway
 *                authenticates it by dialback, which reaches us again on gateway-in, where the
 *                machine answers db:verify for the keys we issued
 * A route is a (from, to) domain pair and the outgoing stream that carries it; stanzas the
 * machines DELIVER are written to the route's stream as the peer's own bytes (iovecs into the
 * receive buffer, gathered per target for the whole read and written once), or copied into the
 * route's queue while that stream comes up.
 *
 * Outgoing streams try their targets in order (XEP-0368 direct TLS first, then STARTTLS, then
 * the next SRV target or gateway) until one reaches a stream header; each attempt has its own
 * TCP/TLS stream (tls_stream_t is not reusable after a failed connect).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "dns.h"
#include "edge.h"
#include "log.h"
#include "proxy_proto.h"
#include "s2s.h"
#include "xmpp.h"
#include "xmpp_policy.h"
#include "xmpp_proxy.h"

#define XP_TICK_MS       1000
#define XP_IOV           64
#define XP_MAX_TARGETS   16
#define XP_MAX_PAIRS     XMPP_S2S_DEFAULT_MAX_PAIRS
#define XP_BUF_MAX       (XMPP_DEFAULT_MAX_STANZA + 64 * 1024)
#define XP_WRITE_QUEUE   (8u << 20)
#define XP_HIGH_WATER    (1u << 20) /* a target queue above this pauses its sources */
#define XP_STOP_GRACE_MS 1500
#define XP_RETRY_MS      5000
#define XP_MAX_DOMAINS   16
#define XP_DOMAIN        256

typedef struct edge_xmpp edge_xmpp_t;
typedef struct xconn xconn_t;
typedef struct xroute xroute_t;

typedef enum { XC_EXT_IN = 0, XC_EXT_OUT, XC_INT_IN, XC_INT_OUT } xc_kind_t;
static const char *const kind_names[] = {"partner-in", "partner-out", "gateway-in", "gateway-out"};

typedef struct {
    edge_xmpp_t *xp;
    const conf_listener_t *lc;
    uv_tcp_t tcp;
    tls_ctx_t *ctx;
    int internal, open;
} xlistener_t;

typedef struct {
    struct sockaddr_storage addr;
    uint8_t direct; /* XEP-0368: TLS from the first byte */
    uint16_t port;
    char host[XP_DOMAIN];
} xtarget_t;

/* A raw attribute value inside a queued stanza (offset from the stanza's first byte). */
typedef struct {
    uint32_t off, len;
    uint8_t present, escaped;
} xqattr_t;

/* What a queued stanza needs to be bounced with a stanza error if its stream never comes. */
typedef struct {
    uint32_t off, len; /* in the route's queue */
    uint8_t bounce;    /* message or iq get/set: an error goes back to the sender */
    uint8_t iq;
    xqattr_t from, to, id;
} xqitem_t;

struct xroute {
    xroute_t *next;
    uint8_t internal; /* toward the gateway (else toward a partner) */
    uint8_t ready;    /* the pair is authenticated on conn */
    xconn_t *conn;
    char *q; /* stanzas waiting for the stream, copied */
    size_t qlen, qcap;
    xqitem_t *items; /* one per queued stanza */
    size_t nitems, itemcap;
    uint64_t retry_at, queued_since;
    uint64_t dropped;
    char from[XP_DOMAIN], to[XP_DOMAIN];
};

/* A db:verify question we put to a partner's authoritative server for a partner-in stream. */
typedef struct xverify {
    struct xverify *next;
    uint32_t tag;
    xconn_t *in; /* NULL once that stream has gone */
    int pair;
    xconn_t *out;
    int sent;
    uint64_t deadline;
    char from[XP_DOMAIN], to[XP_DOMAIN], id[XMPP_S2S_MAX_ID + 1], key[XMPP_S2S_MAX_KEY + 1];
} xverify_t;

struct xconn {
    edge_xmpp_t *xp;
    tls_stream_t *s; /* the current TCP/TLS stream; NULL between attempts */
    xlistener_t *l;  /* accepted streams */
    uint32_t id;
    uint8_t kind;
    uint8_t detect;       /* accepted, first byte not seen: direct TLS or plain? */
    uint8_t proxy_hdr;    /* a PROXY protocol header from the HLB comes first */
    uint8_t direct;       /* this attempt runs TLS from the first byte */
    uint8_t tls_pending;  /* 1 server, 2 client: start once the reader has stopped */
    uint8_t restart;      /* SASL success: reset the reader and go on */
    uint8_t ended;        /* the machine issued CLOSE */
    uint8_t opened;       /* the machine reached OPEN at least once */
    uint8_t got_header;   /* this attempt received the peer's stream header */
    uint8_t peer_error;   /* the peer ended the stream with an error */
    uint8_t verify_only;  /* partner-out carrying db:verify questions only */
    uint8_t cert_refused; /* partner-in: refuse at the next header */
    uint8_t header_seen;  /* the first header of the connection was looked at */
    uint8_t final;        /* no further attempts */
    uint8_t dirty;        /* on the write-gathering list */
    uint8_t have_popts;
    uint8_t paused;      /* reading stopped until the stream blocked_on has drained */
    uint32_t blocked_on; /* id of that stream */
    edge_xmpp_partner_t popts;
    xmpp_reader_t *rd;
    xmpp_s2s_t *m;
    xmpp_s2s_config_t cfg; /* per connection: domains and partner options differ */
    const char *dom_ptr[1];
    const char *tlsopt_ptr[1];
    char dom[XP_DOMAIN];   /* gateway-in/-out: the partner domain we stand for */
    char peer[XP_DOMAIN];  /* partner-in: header 'from'; partner-out: the partner */
    char local[XP_DOMAIN]; /* originating: our side of the pair */
    char ip[INET6_ADDRSTRLEN];
    uint16_t port;
    edge_buf_t *buf;
    uint64_t boff; /* stream offset of buf->data[0] */
    uint64_t last_rx, last_tx, started;
    uint64_t last_data; /* last write other than a keepalive: streams we only send on stay up */
    struct iovec iov[XP_IOV]; /* stanzas gathered for this stream during one read elsewhere */
    size_t niov;
    xconn_t *dirty_next;
    const xmpp_event_t *cur_ev;     /* the reader event being handled (bounce records) */
    xroute_t *route;                /* originating for a route */
    xroute_t *rcache[XP_MAX_PAIRS]; /* receiving: pair index -> route */
    xtarget_t *targets;             /* outgoing: where to try, allocated by the first DNS answer */
    size_t ntargets, tnext;
    unsigned src_next;
    edge_dns_query_t *q;
    xconn_t *prev, *next;
};

struct edge_xmpp {
    edge_t *e;
    uv_loop_t *loop;
    const conf_xmpp_t *cx;
    char domain_buf[XP_MAX_DOMAINS][XP_DOMAIN];
    const char *domains[XP_MAX_DOMAINS];
    size_t ndomains;
    char secret[128];
    size_t secret_len;
    edge_xmpp_policy_t *policy;
    edge_dns_t *dns;
    xlistener_t ls[CONF_MAX_LISTENERS];
    size_t nls;
    tls_ctx_t *ext_client, *ext_client_alpn, *int_client;
    xconn_t *conns;
    size_t nconns;
    uint32_t next_id, next_tag;
    xroute_t *routes;
    xverify_t *verifies;
    xconn_t *dirty;
    uv_timer_t tick, stop_timer;
    int stopping;
    struct {
        uint64_t accepted, dialed, in_stanzas, out_stanzas, queued, dropped, refused, pairs_sasl,
            pairs_dialback, verifies;
    } n;
};

static const tls_stream_cbs_t xc_cbs;
static void drain(xconn_t *c);
static int dial_next(xconn_t *c);
static void route_connect(edge_xmpp_t *xp, xroute_t *r);
static void submit_verifies(xconn_t *c);

static uint64_t now_ms(edge_xmpp_t *xp)
{
    return uv_now(xp->loop);
}

/* ---------------------------------------------------------------- domains, policy */

static int dom_eq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

static int is_ours(edge_xmpp_t *xp, const char *d)
{
    for (size_t i = 0; i < xp->ndomains; i++) {
        if (dom_eq(xp->domains[i], d))
            return 1;
    }
    return 0;
}

static edge_xmpp_verdict_t verdict(edge_xmpp_t *xp, const char *d, edge_xmpp_partner_t *o)
{
    edge_xmpp_partner_t dummy;
    edge_xmpp_verdict_t v = edge_xmpp_policy_check(xp->policy, d, o ? o : &dummy);
    if (v != EDGE_XMPP_ALLOWED)
        xp->n.refused++;
    return v;
}

/* The text of our refusal for a partner the lists do not let in. */
static const char *refusal_text(edge_xmpp_verdict_t v)
{
    return v == EDGE_XMPP_BLOCKED ? "this domain is blocked by the federation policy"
                                  : "this domain is not an allowed federation partner";
}

/* Copy a raw attribute (valid during HEADER and ELEMENT_START events) as a lower-case domain. */
static int attr_domain(const xmpp_attr_t *a, char *out, size_t cap)
{
    if (!a->present || !a->p || a->len >= cap)
        return -1;
    size_t n = a->len;
    if (a->escaped) {
        n = xmpp_attr_unescape((xmpp_slice_t){a->p, a->len}, out, cap - 1);
        if (n == (size_t)-1)
            return -1;
    } else {
        memcpy(out, a->p, n);
    }
    out[n] = '\0';
    if (n > 1 && out[n - 1] == '.')
        out[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)out[i]);
    return n ? 0 : -1;
}

/* ---------------------------------------------------------------- connections */

static const char *cname(const xconn_t *c)
{
    return kind_names[c->kind];
}

static int originating(const xconn_t *c)
{
    return c->kind == XC_EXT_OUT || c->kind == XC_INT_OUT;
}

static xconn_t *conn_new(edge_xmpp_t *xp, xc_kind_t kind)
{
    xconn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->xp = xp;
    c->kind = (uint8_t)kind;
    c->id = ++xp->next_id;
    c->started = c->last_rx = c->last_tx = c->last_data = now_ms(xp);
    c->next = xp->conns;
    if (xp->conns)
        xp->conns->prev = c;
    xp->conns = c;
    xp->nconns++;
    return c;
}

static tls_stream_t *stream_new(xconn_t *c)
{
    tls_stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (tls_stream_init(c->xp->loop, s, &xc_cbs, c) < 0) {
        free(s);
        return NULL;
    }
    s->max_queue = XP_WRITE_QUEUE;
    s->handshake_timeout_ms = c->xp->e->conf.limits.handshake_timeout_ms;
    c->s = s;
    return s;
}

static void undirty(xconn_t *c)
{
    if (!c->dirty)
        return;
    for (xconn_t **pp = &c->xp->dirty; *pp; pp = &(*pp)->dirty_next) {
        if (*pp == c) {
            *pp = c->dirty_next;
            break;
        }
    }
    c->dirty = 0;
    c->niov = 0;
}

/* Reset what one attempt (or one accepted connection) owns: reader, machine, buffer. */
static void attempt_reset(xconn_t *c)
{
    undirty(c);
    if (c->m)
        xmpp_s2s_free(c->m);
    c->m = NULL;
    if (c->buf)
        edge_buf_unref(c->buf);
    c->buf = NULL;
    if (c->rd)
        xmpp_reader_free(c->rd);
    c->rd = NULL;
    c->boff = 0;
    c->tls_pending = c->restart = c->ended = c->got_header = c->peer_error = 0;
    c->header_seen = c->cert_refused = 0;
    for (xverify_t *v = c->xp->verifies; v; v = v->next) {
        if (v->out == c)
            v->sent = 0;
    }
}

static void conn_abort(xconn_t *c, const char *why)
{
    if (why)
        edge_info("xmpp %u %s %s: %s", c->id, cname(c), c->peer[0] ? c->peer : c->ip, why);
    c->ended = 1;
    if (c->s)
        tls_stream_close(c->s);
}

/* Write our own bytes (the machine's SENDs, queued stanzas). */
static int conn_write(xconn_t *c, const struct iovec *iov, size_t n)
{
    if (!c->s || c->s->closing)
        return -1;
    int r = tls_stream_write(c->s, iov, n);
    if (r < 0) {
        char why[120];
        snprintf(why, sizeof why, "write failed (%s), closing", tls_strerror(r));
        conn_abort(c, why);
        return -1;
    }
    c->last_tx = c->last_data = now_ms(c->xp);
    return 0;
}

static void flush_iov(xconn_t *c)
{
    if (!c->niov)
        return;
    size_t n = c->niov;
    c->niov = 0;
    conn_write(c, c->iov, n);
}

/* Write every stanza gathered during this read: one TLS write (few records) per target. */
static void flush_dirty(edge_xmpp_t *xp)
{
    while (xp->dirty) {
        xconn_t *c = xp->dirty;
        xp->dirty = c->dirty_next;
        c->dirty = 0;
        flush_iov(c);
    }
}

static void conn_send(xconn_t *c, const char *p, size_t n)
{
    flush_iov(c); /* what was gathered for this stream goes first */
    struct iovec v = {(void *)p, n};
    conn_write(c, &v, 1);
}

static void machine_tls_done(xconn_t *c)
{
    char names[16][XP_DOMAIN];
    const char *np[16];
    size_t n = 0;
    for (size_t i = 0; n < 16; i++) {
        int len = tls_stream_peer_dns(c->s, i, names[n], sizeof names[n]);
        if (len < 0)
            break;
        np[n] = names[n];
        n++;
    }
    xmpp_s2s_tls_t t = {tls_stream_peer_verified(c->s), np, n};
    xmpp_s2s_tls_done(c->m, &t);
}

static int machine_new(xconn_t *c)
{
    unsigned char seed[32];
    if (RAND_bytes(seed, sizeof seed) != 1)
        return -1;
    xmpp_s2s_params_t p = {0};
    p.seed = seed;
    p.seed_len = sizeof seed;
    p.direct_tls = c->direct;
    if (originating(c)) {
        p.role = XMPP_S2S_ORIGINATING;
        p.local = c->local;
        p.remote = c->peer;
        p.verify_only = c->verify_only;
        /* toward the gateway our certificate names no partner domain: dialback only */
        p.sasl_external = c->kind == XC_EXT_OUT && c->popts.auth != EDGE_XMPP_AUTH_DIALBACK;
    } else {
        p.role = XMPP_S2S_RECEIVING;
    }
    c->m = xmpp_s2s_new(&c->cfg, &p);
    OPENSSL_cleanse(seed, sizeof seed);
    return c->m ? 0 : -1;
}

static int on_event(void *ud, const xmpp_event_t *ev);

static int reader_new(xconn_t *c)
{
    xmpp_reader_opts_t o = {0};
    c->rd = xmpp_reader_new(&o, on_event, c);
    return c->rd ? 0 : -1;
}

/* The per-connection machine configuration: ours, or (gateway side) the partner we stand for. */
static void cfg_init(xconn_t *c)
{
    edge_xmpp_t *xp = c->xp;
    memset(&c->cfg, 0, sizeof c->cfg);
    c->cfg.secret = xp->secret;
    c->cfg.secret_len = xp->secret_len;
    if (c->kind == XC_INT_IN || c->kind == XC_INT_OUT) {
        c->dom_ptr[0] = c->dom;
        c->cfg.domains = c->dom_ptr;
        c->cfg.ndomains = 1;
        return; /* the gateway link: TLS required, dialback both ways */
    }
    c->cfg.domains = xp->domains;
    c->cfg.ndomains = xp->ndomains;
    c->cfg.tls_optional = !xp->cx->tls_required;
    c->cfg.dialback_off = !xp->cx->dialback;
}

/* Partner options into the machine configuration (before it reads the partner's header). */
static void cfg_partner(xconn_t *c, const edge_xmpp_partner_t *o)
{
    c->popts = *o;
    c->have_popts = 1;
    if (o->tls == EDGE_XMPP_TLS_REQUIRED)
        c->cfg.tls_optional = 0;
    if (o->tls == EDGE_XMPP_TLS_OPTIONAL) {
        c->tlsopt_ptr[0] = c->peer;
        c->cfg.tls_optional_for = c->tlsopt_ptr;
        c->cfg.ntls_optional_for = 1;
    }
    if (o->auth == EDGE_XMPP_AUTH_SASL)
        c->cfg.dialback_off = 1;
    else if (o->auth == EDGE_XMPP_AUTH_DIALBACK)
        c->cfg.dialback_off = 0;
}

/* ---------------------------------------------------------------- routes */

static xroute_t *route_get(edge_xmpp_t *xp, int internal, const char *from, const char *to)
{
    for (xroute_t *r = xp->routes; r; r = r->next) {
        if (r->internal == internal && dom_eq(r->from, from) && dom_eq(r->to, to))
            return r;
    }
    if (strlen(from) >= XP_DOMAIN || strlen(to) >= XP_DOMAIN)
        return NULL;
    xroute_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->internal = (uint8_t)internal;
    snprintf(r->from, sizeof r->from, "%s", from);
    snprintf(r->to, sizeof r->to, "%s", to);
    r->next = xp->routes;
    xp->routes = r;
    return r;
}

static void route_queue(edge_xmpp_t *xp, xroute_t *r, const char *p, size_t n,
                        const xqitem_t *meta);

/* The bare domain of a JID (RFC 7622: after '@', before '/'), lower case, into out. */
static int jid_domain(const char *jid, size_t n, char *out, size_t cap)
{
    const char *slash = memchr(jid, '/', n);
    if (slash)
        n = (size_t)(slash - jid);
    const char *at = memchr(jid, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - jid);
        jid = at + 1;
    }
    if (n == 0 || n >= cap)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)jid[i]);
    out[n] = '\0';
    return 0;
}

/* An attribute of a queued stanza, decoded, into out (NUL-terminated); its length or -1. */
static int qattr(const char *stanza, const xqattr_t *a, char *out, size_t cap)
{
    if (!a->present || a->len >= cap)
        return -1;
    size_t n = a->len;
    if (a->escaped) {
        n = xmpp_attr_unescape((xmpp_slice_t){stanza + a->off, a->len}, out, cap - 1);
        if (n == (size_t)-1)
            return -1;
    } else {
        memcpy(out, stanza + a->off, n);
    }
    out[n] = '\0';
    return (int)n;
}

static size_t put_escaped(char *out, size_t at, size_t cap, const char *v)
{
    for (; *v && at + 6 < cap; v++) {
        const char *e = *v == '&' ? "&amp;" : *v == '<' ? "&lt;" : *v == '\'' ? "&apos;" : NULL;
        if (e) {
            memcpy(out + at, e, strlen(e));
            at += strlen(e);
        } else {
            out[at++] = *v;
        }
    }
    return at;
}

/*
 * The stanzas queued on r will never go: each message and iq request goes back to its sender
 * as a stanza error (RFC 6120 8.3) with condition cond, over the route the other way. Errors,
 * results and presences are only dropped (Prosody does the same).
 */
static void route_bounce(edge_xmpp_t *xp, xroute_t *r, const char *cond, const char *why)
{
    if (!r->qlen)
        return;
    edge_warn("xmpp route %s -> %s: %zu queued stanza(s) not delivered: %s", r->from, r->to,
              r->nitems, why);
    char *q = r->q;
    xqitem_t *items = r->items;
    size_t nitems = r->nitems;
    r->q = NULL;
    r->items = NULL;
    r->qlen = r->qcap = r->nitems = r->itemcap = 0;
    int wait = strcmp(cond, "remote-server-timeout") == 0;
    for (size_t i = 0; i < nitems; i++) {
        const xqitem_t *it = &items[i];
        const char *st = q + it->off;
        char from[XMPP_S2S_MAX_DOMAIN * 3 + 8], to[sizeof from], id[512];
        char fdom[XP_DOMAIN], tdom[XP_DOMAIN], out[sizeof from * 2 + sizeof id + 400];
        xp->n.dropped++;
        if (!it->bounce || qattr(st, &it->from, from, sizeof from) < 0 ||
            qattr(st, &it->to, to, sizeof to) < 0 ||
            jid_domain(from, strlen(from), fdom, sizeof fdom) < 0 ||
            jid_domain(to, strlen(to), tdom, sizeof tdom) < 0)
            continue;
        int has_id = qattr(st, &it->id, id, sizeof id) >= 0;
        const char *name = it->iq ? "iq" : "message";
        size_t n = (size_t)snprintf(out, sizeof out, "<%s from='", name);
        n = put_escaped(out, n, sizeof out, to);
        n += (size_t)snprintf(out + n, sizeof out - n, "' to='");
        n = put_escaped(out, n, sizeof out, from);
        if (has_id) {
            n += (size_t)snprintf(out + n, sizeof out - n, "' id='");
            n = put_escaped(out, n, sizeof out, id);
        }
        n += (size_t)snprintf(out + n, sizeof out - n,
                              "' type='error'><error type='%s'><%s "
                              "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></%s>",
                              wait ? "wait" : "cancel", cond, name);
        if (n >= sizeof out)
            continue;
        xroute_t *back = route_get(xp, !r->internal, tdom, fdom);
        if (!back || back == r)
            continue;
        if (back->ready && back->conn && back->conn->s && !back->conn->ended) {
            struct iovec v = {out, n};
            flush_iov(back->conn);
            conn_write(back->conn, &v, 1);
        } else {
            route_queue(xp, back, out, n, NULL); /* no bounce of a bounce */
        }
    }
    free(q);
    free(items);
}

static void route_queue(edge_xmpp_t *xp, xroute_t *r, const char *p, size_t n, const xqitem_t *meta)
{
    uint64_t now = now_ms(xp);
    if (r->qlen + n > xp->cx->max_queue) {
        if (r->dropped++ % 1000 == 0)
            edge_warn("xmpp route %s -> %s: queue full (%zu bytes), stanza dropped", r->from, r->to,
                      r->qlen);
        xp->n.dropped++;
        return;
    }
    if (r->qlen + n > r->qcap) {
        size_t cap = r->qcap ? r->qcap : 4096;
        while (cap < r->qlen + n)
            cap *= 2;
        char *q = realloc(r->q, cap);
        if (!q) {
            xp->n.dropped++;
            return;
        }
        r->q = q;
        r->qcap = cap;
    }
    if (r->nitems == r->itemcap) {
        size_t cap = r->itemcap ? r->itemcap * 2 : 16;
        xqitem_t *items = realloc(r->items, cap * sizeof *items);
        if (!items) {
            xp->n.dropped++;
            return;
        }
        r->items = items;
        r->itemcap = cap;
    }
    xqitem_t *it = &r->items[r->nitems++];
    if (meta)
        *it = *meta;
    else
        memset(it, 0, sizeof *it);
    it->off = (uint32_t)r->qlen;
    it->len = (uint32_t)n;
    if (!r->qlen)
        r->queued_since = now;
    memcpy(r->q + r->qlen, p, n);
    r->qlen += n;
    xp->n.queued++;
    if (!r->conn && now >= r->retry_at && !xp->stopping)
        route_connect(xp, r);
}

static void route_flush(xroute_t *r)
{
    if (!r->qlen || !r->conn || !r->ready)
        return;
    struct iovec v = {r->q, r->qlen};
    conn_write(r->conn, &v, 1);
    free(r->q);
    free(r->items);
    r->q = NULL;
    r->items = NULL;
    r->qlen = r->qcap = r->nitems = r->itemcap = 0;
}

/* A stanza the machine of c let through for its pair: to the stream of the route. */
static void deliver(xconn_t *c, const xmpp_s2s_action_t *a)
{
    edge_xmpp_t *xp = c->xp;
    xroute_t *r = a->pair >= 0 && a->pair < XP_MAX_PAIRS ? c->rcache[a->pair] : NULL;
    if (!r) {
        r = route_get(xp, c->kind == XC_EXT_IN, a->from, a->to);
        if (!r) {
            xp->n.dropped++;
            return;
        }
        if (a->pair >= 0 && a->pair < XP_MAX_PAIRS)
            c->rcache[a->pair] = r;
    }
    const char *p = c->buf->data + (a->start - c->boff);
    size_t n = (size_t)(a->end - a->start);
    if (c->kind == XC_EXT_IN)
        xp->n.in_stanzas++;
    else
        xp->n.out_stanzas++;
    xconn_t *t = r->conn;
    if (t && r->ready && t->s && !t->ended && !t->s->closing) {
        if (t->niov == XP_IOV)
            flush_iov(t);
        t->iov[t->niov].iov_base = (void *)p;
        t->iov[t->niov].iov_len = n;
        t->niov++;
        if (!c->paused && tls_stream_write_queue_size(t->s) > XP_HIGH_WATER) {
            /* the target is slower than this source: stop reading it until the target drains
             * (what was read already still goes through) */
            c->paused = 1;
            c->blocked_on = t->id;
            tls_stream_read_pause(c->s);
        }
        if (!t->dirty) {
            t->dirty = 1;
            t->dirty_next = xp->dirty;
            xp->dirty = t;
        }
        return;
    }
    /* the stream is not there yet: a copy waits, with what a bounce would need */
    xqitem_t meta;
    memset(&meta, 0, sizeof meta);
    const xmpp_event_t *ev = c->cur_ev;
    if (ev && ev->kind == XMPP_EV_ELEMENT && ev->start == a->start && ev->elem) {
        const xmpp_elem_t *el = ev->elem;
        xmpp_slice_t type = xmpp_attr_slice(&el->type, c->buf->data, c->boff, c->buf->len);
        int is_msg = el->name.len == 7 && memcmp(el->name.p, "message", 7) == 0;
        meta.iq = el->name.len == 2 && memcmp(el->name.p, "iq", 2) == 0;
        int err = type.p && type.len == 5 && memcmp(type.p, "error", 5) == 0;
        int res = type.p && type.len == 6 && memcmp(type.p, "result", 6) == 0;
        meta.bounce = (uint8_t)((is_msg || meta.iq) && !err && !res);
        const xmpp_attr_t *src[3] = {&el->from, &el->to, &el->id};
        xqattr_t *dst[3] = {&meta.from, &meta.to, &meta.id};
        for (int i = 0; i < 3; i++) {
            if (!src[i]->present || src[i]->off < a->start)
                continue;
            dst[i]->present = 1;
            dst[i]->escaped = src[i]->escaped;
            dst[i]->off = (uint32_t)(src[i]->off - a->start);
            dst[i]->len = (uint32_t)src[i]->len;
        }
    }
    route_queue(xp, r, p, n, &meta);
}

/* ---------------------------------------------------------------- dialback verification */

static void verify_answer(xverify_t *v, xmpp_s2s_db_result_t r, const char *cond)
{
    xconn_t *in = v->in;
    if (!in || !in->m || in->ended)
        return;
    if (xmpp_s2s_dialback_verified(in->m, v->pair, r, cond) == 0)
        drain(in);
}

static void verify_remove(edge_xmpp_t *xp, xverify_t *v)
{
    for (xverify_t **pp = &xp->verifies; *pp; pp = &(*pp)->next) {
        if (*pp == v) {
            *pp = v->next;
            break;
        }
    }
    OPENSSL_cleanse(v->key, sizeof v->key);
    free(v);
}

static void submit_verifies(xconn_t *c)
{
    for (xverify_t *v = c->xp->verifies; v; v = v->next) {
        if (v->out != c || v->sent || !c->m)
            continue;
        if (xmpp_s2s_verify_request(c->m, v->from, v->to, v->id, v->key, v->tag) == 0)
            v->sent = 1;
    }
}

static xconn_t *conn_dial(edge_xmpp_t *xp, xc_kind_t kind, const char *local, const char *remote,
                          int verify_only);

/* A partner-in stream's db:result needs its authoritative server's word (XEP-0220 2.1). */
static void verify_dialback(xconn_t *c, const xmpp_s2s_action_t *a)
{
    edge_xmpp_t *xp = c->xp;
    if (c->kind == XC_INT_IN) {
        /* the gateway speaks for our domains only, over its verified mutual-TLS link */
        int ok = is_ours(xp, a->from) && (a->cert_covers || tls_stream_peer_verified(c->s));
        xmpp_s2s_dialback_verified(c->m, a->pair, ok ? XMPP_S2S_DB_VALID : XMPP_S2S_DB_INVALID,
                                   NULL);
        return;
    }
    edge_xmpp_partner_t o;
    edge_xmpp_verdict_t vd = verdict(xp, a->from, &o);
    if (vd != EDGE_XMPP_ALLOWED) {
        edge_info("xmpp %u %s: dialback for %s refused: %s", c->id, cname(c), a->from,
                  edge_xmpp_verdict_name(vd));
        xmpp_s2s_fail(c->m, XMPP_E_POLICY_VIOLATION, refusal_text(vd));
        return;
    }
    if (o.auth == EDGE_XMPP_AUTH_SASL) {
        xmpp_s2s_fail(c->m, XMPP_E_NOT_AUTHORIZED,
                      "this partner must authenticate with SASL EXTERNAL (a trusted certificate)");
        return;
    }
    if (a->cert_covers) { /* XEP-0344: the verified certificate already says who it is */
        xmpp_s2s_dialback_verified(c->m, a->pair, XMPP_S2S_DB_VALID, NULL);
        return;
    }
    xverify_t *v = calloc(1, sizeof *v);
    if (!v || strlen(a->from) >= sizeof v->to || strlen(a->to) >= sizeof v->from ||
        strlen(a->stream_id) >= sizeof v->id || strlen(a->key) >= sizeof v->key) {
        free(v);
        xmpp_s2s_dialback_verified(c->m, a->pair, XMPP_S2S_DB_ERROR, "internal-server-error");
        return;
    }
    /* an outgoing stream to that partner carries the question, or a verify-only one */
    xconn_t *o_conn = NULL;
    for (xconn_t *x = xp->conns; x; x = x->next) {
        if (x->kind == XC_EXT_OUT && !x->final && !x->ended && dom_eq(x->peer, a->from)) {
            o_conn = x;
            break;
        }
    }
    if (!o_conn)
        o_conn = conn_dial(xp, XC_EXT_OUT, a->to, a->from, 1);
    if (!o_conn) {
        free(v);
        xmpp_s2s_dialback_verified(c->m, a->pair, XMPP_S2S_DB_ERROR, "remote-connection-failed");
        return;
    }
    v->tag = ++xp->next_tag;
    v->in = c;
    v->pair = a->pair;
    v->out = o_conn;
    v->deadline = now_ms(xp) + xp->cx->connect_timeout_ms;
    snprintf(v->from, sizeof v->from, "%s", a->to);
    snprintf(v->to, sizeof v->to, "%s", a->from);
    snprintf(v->id, sizeof v->id, "%s", a->stream_id);
    snprintf(v->key, sizeof v->key, "%s", a->key);
    v->next = xp->verifies;
    xp->verifies = v;
    xp->n.verifies++;
    edge_debug("xmpp %u %s: asking %s (stream %u) about the dialback key for %s -> %s", c->id,
               cname(c), a->from, o_conn->id, a->from, a->to);
    if (o_conn->m) {
        submit_verifies(o_conn);
        drain(o_conn);
    }
}

static void verify_result(xconn_t *c, const xmpp_s2s_action_t *a)
{
    for (xverify_t *v = c->xp->verifies; v; v = v->next) {
        if (v->tag == a->tag && v->out == c) {
            edge_debug("xmpp %u %s: db:verify answer for %s: %s", c->id, cname(c), v->to,
                       a->result == XMPP_S2S_DB_VALID     ? "valid"
                       : a->result == XMPP_S2S_DB_INVALID ? "invalid"
                                                          : "error");
            verify_answer(v, a->result, NULL);
            verify_remove(c->xp, v);
            return;
        }
    }
}

/* ---------------------------------------------------------------- machine actions */

static void pair_ready(xconn_t *c, const xmpp_s2s_action_t *a)
{
    edge_xmpp_t *xp = c->xp;
    xmpp_s2s_pair_t pr = {0};
    xmpp_s2s_pair(c->m, a->pair, &pr);
    const char *how = pr.sasl ? "SASL EXTERNAL" : "dialback";
    if (c->kind == XC_EXT_IN) {
        edge_xmpp_partner_t o;
        edge_xmpp_verdict_t vd = verdict(xp, a->from, &o);
        if (vd != EDGE_XMPP_ALLOWED) {
            edge_info("xmpp %u %s: %s refused: %s", c->id, cname(c), a->from,
                      edge_xmpp_verdict_name(vd));
            xmpp_s2s_fail(c->m, XMPP_E_POLICY_VIOLATION, refusal_text(vd));
            return;
        }
        if (o.auth == EDGE_XMPP_AUTH_SASL && !pr.sasl) {
            xmpp_s2s_fail(c->m, XMPP_E_NOT_AUTHORIZED,
                          "this partner must authenticate with SASL EXTERNAL");
            return;
        }
    } else if (c->kind == XC_INT_IN) {
        if (!is_ours(xp, a->from)) {
            xmpp_s2s_fail(c->m, XMPP_E_INVALID_FROM, "the gateway speaks for our domains only");
            return;
        }
        edge_xmpp_verdict_t vd = verdict(xp, a->to, NULL);
        if (vd != EDGE_XMPP_ALLOWED) {
            xmpp_s2s_fail(c->m, XMPP_E_POLICY_VIOLATION, refusal_text(vd));
            return;
        }
    }
    if (pr.sasl)
        xp->n.pairs_sasl++;
    else
        xp->n.pairs_dialback++;
    edge_info("xmpp %u %s %s: %s -> %s authenticated (%s, %s)", c->id, cname(c), c->ip, a->from,
              a->to, how, xmpp_s2s_tls_active(c->m) ? tls_stream_version(c->s) : "no TLS");
    c->opened = 1;
    xroute_t *r = c->route;
    if (originating(c) && r && dom_eq(r->from, a->from) && dom_eq(r->to, a->to)) {
        r->ready = 1;
        route_flush(r);
    }
}

static void pair_failed(xconn_t *c, const xmpp_s2s_action_t *a)
{
    edge_info("xmpp %u %s %s: %s -> %s not authenticated: %s", c->id, cname(c), c->ip,
              a->from ? a->from : "?", a->to ? a->to : "?", a->reason ? a->reason : "");
    xroute_t *r = c->route;
    if (originating(c) && r && a->from && a->to && dom_eq(r->from, a->from) &&
        dom_eq(r->to, a->to)) {
        r->ready = 0;
        r->retry_at = now_ms(c->xp) + XP_RETRY_MS;
        route_bounce(c->xp, r, "remote-server-not-found", "the far side did not authenticate us");
        c->final = 1;
        xmpp_s2s_close(c->m); /* nothing else on this stream */
    }
}

static void stream_closed(xconn_t *c, const xmpp_s2s_action_t *a)
{
    c->ended = 1;
    if (a->peer_err != XMPP_E_NONE)
        c->peer_error = 1;
    if (a->err != XMPP_E_NONE || a->peer_err != XMPP_E_NONE)
        edge_info("xmpp %u %s %s (%s): stream closed: %s%s%s", c->id, cname(c), c->ip,
                  c->peer[0] ? c->peer : c->dom, a->reason ? a->reason : "",
                  a->err != XMPP_E_NONE ? "; we sent " : "; the peer sent ",
                  xmpp_err_condition(a->err != XMPP_E_NONE ? a->err : a->peer_err));
    else
        edge_debug("xmpp %u %s: stream closed: %s", c->id, cname(c), a->reason ? a->reason : "");
    if (c->s && !c->s->closing)
        tls_stream_end(c->s);
}

static void drain(xconn_t *c)
{
    xmpp_s2s_action_t a;
    while (c->m && xmpp_s2s_next_action(c->m, &a)) {
        switch (a.kind) {
        case XMPP_S2S_SEND:
            conn_send(c, a.data.p, a.data.len);
            break;
        case XMPP_S2S_DELIVER:
            deliver(c, &a);
            break;
        case XMPP_S2S_START_TLS_SERVER:
            c->tls_pending = 1;
            break;
        case XMPP_S2S_START_TLS_CLIENT:
            c->tls_pending = 2;
            break;
        case XMPP_S2S_RESTART:
            c->restart = 1;
            break;
        case XMPP_S2S_VERIFY_DIALBACK:
            verify_dialback(c, &a);
            break;
        case XMPP_S2S_VERIFY_RESULT:
            verify_result(c, &a);
            break;
        case XMPP_S2S_PAIR_READY:
            pair_ready(c, &a);
            break;
        case XMPP_S2S_PAIR_FAILED:
            pair_failed(c, &a);
            break;
        case XMPP_S2S_CLOSE:
            stream_closed(c, &a);
            break;
        }
    }
}

/* ---------------------------------------------------------------- reading */

/* A stream header, before the machine answers it: who the partner says it is (partner-in, the
 * first header), or which partner the gateway wants (gateway-in: set by the first header so the
 * machine serves that domain, judged once the gateway has authenticated by TLS). Returns 1 if
 * the connection was refused. */
static int header_policy(xconn_t *c, const xmpp_header_t *h)
{
    edge_xmpp_t *xp = c->xp;
    char d[XP_DOMAIN];
    if (c->kind == XC_EXT_IN && !c->header_seen && attr_domain(&h->from, d, sizeof d) == 0) {
        snprintf(c->peer, sizeof c->peer, "%s", d);
        edge_xmpp_partner_t o;
        edge_xmpp_verdict_t vd = verdict(xp, d, &o);
        if (vd != EDGE_XMPP_ALLOWED) {
            edge_info("xmpp %u %s %s: %s refused: %s", c->id, cname(c), c->ip, d,
                      edge_xmpp_verdict_name(vd));
            xmpp_s2s_fail(c->m, XMPP_E_POLICY_VIOLATION, refusal_text(vd));
            return 1;
        }
        cfg_partner(c, &o);
    }
    if (c->kind == XC_INT_IN && attr_domain(&h->to, d, sizeof d) == 0 && !is_ours(xp, d)) {
        if (!c->header_seen)
            snprintf(c->dom, sizeof c->dom, "%s", d); /* the machine now serves this domain */
        edge_xmpp_verdict_t vd =
            xmpp_s2s_tls_active(c->m) ? verdict(xp, d, NULL) : EDGE_XMPP_ALLOWED;
        if (vd != EDGE_XMPP_ALLOWED) {
            edge_info("xmpp %u %s: gateway stream to %s refused: %s", c->id, cname(c), d,
                      edge_xmpp_verdict_name(vd));
            xmpp_s2s_fail(c->m, XMPP_E_POLICY_VIOLATION, refusal_text(vd));
            return 1;
        }
    }
    c->header_seen = 1;
    return 0;
}

static int on_event(void *ud, const xmpp_event_t *ev)
{
    xconn_t *c = ud;
    if (c->ended || !c->m)
        return 1;
    if (ev->kind == XMPP_EV_HEADER) {
        c->got_header = 1;
        if (header_policy(c, ev->header)) {
            drain(c);
            return 1;
        }
        if (c->cert_refused) {
            xmpp_s2s_fail(c->m, XMPP_E_NOT_AUTHORIZED,
                          "this partner must present a certificate from a CA we trust");
            drain(c);
            return 1;
        }
    }
    int stop = xmpp_s2s_feed(c->m, ev, c->buf->data, c->boff, c->buf->len);
    c->cur_ev = ev;
    drain(c);
    c->cur_ev = NULL;
    if (!c->opened && xmpp_s2s_state(c->m) == XMPP_S2S_ST_OPEN)
        c->opened = 1;
    return stop || c->ended || c->tls_pending || c->restart;
}

static void release_buf(xconn_t *c)
{
    if (c->buf) {
        c->boff += c->buf->len;
        edge_buf_unref(c->buf);
        c->buf = NULL;
    }
}

static void start_tls(xconn_t *c)
{
    edge_xmpp_t *xp = c->xp;
    int server = c->tls_pending == 1;
    c->tls_pending = 0;
    /* whatever came after <starttls/> or <proceed/> in the clear is dropped (RFC 6120 5.4.3.3) */
    uint64_t at = xmpp_reader_offset(c->rd);
    if (c->buf) {
        edge_buf_unref(c->buf);
        c->buf = NULL;
    }
    c->boff = at;
    if (xmpp_reader_reset(c->rd) < 0) {
        conn_abort(c, "out of memory");
        return;
    }
    int r;
    if (server) {
        r = tls_stream_start_server(c->s, c->l->ctx, NULL, 0);
    } else if (c->kind == XC_INT_OUT) { /* SNI: the stream's domain; certificate: the gateway */
        r = tls_stream_start_client_sni(c->s, xp->int_client, xp->cx->gateway_name, c->peer);
    } else {
        r = tls_stream_start_client(c->s, xp->ext_client, c->peer);
    }
    if (r < 0)
        conn_abort(c, "cannot start TLS");
}

static void feed(xconn_t *c)
{
    while (c->m && c->rd && c->buf && !c->ended && c->s && !c->s->closing) {
        uint64_t at = xmpp_reader_offset(c->rd);
        if (at < c->boff || at - c->boff >= c->buf->len)
            break;
        size_t pos = (size_t)(at - c->boff);
        xmpp_err_t r = xmpp_reader_feed(c->rd, c->buf->data + pos, c->buf->len - pos);
        if (r == XMPP_E_NONE)
            break;
        if (r == XMPP_E_STOPPED) {
            if (c->restart && !c->ended) {
                c->restart = 0;
                if (xmpp_reader_reset(c->rd) < 0) {
                    conn_abort(c, "out of memory");
                    break;
                }
                continue;
            }
            if (c->tls_pending && !c->ended)
                start_tls(c);
            break;
        }
        edge_info("xmpp %u %s %s: %s (%s)", c->id, cname(c), c->ip, xmpp_strerror(r),
                  xmpp_reader_error_detail(c->rd));
        xmpp_s2s_fail(c->m, r, NULL);
        drain(c);
        break;
    }
    flush_dirty(c->xp);
    if (c->buf &&
        (c->ended || (c->rd && xmpp_reader_consumed_upto(c->rd) >= c->boff + c->buf->len)))
        release_buf(c);
}

static void on_alloc(tls_stream_t *s, size_t suggested, uv_buf_t *out)
{
    xconn_t *c = s->data;
    edge_buf_t *b = c->buf;
    (void)suggested;
    if (!b) {
        b = c->buf = edge_buf_get(EDGE_BUF_STD);
    } else if (b->len == b->cap) {
        uint64_t low = c->rd && !c->detect ? xmpp_reader_consumed_upto(c->rd) : c->boff;
        size_t drop = low > c->boff ? (size_t)(low - c->boff) : 0;
        if (drop > b->len)
            drop = b->len;
        if (drop && b->ref == 1) {
            memmove(b->data, b->data + drop, b->len - drop);
            b->len -= (uint32_t)drop;
            c->boff += drop;
        }
        if (b->len == b->cap) {
            size_t want = (size_t)b->cap * 2;
            edge_buf_t *nb = b->cap < XP_BUF_MAX ? edge_buf_get(want) : NULL;
            if (nb) {
                memcpy(nb->data, b->data, b->len);
                nb->len = b->len;
            }
            edge_buf_unref(b);
            b = c->buf = nb;
        }
    }
    if (!b) {
        *out = uv_buf_init(NULL, 0); /* UV_ENOBUFS follows: a stanza over every limit */
        return;
    }
    *out = uv_buf_init(b->data + b->len, b->cap - b->len);
}

/* Accepted: the first bytes say whether TLS starts now (XEP-0368) or the stream is plain. */
static void detect(xconn_t *c)
{
    edge_buf_t *b = c->buf;
    if (c->proxy_hdr) { /* the HLB's PROXY header: the real partner address, then the stream */
        char ip[EDGE_PROXY_IP_LEN] = "";
        uint16_t port = c->port;
        int used = edge_proxy_proto_parse(b->data, b->len, ip, &port);
        if (used < 0 || (used == 0 && b->len > 536)) {
            conn_abort(c, "bad PROXY protocol header");
            return;
        }
        if (used == 0)
            return;
        if (ip[0]) {
            snprintf(c->ip, sizeof c->ip, "%s", ip);
            c->port = port;
        }
        c->proxy_hdr = 0;
        memmove(b->data, b->data + used, b->len - (size_t)used);
        b->len -= (uint32_t)used;
        if (b->len == 0)
            return;
    }
    c->detect = 0;
    c->direct = (unsigned char)b->data[0] == 0x16;
    if (machine_new(c) < 0 || reader_new(c) < 0) {
        conn_abort(c, "out of memory");
        return;
    }
    if (c->direct) {
        edge_debug("xmpp %u %s %s: direct TLS", c->id, cname(c), c->ip);
        char early[EDGE_BUF_STD];
        size_t n = b->len < sizeof early ? b->len : sizeof early;
        memcpy(early, b->data, n);
        edge_buf_unref(b);
        c->buf = NULL;
        c->boff = 0;
        if (tls_stream_start_server(c->s, c->l->ctx, early, n) < 0)
            conn_abort(c, "cannot start TLS");
        return;
    }
    feed(c);
}

static void on_read(tls_stream_t *s, ssize_t n, const uv_buf_t *ub)
{
    xconn_t *c = s->data;
    (void)ub;
    if (n < 0) {
        if (n == UV_ENOBUFS && c->m && !c->ended) {
            xmpp_s2s_fail(c->m, XMPP_E_POLICY_VIOLATION, "stanza too large");
            drain(c);
            return;
        }
        if (n == UV_EOF && !s->closing) {
            if (c->m && !c->ended && !c->detect) {
                /* input that ends inside markup is a truncated stream, else a plain end */
                xmpp_err_t r = xmpp_reader_finish(c->rd);
                edge_debug("xmpp %u %s: the peer ended the connection (%s)", c->id, cname(c),
                           xmpp_strerror(r));
                if (!c->ended && xmpp_err_condition(r))
                    xmpp_s2s_fail(c->m, r, NULL);
                else if (!c->ended)
                    xmpp_s2s_close(c->m);
                drain(c);
            }
            flush_dirty(c->xp);
            tls_stream_end(s);
        } else {
            tls_stream_close(s);
        }
        return;
    }
    if (n == 0 || !c->buf)
        return;
    c->buf->len += (uint32_t)n;
    c->last_rx = now_ms(c->xp);
    if (c->ended) {
        release_buf(c);
        return;
    }
    if (c->detect) {
        detect(c);
        return;
    }
    feed(c);
}

static void on_handshake(tls_stream_t *s, int status)
{
    xconn_t *c = s->data;
    edge_xmpp_t *xp = c->xp;
    if (status < 0) {
        edge_info("xmpp %u %s %s:%u (%s): TLS handshake failed: %s (%s)", c->id, cname(c), c->ip,
                  c->port, c->peer[0] ? c->peer : c->dom, tls_strerror(status), tls_last_error());
        tls_stream_close(s);
        return;
    }
    edge_debug("xmpp %u %s %s: TLS up (%s%s%s)", c->id, cname(c), c->ip, tls_stream_version(s),
               tls_stream_peer_verified(s) ? ", peer verified" : "",
               tls_stream_resumed(s) ? ", resumed" : "");
    if (!c->m)
        return;
    machine_tls_done(c);
    if (c->kind == XC_INT_IN &&
        !tls_stream_peer_matches(s, xp->cx->gateway_name, strlen(xp->cx->gateway_name))) {
        edge_warn("xmpp %u %s %s: the certificate does not name the gateway %s", c->id, cname(c),
                  c->ip, xp->cx->gateway_name);
        xmpp_s2s_fail(c->m, XMPP_E_NOT_AUTHORIZED, "this port is for the XMPP gateway only");
    } else if (c->kind == XC_EXT_IN && c->have_popts && c->popts.auth == EDGE_XMPP_AUTH_SASL &&
               !(tls_stream_peer_verified(s) &&
                 tls_stream_peer_matches(s, c->peer, strlen(c->peer)))) {
        edge_info("xmpp %u %s %s: %s presented no certificate we trust", c->id, cname(c), c->ip,
                  c->peer);
        c->cert_refused = 1;
    } else if (c->kind == XC_EXT_OUT && c->popts.auth == EDGE_XMPP_AUTH_SASL &&
               !tls_stream_peer_verified(s)) {
        edge_info("xmpp %u %s: %s presented no certificate we trust", c->id, cname(c), c->peer);
        c->final = 1;
        xmpp_s2s_fail(c->m, XMPP_E_POLICY_VIOLATION, "certificate not trusted");
    } else if (originating(c) && c->direct) {
        xmpp_s2s_start(c->m);
    }
    drain(c);
    flush_dirty(xp);
}

/* ---------------------------------------------------------------- end of a connection */

static void conn_free(xconn_t *c)
{
    edge_xmpp_t *xp = c->xp;
    attempt_reset(c);
    if (c->q)
        edge_dns_cancel(c->q);
    free(c->targets);
    if (c->prev)
        c->prev->next = c->next;
    else
        xp->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    xp->nconns--;
    free(c);
    if (xp->stopping && xp->nconns == 0 && xp->stop_timer.data) {
        uv_close((uv_handle_t *)&xp->stop_timer, NULL); /* everyone is gone: no grace needed */
        xp->stop_timer.data = NULL;
    }
}

/* The connection is gone for good: its route looks for another, verifications fail. */
static void resume_waiters(xconn_t *t);

static void conn_final(xconn_t *c)
{
    edge_xmpp_t *xp = c->xp;
    resume_waiters(c);
    xroute_t *r = c->route;
    if (r && r->conn == c) {
        r->conn = NULL;
        r->ready = 0;
        if (r->qlen && !c->opened) {
            r->retry_at = now_ms(xp) + XP_RETRY_MS;
            route_bounce(xp, r, "remote-server-not-found", "the stream could not be established");
        } else if (r->qlen && !xp->stopping) {
            route_connect(xp, r);
        }
    }
    for (xverify_t *v = xp->verifies, *next; v; v = next) {
        next = v->next;
        if (v->in == c)
            v->in = NULL;
        if (v->out == c) {
            verify_answer(v, XMPP_S2S_DB_ERROR, "remote-connection-failed");
            verify_remove(xp, v);
        }
    }
    flush_dirty(xp);
    conn_free(c); /* routes outlive connections: the route caches stay valid */
}

static void on_close(tls_stream_t *s)
{
    xconn_t *c = s->data;
    edge_xmpp_t *xp = c->xp;
    free(s);
    c->s = NULL;
    undirty(c);
    /* an attempt that never reached the partner's stream header: the next target */
    if (originating(c) && !c->final && !c->got_header && !c->opened && !xp->stopping) {
        attempt_reset(c);
        dial_next(c);
        return;
    }
    edge_debug("xmpp %u %s %s closed", c->id, cname(c), c->peer[0] ? c->peer : c->ip);
    conn_final(c);
}

/* A stream that had too much queued has written it all: its sources read again. */
static void resume_waiters(xconn_t *t)
{
    for (xconn_t *x = t->xp->conns; x; x = x->next) {
        if (x->paused && x->blocked_on == t->id) {
            x->paused = 0;
            if (x->s)
                tls_stream_read_resume(x->s);
        }
    }
}

static void on_drain(tls_stream_t *s)
{
    resume_waiters(s->data);
}

static const tls_stream_cbs_t xc_cbs = {on_handshake, on_alloc, on_read, on_drain, on_close};

/* ---------------------------------------------------------------- outgoing */

static void on_connect(uv_connect_t *req, int status)
{
    xconn_t *c = req->data;
    edge_xmpp_t *xp = c->xp;
    free(req);
    if (!c->s || c->s->closing)
        return;
    if (status < 0) {
        edge_info("xmpp %u %s %s: connect to %s:%u failed: %s", c->id, cname(c), c->peer, c->ip,
                  c->port, uv_strerror(status));
        tls_stream_close(c->s);
        return;
    }
    uv_tcp_nodelay(&c->s->tcp, 1);
    if (machine_new(c) < 0 || reader_new(c) < 0) {
        c->final = 1;
        conn_abort(c, "out of memory");
        return;
    }
    submit_verifies(c);
    int r;
    if (c->direct) {
        tls_ctx_t *ctx = c->kind == XC_INT_OUT ? xp->int_client : xp->ext_client_alpn;
        r = tls_stream_start_client_sni(
            c->s, ctx, c->kind == XC_INT_OUT ? xp->cx->gateway_name : c->peer, c->peer);
    } else {
        r = tls_stream_read_plain(c->s);
        if (r == 0)
            r = xmpp_s2s_start(c->m);
    }
    if (r < 0) {
        conn_abort(c, "cannot start the stream");
        return;
    }
    drain(c);
}

/* One attempt at target t; 0 if under way (its outcome comes through the callbacks). */
static int attempt(xconn_t *c, const xtarget_t *t)
{
    if (!stream_new(c))
        return -1;
    c->direct = t->direct;
    c->port = t->port;
    int af = t->addr.ss_family;
    if (af == AF_INET)
        uv_ip4_name((const struct sockaddr_in *)&t->addr, c->ip, sizeof c->ip);
    else
        uv_ip6_name((const struct sockaddr_in6 *)&t->addr, c->ip, sizeof c->ip);
    edge_debug("xmpp %u %s %s: connecting to %s [%s]:%u%s", c->id, cname(c), c->peer, t->host,
               c->ip, t->port, t->direct ? " (direct TLS)" : "");
    uv_connect_t *req = malloc(sizeof *req);
    int r = req ? uv_tcp_connect(req, &c->s->tcp, (const struct sockaddr *)&t->addr, on_connect)
                : UV_ENOMEM;
    if (r < 0) {
        free(req);
        edge_info("xmpp %u %s: connect to %s failed: %s", c->id, cname(c), c->ip, uv_strerror(r));
        tls_stream_close(c->s); /* on_close goes on with the next target */
        return 0;
    }
    req->data = c;
    return 0;
}

static void add_target(xconn_t *c, const struct sockaddr_storage *a, const char *host,
                       uint16_t port, int direct)
{
    if (c->ntargets >= XP_MAX_TARGETS)
        return;
    if (!c->targets && !(c->targets = calloc(XP_MAX_TARGETS, sizeof *c->targets)))
        return;
    xtarget_t *t = &c->targets[c->ntargets++];
    t->addr = *a;
    t->port = port;
    t->direct = (uint8_t)direct;
    snprintf(t->host, sizeof t->host, "%s", host);
}

static void on_service(edge_dns_query_t *q, int status, const edge_dns_target_t *t, size_t n,
                       void *arg)
{
    xconn_t *c = arg;
    (void)q;
    c->q = NULL;
    int direct = c->src_next == 1 && c->xp->cx->direct_tls;
    if (status < 0)
        edge_debug("xmpp %u %s: _%s._tcp.%s: %s", c->id, cname(c),
                   direct ? "xmpps-server" : "xmpp-server", c->peer, edge_dns_strerror(status));
    for (size_t i = 0; status == 0 && i < n; i++) {
        if (direct && !t[i].from_srv)
            continue; /* no _xmpps-server record: the fallback is the STARTTLS port's */
        add_target(c, &t[i].addr, t[i].target, t[i].port, direct);
    }
    dial_next(c);
}

static void on_gateway_addr(edge_dns_query_t *q, int status, const struct sockaddr_storage *a,
                            size_t n, void *arg)
{
    xconn_t *c = arg;
    const conf_hop_t *h = &c->xp->cx->gateways[c->src_next - 1];
    (void)q;
    c->q = NULL;
    if (status < 0)
        edge_warn("xmpp gateway %s: %s", h->host, edge_dns_strerror(status));
    for (size_t i = 0; status == 0 && i < n; i++)
        add_target(c, &a[i], h->host, (uint16_t)h->port, c->xp->cx->gateway_direct_tls);
    dial_next(c);
}

/* Start resolving the next source of targets; 0 if a query is under way. */
static int next_source(xconn_t *c)
{
    edge_xmpp_t *xp = c->xp;
    if (c->kind == XC_INT_OUT) {
        if (c->src_next >= xp->cx->ngateways)
            return -1;
        const conf_hop_t *h = &xp->cx->gateways[c->src_next++];
        c->q = edge_dns_addr(xp->dns, h->host, (uint16_t)h->port, EDGE_DNS_PREFER_V4,
                             on_gateway_addr, c);
        return c->q ? 0 : -1;
    }
    if (c->src_next == 0 && !xp->cx->direct_tls)
        c->src_next = 1;
    if (c->src_next >= 2)
        return -1;
    c->src_next++;
    int direct = c->src_next == 1;
    c->q = edge_dns_service(xp->dns, direct ? "xmpps-server" : "xmpp-server", "tcp", c->peer, 5269,
                            on_service, c);
    return c->q ? 0 : -1;
}

/* The next target, or the next source of targets; -1 when none is left (c was freed). */
static int dial_next(xconn_t *c)
{
    for (;;) {
        if (c->tnext < c->ntargets) {
            if (attempt(c, &c->targets[c->tnext++]) == 0)
                return 0;
            continue;
        }
        if (next_source(c) == 0)
            return 0;
        edge_info("xmpp %u %s: no %s reachable", c->id, cname(c),
                  c->kind == XC_INT_OUT ? "gateway" : c->peer);
        conn_final(c);
        return -1;
    }
}

static xconn_t *conn_dial(edge_xmpp_t *xp, xc_kind_t kind, const char *local, const char *remote,
                          int verify_only)
{
    if (xp->stopping || strlen(local) >= XP_DOMAIN || strlen(remote) >= XP_DOMAIN)
        return NULL;
    xconn_t *c = conn_new(xp, kind);
    if (!c)
        return NULL;
    snprintf(c->local, sizeof c->local, "%s", local);
    snprintf(c->peer, sizeof c->peer, "%s", remote);
    c->verify_only = (uint8_t)verify_only;
    if (kind == XC_INT_OUT)
        snprintf(c->dom, sizeof c->dom, "%s", local);
    cfg_init(c);
    if (kind == XC_EXT_OUT) {
        edge_xmpp_partner_t o = {EDGE_XMPP_AUTH_ANY, EDGE_XMPP_TLS_DEFAULT};
        edge_xmpp_policy_check(xp->policy, remote, &o);
        cfg_partner(c, &o);
    }
    xp->n.dialed++;
    edge_debug("xmpp %u %s: %s -> %s%s", c->id, cname(c), local, remote,
               verify_only ? " (dialback verification)" : "");
    return dial_next(c) == 0 ? c : NULL;
}

static void route_connect(edge_xmpp_t *xp, xroute_t *r)
{
    if (!r->internal) {
        edge_xmpp_verdict_t vd = verdict(xp, r->to, NULL);
        if (vd != EDGE_XMPP_ALLOWED) {
            r->retry_at = now_ms(xp) + XP_RETRY_MS;
            route_bounce(xp, r, "not-allowed", edge_xmpp_verdict_name(vd));
            return;
        }
    }
    r->ready = 0;
    r->conn = conn_dial(xp, r->internal ? XC_INT_OUT : XC_EXT_OUT, r->from, r->to, 0);
    if (r->conn)
        r->conn->route = r;
}

/* ---------------------------------------------------------------- listening */

static void on_connection(uv_stream_t *server, int status)
{
    xlistener_t *l = server->data;
    edge_xmpp_t *xp = l->xp;
    if (status < 0 || xp->stopping)
        return;
    xconn_t *c = conn_new(xp, l->internal ? XC_INT_IN : XC_EXT_IN);
    tls_stream_t *s = c ? stream_new(c) : NULL;
    if (!s) {
        if (c)
            conn_free(c);
        uv_tcp_t tmp; /* accept and drop so the backlog does not spin */
        if (uv_tcp_init(xp->loop, &tmp) == 0) {
            uv_accept(server, (uv_stream_t *)&tmp);
            uv_close((uv_handle_t *)&tmp, NULL);
        }
        return;
    }
    c->l = l;
    c->detect = 1;
    c->proxy_hdr = (uint8_t)l->lc->proxy_protocol;
    snprintf(c->dom, sizeof c->dom, "unknown.invalid"); /* gateway-in: set by the header */
    cfg_init(c);
    if (uv_accept(server, (uv_stream_t *)&s->tcp) < 0) {
        tls_stream_close(s);
        return;
    }
    uv_tcp_nodelay(&s->tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&ss, c->ip, sizeof c->ip);
            c->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else {
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->ip, sizeof c->ip);
            c->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    if (!l->internal && !l->lc->proxy_protocol) { /* behind an HLB every peer is the HLB */
        uint32_t same = 0;
        for (xconn_t *x = xp->conns; x; x = x->next)
            same += x != c && x->kind == XC_EXT_IN && strcmp(x->ip, c->ip) == 0;
        if (same >= xp->e->conf.limits.connections_per_source) {
            xp->n.refused++;
            edge_warn("xmpp connection from %s refused: %u connections from that source (limit)",
                      c->ip, same);
            tls_stream_close(s);
            return;
        }
    }
    xp->n.accepted++;
    edge_debug("xmpp %u %s: connection from %s:%u", c->id, cname(c), c->ip, c->port);
    if (tls_stream_read_plain(s) < 0)
        tls_stream_close(s);
}

static int listener_open(edge_xmpp_t *xp, xlistener_t *l, const conf_listener_t *lc, char *err,
                         size_t errlen)
{
    static const char *const alpn[] = {"xmpp-server"};
    l->internal = lc->protocol == CONF_PROTO_XMPP_GATEWAY;
    /* partners: a certificate that does not verify only rules out SASL EXTERNAL */
    tls_verify_t verify = lc->client_cert == CONF_CLIENT_CERT_REQUIRED ? TLS_VERIFY_REQUIRED
                          : lc->client_cert == CONF_CLIENT_CERT_OPTIONAL
                              ? (l->internal ? TLS_VERIFY_OPTIONAL : TLS_VERIFY_REQUEST)
                              : TLS_VERIFY_NONE;
    l->xp = xp;
    l->lc = lc;
    if (edge_listen_tls(xp->loop, lc, verify, alpn, 1, &l->tcp, l, on_connection, &l->ctx, &l->open,
                        err, errlen) < 0)
        return -1;
    edge_info("listening on %s:%d (%s, %s, STARTTLS or direct TLS, client certificates %s)",
              lc->address, lc->port, conf_side_name(lc->side), conf_proto_name(lc->protocol),
              verify == TLS_VERIFY_REQUIRED   ? "required"
              : verify == TLS_VERIFY_NONE     ? "not asked"
              : verify == TLS_VERIFY_OPTIONAL ? "optional"
                                              : "asked for (SASL EXTERNAL)");
    return 0;
}

/* ---------------------------------------------------------------- timers */

static void on_tick(uv_timer_t *t)
{
    edge_xmpp_t *xp = t->data;
    uint64_t now = now_ms(xp);
    const conf_xmpp_t *cx = xp->cx;
    for (xconn_t *c = xp->conns, *next; c; c = next) {
        next = c->next;
        if (!c->s && !c->q)
            continue;
        if (!c->opened && now - c->started > (uint64_t)cx->connect_timeout_ms * 2) {
            c->final = 1;
            if (!c->s) { /* still resolving */
                edge_info("xmpp %u %s %s: no stream in time", c->id, cname(c), c->peer);
                conn_final(c);
            } else if (c->m && !c->ended) {
                xmpp_s2s_fail(c->m, XMPP_E_CONNECTION_TIMEOUT, "negotiation took too long");
                drain(c);
            } else if (!c->ended) {
                conn_abort(c, "no stream in time");
            }
            continue;
        }
        if (!c->m || c->ended || !c->s || c->s->closing)
            continue;
        /* idle: nothing received and nothing relayed (a stream we only send on is busy too) */
        uint64_t active = c->last_rx > c->last_data ? c->last_rx : c->last_data;
        if (now - active > cx->idle_timeout_ms) {
            edge_info("xmpp %u %s %s: idle for %llu ms", c->id, cname(c), c->ip,
                      (unsigned long long)(now - active));
            c->final = 1;
            xmpp_s2s_timeout(c->m);
            drain(c);
        } else if (now - c->last_tx >= cx->keepalive_ms &&
                   xmpp_s2s_state(c->m) == XMPP_S2S_ST_OPEN) {
            uint64_t data = c->last_data;
            conn_send(c, " ", 1); /* RFC 6120 4.6.1 whitespace keepalive */
            c->last_data = data;
        }
    }
    for (xverify_t *v = xp->verifies, *next; v; v = next) {
        next = v->next;
        if (now > v->deadline) {
            verify_answer(v, XMPP_S2S_DB_ERROR, "remote-server-timeout");
            verify_remove(xp, v);
        }
    }
    for (xroute_t *r = xp->routes; r; r = r->next) {
        if (r->qlen && !r->ready && now - r->queued_since > cx->connect_timeout_ms * 2)
            route_bounce(xp, r, "remote-server-timeout", "no stream in time");
    }
    flush_dirty(xp);
}

/* ---------------------------------------------------------------- setup */

static int load_secret(edge_xmpp_t *xp, char *err, size_t errlen)
{
    const conf_xmpp_t *cx = xp->cx;
    if (cx->dialback_secret[0]) {
        xp->secret_len = strlen(cx->dialback_secret);
        memcpy(xp->secret, cx->dialback_secret, xp->secret_len);
        return 0;
    }
    /* every node of a deployment must share it; generated once into the state directory */
    char path[CONF_PATH + 32];
    snprintf(path, sizeof path, "%s/xmpp-dialback.key", xp->e->conf.node.state_dir);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, xp->secret, 64);
        close(fd);
        if (n == 64) {
            xp->secret_len = 64;
            return 0;
        }
    }
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        snprintf(err, errlen, "no random bytes for the dialback secret");
        return -1;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(xp->secret + 2 * i, 3, "%02x", raw[i]);
    xp->secret_len = 64;
    mkdir(xp->e->conf.node.state_dir, 0700);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, xp->secret, 64) != 64)
        edge_warn("%s: cannot save the dialback secret (%s); keys will not survive a restart", path,
                  strerror(errno));
    if (fd >= 0)
        close(fd);
    return 0;
}

static int split_list(const char *s, char out[][XP_DOMAIN], const char **ptrs, size_t max)
{
    size_t n = 0;
    while (*s) {
        size_t len = strcspn(s, ", \t");
        if (len && n < max && len < XP_DOMAIN) {
            for (size_t i = 0; i < len; i++)
                out[n][i] = (char)tolower((unsigned char)s[i]);
            out[n][len] = '\0';
            ptrs[n] = out[n];
            n++;
        }
        s += len ? len : 1;
    }
    return (int)n;
}

static tls_ctx_t *client_ctx(const conf_listener_t *lc, int lenient, int alpn, char *err,
                             size_t errlen)
{
    static const char *const alpn_s2s[] = {"xmpp-server"};
    tls_client_conf_t cc = {0};
    cc.cert_file = lc->cert;
    cc.key_file = lc->key;
    cc.ca_file = lc->ca[0] ? lc->ca : NULL;
    cc.verify_lenient = lenient;
    if (alpn) {
        cc.alpn = alpn_s2s;
        cc.nalpn = 1;
    }
    char terr[400];
    tls_ctx_t *ctx = tls_client_ctx_new(&cc, terr, sizeof terr);
    if (!ctx)
        snprintf(err, errlen, "[listener %s] (outbound XMPP TLS): %s", lc->name, terr);
    return ctx;
}

int edge_xmpp_init(edge_t *e, char *err, size_t errlen)
{
    const conf_listener_t *ext = NULL, *gw = NULL;
    for (size_t i = 0; i < e->conf.nlisteners; i++) {
        const conf_listener_t *lc = &e->conf.listeners[i];
        if (lc->protocol == CONF_PROTO_XMPP_S2S && !ext)
            ext = lc;
        if (lc->protocol == CONF_PROTO_XMPP_GATEWAY && !gw)
            gw = lc;
    }
    if (!ext && !gw)
        return 0;
    edge_xmpp_t *xp = calloc(1, sizeof *xp);
    if (!xp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    e->xmpp = xp;
    xp->e = e;
    xp->loop = e->loop;
    xp->cx = &e->conf.xmpp;
    xp->ndomains = (size_t)split_list(xp->cx->domains, xp->domain_buf, xp->domains, XP_MAX_DOMAINS);
    if (load_secret(xp, err, errlen) < 0)
        return -1;
    xp->policy = edge_xmpp_policy_load(xp->cx->allow_file, xp->cx->block_file, err, errlen);
    if (!xp->policy)
        return -1;
    if (!xp->cx->allow_file[0])
        edge_warn("[xmpp] allow_file is not set: no partner may federate");
    char dsrv[16][XP_DOMAIN];
    const char *dptr[16];
    edge_dns_opts_t dopts;
    edge_dns_opts_init(&dopts);
    dopts.nservers = (size_t)split_list(xp->cx->dns_servers, dsrv, dptr, 16);
    dopts.servers = dptr;
    dopts.prefer = EDGE_DNS_PREFER_V4;
    xp->dns = edge_dns_new(e->loop, &dopts, err, errlen);
    if (!xp->dns)
        return -1;
    if (ext && !(xp->ext_client = client_ctx(ext, 1, 0, err, errlen)))
        return -1;
    if (ext && !(xp->ext_client_alpn = client_ctx(ext, 1, 1, err, errlen)))
        return -1;
    if (gw && !(xp->int_client = client_ctx(gw, 0, 0, err, errlen)))
        return -1;
    for (size_t i = 0; i < e->conf.nlisteners; i++) {
        const conf_listener_t *lc = &e->conf.listeners[i];
        if (lc->protocol == CONF_PROTO_SIP)
            continue;
        if (listener_open(xp, &xp->ls[xp->nls++], lc, err, errlen) < 0)
            return -1;
    }
    uv_timer_init(e->loop, &xp->tick);
    xp->tick.data = xp;
    uv_timer_start(&xp->tick, on_tick, XP_TICK_MS, XP_TICK_MS);
    edge_info("xmpp federation up: domains %s, %zu partner entr%s allowed, %zu blocked, "
              "gateway %s (%s)",
              xp->cx->domains, edge_xmpp_policy_allowed(xp->policy),
              edge_xmpp_policy_allowed(xp->policy) == 1 ? "y" : "ies",
              edge_xmpp_policy_blocked(xp->policy),
              xp->cx->ngateways ? xp->cx->gateways[0].host : "-", xp->cx->gateway_name);
    return 0;
}

void edge_xmpp_reload(edge_t *e)
{
    edge_xmpp_t *xp = e->xmpp;
    if (!xp)
        return;
    char err[512];
    edge_xmpp_policy_t *p =
        edge_xmpp_policy_load(xp->cx->allow_file, xp->cx->block_file, err, sizeof err);
    if (!p) {
        edge_err("xmpp partner lists not reloaded, keeping the old ones: %s", err);
    } else {
        edge_xmpp_policy_free(xp->policy);
        xp->policy = p;
        edge_info("xmpp partner lists reloaded: %zu allowed, %zu blocked",
                  edge_xmpp_policy_allowed(p), edge_xmpp_policy_blocked(p));
    }
    tls_ctx_t *ctxs[] = {xp->ext_client, xp->ext_client_alpn, xp->int_client};
    for (size_t i = 0; i < 3; i++) {
        if (ctxs[i] && tls_ctx_reload(ctxs[i], err, sizeof err) < 0)
            edge_err("xmpp outbound certificate reload failed: %s", err);
    }
    for (size_t i = 0; i < xp->nls; i++) {
        if (tls_ctx_reload(xp->ls[i].ctx, err, sizeof err) < 0)
            edge_err("reload of listener %s failed, keeping the old certificates: %s",
                     xp->ls[i].lc->name, err);
    }
}

static void on_stop_timer(uv_timer_t *t)
{
    edge_xmpp_t *xp = t->data;
    for (xconn_t *c = xp->conns; c; c = c->next) {
        if (c->s)
            tls_stream_close(c->s);
    }
    uv_close((uv_handle_t *)&xp->stop_timer, NULL);
    xp->stop_timer.data = NULL;
}

void edge_xmpp_dump(edge_t *e, FILE *out)
{
    edge_xmpp_t *xp = e->xmpp;
    if (!xp)
        return;
    fprintf(out,
            "xmpp: stanzas_in=%llu stanzas_out=%llu queued=%llu dropped=%llu refused=%llu "
            "pairs_sasl=%llu pairs_dialback=%llu verifications=%llu accepted=%llu dialed=%llu "
            "streams=%zu\n",
            (unsigned long long)xp->n.in_stanzas, (unsigned long long)xp->n.out_stanzas,
            (unsigned long long)xp->n.queued, (unsigned long long)xp->n.dropped,
            (unsigned long long)xp->n.refused, (unsigned long long)xp->n.pairs_sasl,
            (unsigned long long)xp->n.pairs_dialback, (unsigned long long)xp->n.verifies,
            (unsigned long long)xp->n.accepted, (unsigned long long)xp->n.dialed, xp->nconns);
    fflush(out);
}

void edge_xmpp_stop(edge_t *e)
{
    edge_xmpp_t *xp = e->xmpp;
    if (!xp || xp->stopping)
        return;
    xp->stopping = 1;
    for (size_t i = 0; i < xp->nls; i++) {
        if (xp->ls[i].open)
            uv_close((uv_handle_t *)&xp->ls[i].tcp, NULL);
    }
    if (xp->tick.data)
        uv_close((uv_handle_t *)&xp->tick, NULL);
    for (xconn_t *c = xp->conns, *next; c; c = next) {
        next = c->next;
        c->final = 1;
        if (!c->s) {
            conn_final(c); /* resolving: nothing open */
            continue;
        }
        if (c->m && !c->ended && xmpp_s2s_state(c->m) != XMPP_S2S_ST_INIT) {
            xmpp_s2s_fail(c->m, XMPP_E_SYSTEM_SHUTDOWN, NULL);
            drain(c);
        } else {
            tls_stream_close(c->s);
        }
    }
    flush_dirty(xp);
    edge_xmpp_dump(e, stderr);
    if (xp->dns)
        edge_dns_free(xp->dns);
    xp->dns = NULL;
    if (xp->nconns) {
        uv_timer_init(xp->loop, &xp->stop_timer);
        xp->stop_timer.data = xp;
        uv_timer_start(&xp->stop_timer, on_stop_timer, XP_STOP_GRACE_MS, 0);
    }
}

void edge_xmpp_free(edge_t *e)
{
    edge_xmpp_t *xp = e->xmpp;
    if (!xp)
        return;
    while (xp->conns) /* none left normally: their close callbacks ran */
        conn_free(xp->conns);
    while (xp->routes) {
        xroute_t *r = xp->routes;
        xp->routes = r->next;
        free(r->q);
        free(r->items);
        free(r);
    }
    while (xp->verifies)
        verify_remove(xp, xp->verifies);
    edge_xmpp_policy_free(xp->policy);
    for (size_t i = 0; i < xp->nls; i++)
        tls_ctx_free(xp->ls[i].ctx);
    tls_ctx_free(xp->ext_client);
    tls_ctx_free(xp->ext_client_alpn);
    tls_ctx_free(xp->int_client);
    OPENSSL_cleanse(xp->secret, sizeof xp->secret);
    free(xp);
    e->xmpp = NULL;
}
