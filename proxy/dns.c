/*
 * dns.c - c-ares on the edge's libuv loop, with a cache and query coalescing of our own.
 *
 * Three layers. A lookup is one network query for a (name, type), in flight in c-ares; every
 * asker of the same (name, type) waits on it (coalescing). An answer is the parsed, immutable
 * result of a lookup, reference counted so the cache and the queries reading it share one copy.
 * A query is what the caller holds: it waits on one or two fetches (SRV; AAAA and A) or, for a
 * service, on an SRV fetch and then child address queries, and is handed back through an idle
 * handle, never from inside c-ares or the caller's own call. c-ares cannot cancel one query, so a
 * cancelled query only stops waiting; its lookup still completes and fills the cache.
 *
 * c-ares reports its sockets through the socket-state callback (one uv_poll each) and its
 * deadlines through ares_timeout (one uv_timer); ares_process_fd does the rest. c-ares 1.18's
 * answer parsers give TTLs for A and AAAA only, so a small walker over the message reads the
 * answer TTLs of every type and the SOA of a negative answer (RFC 2308).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <ares.h>

#include "dns.h"

#define T_A          1
#define T_SOA        6
#define T_AAAA       28
#define T_SRV        33
#define C_IN         1
#define DNS_NAME_MAX 253

/* ---------------------------------------------------------------- lists */

/* Circular, intrusive: an element unlinks itself without knowing which list holds it. */
typedef struct dns_link {
    struct dns_link *prev, *next;
} dns_link_t;

static void link_init(dns_link_t *l)
{
    l->prev = l->next = l;
}

static int link_empty(const dns_link_t *l)
{
    return l->next == l;
}

static void link_insert_head(dns_link_t *head, dns_link_t *l)
{
    l->next = head->next;
    l->prev = head;
    head->next->prev = l;
    head->next = l;
}

static void link_insert_tail(dns_link_t *head, dns_link_t *l)
{
    l->prev = head->prev;
    l->next = head;
    head->prev->next = l;
    head->prev = l;
}

static void link_remove(dns_link_t *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    link_init(l);
}

/* Move every element of from to the end of to. */
static void link_splice(dns_link_t *to, dns_link_t *from)
{
    if (link_empty(from))
        return;
    from->next->prev = to->prev;
    to->prev->next = from->next;
    from->prev->next = to;
    to->prev = from->prev;
    link_init(from);
}

#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---------------------------------------------------------------- types */

/* A parsed answer: status 0 (records), UNAVAILABLE (SRV "."), NXDOMAIN or NODATA. */
typedef struct dns_answer {
    unsigned refs;
    int status;
    uint16_t type;
    size_t n;
    edge_dns_srv_t *srv;     /* SRV: n records, target strings in the same block */
    unsigned char (*ip)[16]; /* A (first 4 bytes) or AAAA */
} dns_answer_t;

typedef struct dns_entry {
    struct dns_entry *hnext;
    dns_link_t lru; /* most recent first */
    uint64_t expires;
    dns_answer_t *ans;
    uint32_t hash;
    uint16_t type;
    char name[];
} dns_entry_t;

typedef struct dns_lookup {
    struct dns_lookup *hnext;
    edge_dns_t *dns;
    dns_link_t waiters; /* dns_fetch_t.link */
    uint32_t hash;
    uint16_t type;
    char name[];
} dns_lookup_t;

typedef struct dns_fetch {
    dns_link_t link; /* in the lookup's waiters while it waits */
    edge_dns_query_t *q;
    dns_lookup_t *lk;
    dns_answer_t *ans;
    int status;
    uint16_t type;
} dns_fetch_t;

enum { Q_SRV, Q_ADDR, Q_SERVICE };
enum { QS_PENDING, QS_READY, QS_DELIVERING };

struct edge_dns_query {
    dns_link_t link; /* dns->live, dns->ready or dns->batch (top-level queries only) */
    edge_dns_t *dns;
    edge_dns_query_t *parent; /* a service's child address query */
    uint8_t kind, state;
    uint8_t literal; /* ADDR: an IP literal, answered without a query */
    uint16_t port;
    edge_dns_family_t prefer;
    int status;
    unsigned pending; /* fetches or children not done, plus one while starting them */
    dns_fetch_t f[2];
    size_t nf;
    union {
        edge_dns_srv_cb srv;
        edge_dns_addr_cb addr;
        edge_dns_service_cb service;
    } cb;
    void *arg;
    edge_dns_srv_t *srv; /* ordered SRV records (SRV, SERVICE) */
    size_t nsrv;
    struct sockaddr_storage *addrs; /* ADDR */
    size_t naddrs;
    edge_dns_target_t *targets; /* SERVICE */
    size_t ntargets;
    edge_dns_query_t **kids; /* SERVICE: one address query per target */
    size_t nkids;
    const char *domain; /* SERVICE: the domain part of name */
    char name[];        /* lower case, no trailing dot ("" when invalid) */
};

typedef struct dns_watch {
    uv_poll_t poll;
    edge_dns_t *dns;
    struct dns_watch *next;
    ares_socket_t fd;
} dns_watch_t;

struct edge_dns {
    uv_loop_t *loop;
    ares_channel channel;
    uv_timer_t timer;
    uv_idle_t idle;
    dns_watch_t *watches;
    dns_link_t live;  /* top-level queries waiting */
    dns_link_t ready; /* done, to be delivered */
    dns_link_t batch; /* being delivered by the idle callback */
    dns_link_t lru;
    dns_entry_t **cache;
    dns_lookup_t **flight;
    size_t nbuckets, nentries, cache_size;
    uint32_t min_ttl, max_ttl, neg_ttl;
    edge_dns_family_t prefer;
    edge_dns_rand_fn rand;
    void *rand_arg;
    uint64_t rng;
    edge_dns_stats_t st;
    unsigned handles;
    uint8_t closing;
};

static void fetch_done(dns_fetch_t *f);

/* ---------------------------------------------------------------- errors */

const char *edge_dns_strerror(int status)
{
    switch (status) {
    case 0:
        return "ok";
    case EDGE_DNS_E_NXDOMAIN:
        return "name does not exist (NXDOMAIN)";
    case EDGE_DNS_E_NODATA:
        return "no record of the requested type (NODATA)";
    case EDGE_DNS_E_UNAVAILABLE:
        return "service decidedly not available (SRV target \".\")";
    case EDGE_DNS_E_TIMEOUT:
        return "DNS query timed out";
    case EDGE_DNS_E_SERVFAIL:
        return "DNS server failure (SERVFAIL, refused or unreachable)";
    case EDGE_DNS_E_MALFORMED:
        return "malformed DNS answer";
    case EDGE_DNS_E_CANCELLED:
        return "DNS query cancelled";
    case EDGE_DNS_E_NOMEM:
        return "out of memory";
    case EDGE_DNS_E_BADNAME:
        return "invalid domain name";
    case EDGE_DNS_E_FAILURE:
        return "DNS resolver failure";
    default:
        return "unknown DNS status";
    }
}

static int from_ares(int s)
{
    switch (s) {
    case ARES_SUCCESS:
        return 0;
    case ARES_ENOTFOUND:
        return EDGE_DNS_E_NXDOMAIN;
    case ARES_ENODATA:
        return EDGE_DNS_E_NODATA;
    case ARES_ETIMEOUT:
        return EDGE_DNS_E_TIMEOUT;
    /* c-ares 1.18 tries the next resolver on SERVFAIL, REFUSED and NOTIMP and, once all are
     * tried, reports ECONNREFUSED, the status a query starts with: the rcode is lost. */
    case ARES_ESERVFAIL:
    case ARES_EFORMERR:
    case ARES_ENOTIMP:
    case ARES_EREFUSED:
    case ARES_ECONNREFUSED:
        return EDGE_DNS_E_SERVFAIL;
    case ARES_EBADRESP:
        return EDGE_DNS_E_MALFORMED;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
        return EDGE_DNS_E_CANCELLED;
    case ARES_ENOMEM:
        return EDGE_DNS_E_NOMEM;
    case ARES_EBADNAME:
        return EDGE_DNS_E_BADNAME;
    default:
        return EDGE_DNS_E_FAILURE;
    }
}

/* ---------------------------------------------------------------- names */

int edge_dns_name_valid(const char *name)
{
    if (!name)
        return 0;
    size_t len = strlen(name);
    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len > DNS_NAME_MAX)
        return 0;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_') {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return label > 0;
}

/* Lower case, no trailing dot, into out (DNS_NAME_MAX + 1 bytes); the name must be valid. */
static size_t name_norm(const char *name, char *out)
{
    size_t len = strlen(name);
    if (len > 0 && name[len - 1] == '.')
        len--;
    for (size_t i = 0; i < len; i++)
        out[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] - 'A' + 'a') : name[i];
    out[len] = '\0';
    return len;
}

static uint32_t key_hash(const char *name, uint16_t type)
{
    uint32_t h = 2166136261u ^ type;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* ---------------------------------------------------------------- answers */

static dns_answer_t *answer_ref(dns_answer_t *a)
{
    if (a)
        a->refs++;
    return a;
}

static void answer_unref(dns_answer_t *a)
{
    if (a && --a->refs == 0)
        free(a);
}

static dns_answer_t *answer_negative(int status, uint16_t type)
{
    dns_answer_t *a = calloc(1, sizeof *a);
    if (a) {
        a->refs = 1;
        a->status = status;
        a->type = type;
    }
    return a;
}

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Offset past the (possibly compressed) name at off, or 0 if it runs off the message. */
static size_t skip_name(const unsigned char *m, size_t len, size_t off)
{
    for (int guard = 0; guard < 128; guard++) {
        if (off >= len)
            return 0;
        unsigned c = m[off];
        if (c == 0)
            return off + 1;
        if ((c & 0xc0) == 0xc0)
            return off + 2 <= len ? off + 2 : 0;
        if (c & 0xc0)
            return 0;
        off += 1 + c;
    }
    return 0;
}

/*
 * The smallest TTL of the answer section (CNAMEs included: the chain is only as fresh as its
 * weakest link) and, if the authority section carries an SOA, the negative TTL it implies
 * (RFC 2308 section 5: the lesser of its TTL and its MINIMUM field; -1 without one). TTLs with
 * the top bit set count as 0 (RFC 2181 section 8). Returns 0, or -1 if the message is malformed.
 */
static int msg_ttls(const unsigned char *m, size_t len, uint32_t *ans_ttl, int64_t *soa_neg)
{
    *ans_ttl = UINT32_MAX;
    *soa_neg = -1;
    if (len < 12)
        return -1;
    unsigned qd = rd16(m + 4), an = rd16(m + 6), ns = rd16(m + 8);
    size_t off = 12;
    for (unsigned i = 0; i < qd; i++) {
        if (!(off = skip_name(m, len, off)) || off + 4 > len)
            return -1;
        off += 4;
    }
    for (unsigned i = 0; i < an + ns; i++) {
        if (!(off = skip_name(m, len, off)) || off + 10 > len)
            return -1;
        uint16_t type = rd16(m + off);
        uint32_t ttl = rd32(m + off + 4);
        size_t rdlen = rd16(m + off + 8);
        off += 10;
        if (off + rdlen > len)
            return -1;
        if (ttl > INT32_MAX)
            ttl = 0;
        if (i < an) {
            if (ttl < *ans_ttl)
                *ans_ttl = ttl;
        } else if (type == T_SOA && *soa_neg < 0) {
            size_t end = off + rdlen, p = skip_name(m, end, off);
            if (!p || !(p = skip_name(m, end, p)) || p + 20 > end)
                return -1;
            uint32_t minimum = rd32(m + p + 16);
            if (minimum > INT32_MAX)
                minimum = 0;
            *soa_neg = ttl < minimum ? ttl : minimum;
        }
        off += rdlen;
    }
    return 0;
}

static int answer_srv(const unsigned char *abuf, int alen, dns_answer_t **out)
{
    struct ares_srv_reply *list = NULL;
    int s = ares_parse_srv_reply(abuf, alen, &list);
    if (s != ARES_SUCCESS)
        return from_ares(s);
    size_t n = 0, strs = 0, dots = 0;
    for (struct ares_srv_reply *r = list; r; r = r->next) {
        if (r->host[0] == '\0' || strcmp(r->host, ".") == 0) {
            dots++;
            continue;
        }
        n++;
        strs += strlen(r->host) + 1;
    }
    if (n == 0 && dots == 0) {
        ares_free_data(list);
        return EDGE_DNS_E_NODATA;
    }
    dns_answer_t *a = malloc(sizeof *a + n * sizeof(edge_dns_srv_t) + strs);
    if (!a) {
        ares_free_data(list);
        return EDGE_DNS_E_NOMEM;
    }
    a->refs = 1;
    a->type = T_SRV;
    a->n = n;
    a->ip = NULL;
    /* "." alone means no service; next to real targets it is noise (RFC 2782). */
    a->status = n == 0 ? EDGE_DNS_E_UNAVAILABLE : 0;
    a->srv = (edge_dns_srv_t *)(a + 1);
    char *str = (char *)(a->srv + n);
    size_t i = 0;
    for (struct ares_srv_reply *r = list; r; r = r->next) {
        if (r->host[0] == '\0' || strcmp(r->host, ".") == 0)
            continue;
        size_t l = strlen(r->host);
        while (l > 0 && r->host[l - 1] == '.')
            l--;
        memcpy(str, r->host, l);
        str[l] = '\0';
        a->srv[i++] = (edge_dns_srv_t){str, r->priority, r->weight, r->port};
        str += l + 1;
    }
    ares_free_data(list);
    *out = a;
    return 0;
}

static int answer_ip(const unsigned char *abuf, int alen, uint16_t type, dns_answer_t **out)
{
    int cap = rd16(abuf + 6), n = cap, s;
    if (cap == 0)
        return EDGE_DNS_E_NODATA;
    dns_answer_t *a = malloc(sizeof *a + (size_t)cap * 16);
    if (!a)
        return EDGE_DNS_E_NOMEM;
    a->refs = 1;
    a->type = type;
    a->status = 0;
    a->srv = NULL;
    a->ip = (unsigned char(*)[16])(void *)(a + 1);
    if (type == T_A) {
        struct ares_addrttl *t = malloc((size_t)cap * sizeof *t);
        s = t ? ares_parse_a_reply(abuf, alen, NULL, t, &n) : ARES_ENOMEM;
        for (int i = 0; s == ARES_SUCCESS && i < n; i++)
            memcpy(a->ip[i], &t[i].ipaddr, 4);
        free(t);
    } else {
        struct ares_addr6ttl *t = malloc((size_t)cap * sizeof *t);
        s = t ? ares_parse_aaaa_reply(abuf, alen, NULL, t, &n) : ARES_ENOMEM;
        for (int i = 0; s == ARES_SUCCESS && i < n; i++)
            memcpy(a->ip[i], &t[i].ip6addr, 16);
        free(t);
    }
    if (s == ARES_SUCCESS && n == 0)
        s = ARES_ENODATA; /* only a CNAME chain */
    if (s != ARES_SUCCESS) {
        free(a);
        return from_ares(s);
    }
    a->n = (size_t)n;
    *out = a;
    return 0;
}

/* ---------------------------------------------------------------- cache */

static dns_entry_t **cache_slot(edge_dns_t *dns, const char *name, uint16_t type, uint32_t h)
{
    dns_entry_t **pp = &dns->cache[h & (dns->nbuckets - 1)];
    while (*pp && ((*pp)->hash != h || (*pp)->type != type || strcmp((*pp)->name, name) != 0))
        pp = &(*pp)->hnext;
    return pp;
}

static void cache_unlink(edge_dns_t *dns, dns_entry_t **pp)
{
    dns_entry_t *e = *pp;
    *pp = e->hnext;
    link_remove(&e->lru);
    answer_unref(e->ans);
    free(e);
    dns->nentries--;
}

/* A fresh answer for (name, type), made the most recent; NULL if none (an expired one goes). */
static dns_answer_t *cache_get(edge_dns_t *dns, const char *name, uint16_t type, uint32_t h)
{
    if (!dns->cache)
        return NULL;
    dns_entry_t **pp = cache_slot(dns, name, type, h);
    if (!*pp)
        return NULL;
    if ((*pp)->expires <= uv_now(dns->loop)) {
        cache_unlink(dns, pp);
        return NULL;
    }
    link_remove(&(*pp)->lru);
    link_insert_head(&dns->lru, &(*pp)->lru);
    return (*pp)->ans;
}

static void cache_put(edge_dns_t *dns, const char *name, uint16_t type, uint32_t h,
                      dns_answer_t *ans, uint32_t ttl)
{
    if (!dns->cache || ttl == 0)
        return;
    uint64_t now = uv_now(dns->loop);
    dns_entry_t **pp = cache_slot(dns, name, type, h);
    if (*pp) {
        answer_unref((*pp)->ans);
        (*pp)->ans = answer_ref(ans);
        (*pp)->expires = now + (uint64_t)ttl * 1000;
        link_remove(&(*pp)->lru);
        link_insert_head(&dns->lru, &(*pp)->lru);
        return;
    }
    if (dns->nentries >= dns->cache_size) {
        dns_entry_t *old = CONTAINER(dns->lru.prev, dns_entry_t, lru);
        if (old->expires > now)
            dns->st.evictions++;
        cache_unlink(dns, cache_slot(dns, old->name, old->type, old->hash));
        pp = cache_slot(dns, name, type, h); /* the chain may have changed */
    }
    size_t len = strlen(name);
    dns_entry_t *e = malloc(sizeof *e + len + 1);
    if (!e)
        return;
    memcpy(e->name, name, len + 1);
    e->hash = h;
    e->type = type;
    e->expires = now + (uint64_t)ttl * 1000;
    e->ans = answer_ref(ans);
    e->hnext = NULL;
    *pp = e;
    link_insert_head(&dns->lru, &e->lru);
    dns->nentries++;
}

/* ---------------------------------------------------------------- c-ares on libuv */

static void arm_timer(edge_dns_t *dns);

static void watch_close_cb(uv_handle_t *h)
{
    dns_watch_t *w = h->data;
    edge_dns_t *dns = w->dns;
    free(w);
    if (--dns->handles == 0 && dns->closing)
        free(dns);
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
    dns_watch_t *w = p->data;
    edge_dns_t *dns = w->dns;
    ares_socket_t fd = w->fd;
    /* On a poll error let c-ares try both directions and find the socket's error itself. */
    ares_process_fd(dns->channel, status < 0 || (events & UV_READABLE) ? fd : ARES_SOCKET_BAD,
                    status < 0 || (events & UV_WRITABLE) ? fd : ARES_SOCKET_BAD);
    arm_timer(dns);
}

/*
 * c-ares tells us which sockets it wants watched; (0, 0) comes just before it closes one. The
 * handle is closed at once, while the descriptor is still the old socket's: uv_close stops the
 * watcher synchronously, so a new socket reusing the number gets a watcher of its own.
 */
static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    edge_dns_t *dns = data;
    dns_watch_t **pp = &dns->watches;
    while (*pp && (*pp)->fd != fd)
        pp = &(*pp)->next;
    dns_watch_t *w = *pp;
    if (!readable && !writable) {
        if (w) {
            *pp = w->next;
            uv_close((uv_handle_t *)&w->poll, watch_close_cb);
        }
        return;
    }
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w)
            return; /* the query will time out */
        if (uv_poll_init_socket(dns->loop, &w->poll, fd) != 0) {
            free(w);
            return;
        }
        w->dns = dns;
        w->fd = fd;
        w->poll.data = w;
        w->next = dns->watches;
        dns->watches = w;
        dns->handles++;
    }
    uv_poll_start(&w->poll, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0), poll_cb);
}

static void timer_cb(uv_timer_t *t)
{
    edge_dns_t *dns = t->data;
    ares_process_fd(dns->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    arm_timer(dns);
}

/* One timer for all of c-ares' deadlines: the nearest, as ares_timeout computes it. */
static void arm_timer(edge_dns_t *dns)
{
    if (dns->closing)
        return;
    struct timeval tv, *t = ares_timeout(dns->channel, NULL, &tv);
    if (!t) {
        uv_timer_stop(&dns->timer);
        return;
    }
    uint64_t ms = (uint64_t)t->tv_sec * 1000 + ((uint64_t)t->tv_usec + 999) / 1000;
    uv_timer_start(&dns->timer, timer_cb, ms, 0);
}

/* ---------------------------------------------------------------- lookups */

static void lookup_unlink(edge_dns_t *dns, dns_lookup_t *lk)
{
    dns_lookup_t **pp = &dns->flight[lk->hash & (dns->nbuckets - 1)];
    while (*pp && *pp != lk)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = lk->hnext;
    dns->st.in_flight--;
}

static void lookup_cb(void *arg, int astatus, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    dns_lookup_t *lk = arg;
    edge_dns_t *dns = lk->dns;
    lookup_unlink(dns, lk);

    int status = from_ares(astatus);
    dns_answer_t *ans = NULL;
    uint32_t ttl = 0, ans_ttl = 0;
    int64_t soa_neg = -1;
    if (dns->closing || astatus == ARES_EDESTRUCTION) {
        status = EDGE_DNS_E_CANCELLED;
    } else if (abuf &&
               (status == 0 || status == EDGE_DNS_E_NXDOMAIN || status == EDGE_DNS_E_NODATA)) {
        if (msg_ttls(abuf, (size_t)alen, &ans_ttl, &soa_neg) != 0)
            status = EDGE_DNS_E_MALFORMED;
        else if (status == 0)
            status = lk->type == T_SRV ? answer_srv(abuf, alen, &ans)
                                       : answer_ip(abuf, alen, lk->type, &ans);
        if (status == 0 || status == EDGE_DNS_E_UNAVAILABLE) {
            ttl = ans_ttl < dns->min_ttl ? dns->min_ttl : ans_ttl;
            if (ttl > dns->max_ttl)
                ttl = dns->max_ttl;
        } else if (status == EDGE_DNS_E_NXDOMAIN || status == EDGE_DNS_E_NODATA) {
            ans = answer_negative(status, lk->type);
            ttl = soa_neg >= 0 && soa_neg < dns->neg_ttl ? (uint32_t)soa_neg : dns->neg_ttl;
            if (!ans)
                status = EDGE_DNS_E_NOMEM;
        }
    } else if (status == 0) {
        status = EDGE_DNS_E_MALFORMED; /* success without a message: not expected */
    }
    if (ans)
        status = ans->status;

    if (status == EDGE_DNS_E_NXDOMAIN || status == EDGE_DNS_E_NODATA)
        dns->st.negative++;
    else if (status == EDGE_DNS_E_TIMEOUT)
        dns->st.timeouts++;
    else if (status != 0 && status != EDGE_DNS_E_UNAVAILABLE && status != EDGE_DNS_E_CANCELLED)
        dns->st.failures++;
    if (ans)
        cache_put(dns, lk->name, lk->type, lk->hash, ans, ttl);

    while (!link_empty(&lk->waiters)) {
        dns_fetch_t *f = CONTAINER(lk->waiters.next, dns_fetch_t, link);
        link_remove(&f->link);
        f->lk = NULL;
        f->ans = answer_ref(ans);
        f->status = status;
        fetch_done(f);
    }
    answer_unref(ans);
    free(lk);
}

/*
 * Start f for (name, type): from the cache if fresh, else by joining the lookup in flight, else
 * with a new lookup. Completion (possibly before this returns) goes through fetch_done.
 */
static void fetch_start(edge_dns_t *dns, dns_fetch_t *f, const char *name, uint16_t type)
{
    uint32_t h = key_hash(name, type);
    f->type = type;
    link_init(&f->link);
    dns_answer_t *a = cache_get(dns, name, type, h);
    if (a) {
        if (a->status == EDGE_DNS_E_NXDOMAIN || a->status == EDGE_DNS_E_NODATA)
            dns->st.negative_hits++;
        else
            dns->st.cache_hits++;
        f->ans = answer_ref(a);
        f->status = a->status;
        fetch_done(f);
        return;
    }
    dns_lookup_t **pp = &dns->flight[h & (dns->nbuckets - 1)];
    for (dns_lookup_t *lk = *pp; lk; lk = lk->hnext) {
        if (lk->hash == h && lk->type == type && strcmp(lk->name, name) == 0) {
            dns->st.coalesced++;
            f->lk = lk;
            link_insert_tail(&lk->waiters, &f->link);
            return;
        }
    }
    size_t len = strlen(name);
    dns_lookup_t *lk = malloc(sizeof *lk + len + 1);
    if (!lk) {
        f->status = EDGE_DNS_E_NOMEM;
        fetch_done(f);
        return;
    }
    memcpy(lk->name, name, len + 1);
    lk->dns = dns;
    lk->hash = h;
    lk->type = type;
    link_init(&lk->waiters);
    lk->hnext = *pp;
    *pp = lk;
    f->lk = lk;
    link_insert_tail(&lk->waiters, &f->link);
    dns->st.sent++;
    dns->st.in_flight++;
    /* ares_query, not ares_search: names are absolute, no search list, no /etc/hosts. It may
     * call lookup_cb before returning (no server, no socket), which the waiter list allows. */
    ares_query(dns->channel, name, C_IN, type, lookup_cb, lk);
    arm_timer(dns);
}

/* ---------------------------------------------------------------- SRV order */

static int srv_cmp(const void *a, const void *b)
{
    const edge_dns_srv_t *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    if (x->weight != y->weight)
        return x->weight < y->weight ? -1 : 1; /* zero weights first (RFC 2782) */
    int c = strcmp(x->target, y->target);
    if (c)
        return c;
    return x->port < y->port ? -1 : x->port > y->port;
}

/* One priority's records, by weight: each place goes to the first record whose running sum of
 * weights reaches a random r in 0..sum (RFC 2782). */
static void srv_order_group(edge_dns_srv_t *g, size_t n, edge_dns_rand_fn rand, void *rand_arg)
{
    for (size_t k = 0; k + 1 < n; k++) {
        uint64_t sum = 0;
        for (size_t m = k; m < n; m++)
            sum += g[m].weight;
        uint64_t r = rand(rand_arg) % (sum + 1), run = 0;
        size_t m = k;
        for (; m + 1 < n; m++) {
            run += g[m].weight;
            if (run >= r)
                break;
        }
        /* rotate the pick to place k, the rest keeping their order */
        edge_dns_srv_t chosen = g[m];
        for (; m > k; m--)
            g[m] = g[m - 1];
        g[k] = chosen;
    }
}

void edge_dns_srv_order(edge_dns_srv_t *srv, size_t n, edge_dns_rand_fn rand, void *rand_arg)
{
    if (n < 2)
        return;
    /* Sorting first makes the draw depend only on the records and the random numbers. */
    qsort(srv, n, sizeof *srv, srv_cmp);
    size_t i = 0;
    while (i < n) {
        size_t len = 1;
        while (i + len < n && srv[i + len].priority == srv[i].priority)
            len++;
        srv_order_group(srv + i, len, rand, rand_arg);
        i += len;
    }
}

static uint32_t default_rand(void *arg)
{
    uint64_t *s = arg; /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (uint32_t)((*s * 2685821657736338717ull) >> 32);
}

/* ---------------------------------------------------------------- queries */

static void query_free(edge_dns_query_t *q)
{
    for (size_t i = 0; i < q->nf; i++) {
        if (q->f[i].lk)
            link_remove(&q->f[i].link); /* the lookup goes on, for the cache */
        answer_unref(q->f[i].ans);
    }
    for (size_t i = 0; i < q->nkids; i++)
        if (q->kids[i])
            query_free(q->kids[i]);
    free(q->kids);
    free(q->srv);
    free(q->addrs);
    free(q->targets);
    free(q);
}

static void child_done(edge_dns_query_t *parent);
static void idle_cb(uv_idle_t *h);

/* The query has its result: hand it to the idle handle (or to the parent service). */
static void query_complete(edge_dns_query_t *q)
{
    edge_dns_t *dns = q->dns;
    if (q->parent) {
        child_done(q->parent);
        return;
    }
    q->state = QS_READY;
    link_remove(&q->link);
    link_insert_tail(&dns->ready, &q->link);
    if (!dns->closing)
        uv_idle_start(&dns->idle, idle_cb);
}

static void srv_resolve(edge_dns_query_t *q)
{
    dns_answer_t *a = q->f[0].ans;
    q->status = q->f[0].status;
    if (q->status != 0)
        return;
    q->srv = malloc(a->n * sizeof *q->srv);
    if (!q->srv) {
        q->status = EDGE_DNS_E_NOMEM;
        return;
    }
    memcpy(q->srv, a->srv, a->n * sizeof *q->srv);
    q->nsrv = a->n;
    edge_dns_srv_order(q->srv, q->nsrv, q->dns->rand, q->dns->rand_arg);
}

static int status_rank(int s)
{
    if (s == EDGE_DNS_E_NXDOMAIN)
        return 3;
    if (s == EDGE_DNS_E_NODATA)
        return 1;
    return s == 0 ? 0 : 2;
}

static void addr_resolve(edge_dns_query_t *q)
{
    size_t n = 0;
    for (size_t i = 0; i < q->nf; i++)
        if (q->f[i].status == 0)
            n += q->f[i].ans->n;
    if (n == 0) {
        q->status = q->f[0].status;
        for (size_t i = 1; i < q->nf; i++)
            if (status_rank(q->f[i].status) > status_rank(q->status))
                q->status = q->f[i].status;
        return;
    }
    q->addrs = calloc(n, sizeof *q->addrs);
    if (!q->addrs) {
        q->status = EDGE_DNS_E_NOMEM;
        return;
    }
    for (size_t i = 0; i < q->nf; i++) {
        dns_answer_t *a = q->f[i].ans;
        if (q->f[i].status != 0)
            continue;
        for (size_t k = 0; k < a->n; k++) {
            struct sockaddr_storage *ss = &q->addrs[q->naddrs++];
            if (a->type == T_A) {
                struct sockaddr_in *sin = (struct sockaddr_in *)ss;
                sin->sin_family = AF_INET;
                sin->sin_port = htons(q->port);
                memcpy(&sin->sin_addr, a->ip[k], 4);
            } else {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons(q->port);
                memcpy(&sin6->sin6_addr, a->ip[k], 16);
            }
        }
    }
    q->status = 0;
}

static edge_dns_query_t *query_new(edge_dns_t *dns, int kind, const char *name, size_t extra)
{
    int valid = edge_dns_name_valid(name);
    edge_dns_query_t *q = calloc(1, sizeof *q + (valid ? strlen(name) : 0) + extra + 1);
    if (!q)
        return NULL;
    q->dns = dns;
    q->kind = (uint8_t)kind;
    q->state = QS_PENDING;
    link_init(&q->link);
    if (valid)
        name_norm(name, q->name);
    else
        q->status = EDGE_DNS_E_BADNAME;
    return q;
}

static edge_dns_query_t *addr_new(edge_dns_t *dns, const char *host, uint16_t port,
                                  edge_dns_family_t prefer);
static void addr_start(edge_dns_query_t *q);

static void service_resolve_srv(edge_dns_query_t *q)
{
    edge_dns_t *dns = q->dns;
    int s = q->f[0].status;
    if (s == 0) {
        srv_resolve(q);
        s = q->status;
    }
    size_t nkids = s == 0 ? q->nsrv : 1;
    if (s != 0 && s != EDGE_DNS_E_NXDOMAIN && s != EDGE_DNS_E_NODATA) {
        q->status = s; /* ".", a failure: no fallback */
        query_complete(q);
        return;
    }
    q->kids = calloc(nkids, sizeof *q->kids);
    if (!q->kids) {
        q->status = EDGE_DNS_E_NOMEM;
        query_complete(q);
        return;
    }
    q->nkids = nkids;
    q->pending = (unsigned)nkids + 1;
    for (size_t i = 0; i < nkids; i++) {
        const char *host = s == 0 ? q->srv[i].target : q->domain;
        edge_dns_query_t *k = addr_new(dns, host, s == 0 ? q->srv[i].port : q->port, q->prefer);
        if (!k) {
            q->pending--;
            continue;
        }
        k->parent = q;
        q->kids[i] = k;
        addr_start(k);
    }
    child_done(q); /* the starting guard */
}

static void service_assemble(edge_dns_query_t *q)
{
    size_t n = 0;
    for (size_t i = 0; i < q->nkids; i++)
        if (q->kids[i] && q->kids[i]->status == 0)
            n += q->kids[i]->naddrs;
    if (n == 0) {
        q->status = q->kids[0] ? q->kids[0]->status : EDGE_DNS_E_NOMEM;
        return;
    }
    q->targets = calloc(n, sizeof *q->targets);
    if (!q->targets) {
        q->status = EDGE_DNS_E_NOMEM;
        return;
    }
    for (size_t i = 0; i < q->nkids; i++) {
        edge_dns_query_t *k = q->kids[i];
        if (!k || k->status != 0)
            continue;
        for (size_t j = 0; j < k->naddrs; j++) {
            edge_dns_target_t *t = &q->targets[q->ntargets++];
            t->target = q->nsrv ? q->srv[i].target : q->domain;
            t->addr = k->addrs[j];
            t->addrlen = k->addrs[j].ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                           : sizeof(struct sockaddr_in);
            t->port = k->port;
            t->from_srv = q->nsrv != 0;
        }
    }
    q->status = 0;
}

static void child_done(edge_dns_query_t *q)
{
    if (--q->pending > 0)
        return;
    service_assemble(q);
    query_complete(q);
}

/* One fetch (or the starting guard) is done; when none is left, the query moves on. */
static void query_step(edge_dns_query_t *q)
{
    if (--q->pending > 0)
        return;
    switch (q->kind) {
    case Q_SRV:
        srv_resolve(q);
        query_complete(q);
        break;
    case Q_ADDR:
        addr_resolve(q);
        query_complete(q);
        break;
    case Q_SERVICE:
        service_resolve_srv(q);
        break;
    }
}

static void fetch_done(dns_fetch_t *f)
{
    query_step(f->q);
}

/* An IP literal (brackets allowed around IPv6) answers without a query. Returns 1 if it was. */
static int addr_literal(edge_dns_query_t *q, const char *host)
{
    char buf[INET6_ADDRSTRLEN + 2];
    size_t len = strlen(host);
    if (len >= sizeof buf)
        return 0;
    if (host[0] == '[' && len > 2 && host[len - 1] == ']') {
        memcpy(buf, host + 1, len - 2);
        buf[len - 2] = '\0';
    } else {
        memcpy(buf, host, len + 1);
    }
    struct in_addr v4;
    struct in6_addr v6;
    int fam = inet_pton(AF_INET, buf, &v4) == 1    ? AF_INET
              : inet_pton(AF_INET6, buf, &v6) == 1 ? AF_INET6
                                                   : 0;
    if (!fam || (fam == AF_INET && host[0] == '['))
        return 0;
    if ((fam == AF_INET && q->prefer == EDGE_DNS_ONLY_V6) ||
        (fam == AF_INET6 && q->prefer == EDGE_DNS_ONLY_V4)) {
        q->status = EDGE_DNS_E_NODATA;
        return 1;
    }
    q->addrs = calloc(1, sizeof *q->addrs);
    if (!q->addrs) {
        q->status = EDGE_DNS_E_NOMEM;
        return 1;
    }
    if (fam == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)q->addrs;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(q->port);
        sin->sin_addr = v4;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)q->addrs;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(q->port);
        sin6->sin6_addr = v6;
    }
    q->naddrs = 1;
    q->status = 0;
    return 1;
}

static edge_dns_query_t *addr_new(edge_dns_t *dns, const char *host, uint16_t port,
                                  edge_dns_family_t prefer)
{
    edge_dns_query_t *q = query_new(dns, Q_ADDR, host ? host : "", 0);
    if (!q)
        return NULL;
    q->port = port;
    q->prefer = prefer;
    if (host && addr_literal(q, host))
        q->literal = 1;
    return q;
}

/* Ask for the families the preference names; a literal or a bad name completes at once. */
static void addr_start(edge_dns_query_t *q)
{
    if (q->literal || q->status != 0) {
        query_complete(q);
        return;
    }
    uint16_t types[2];
    switch (q->prefer) {
    case EDGE_DNS_PREFER_V4:
        types[0] = T_A, types[1] = T_AAAA, q->nf = 2;
        break;
    case EDGE_DNS_ONLY_V6:
        types[0] = T_AAAA, q->nf = 1;
        break;
    case EDGE_DNS_ONLY_V4:
        types[0] = T_A, q->nf = 1;
        break;
    default:
        types[0] = T_AAAA, types[1] = T_A, q->nf = 2;
        break;
    }
    q->pending = (unsigned)q->nf + 1;
    for (size_t i = 0; i < q->nf; i++) {
        q->f[i].q = q;
        fetch_start(q->dns, &q->f[i], q->name, types[i]);
    }
    query_step(q); /* the starting guard */
}

static edge_dns_query_t *query_accept(edge_dns_t *dns, edge_dns_query_t *q, void *arg)
{
    q->arg = arg;
    link_insert_tail(&dns->live, &q->link);
    dns->st.queries++;
    return q;
}

edge_dns_query_t *edge_dns_srv(edge_dns_t *dns, const char *name, edge_dns_srv_cb cb, void *arg)
{
    if (dns->closing)
        return NULL;
    edge_dns_query_t *q = query_new(dns, Q_SRV, name, 0);
    if (!q)
        return NULL;
    q->cb.srv = cb;
    query_accept(dns, q, arg);
    if (q->status != 0) {
        query_complete(q);
        return q;
    }
    q->nf = 1;
    q->pending = 1;
    q->f[0].q = q;
    fetch_start(dns, &q->f[0], q->name, T_SRV);
    return q;
}

edge_dns_query_t *edge_dns_addr(edge_dns_t *dns, const char *host, uint16_t port,
                                edge_dns_family_t prefer, edge_dns_addr_cb cb, void *arg)
{
    if (dns->closing)
        return NULL;
    edge_dns_query_t *q = addr_new(dns, host, port, prefer);
    if (!q)
        return NULL;
    q->cb.addr = cb;
    query_accept(dns, q, arg);
    addr_start(q);
    return q;
}

static int label_ok(const char *s)
{
    return s && *s && !strchr(s, '.') && strlen(s) <= 63;
}

edge_dns_query_t *edge_dns_service(edge_dns_t *dns, const char *service, const char *proto,
                                   const char *domain, uint16_t fallback_port,
                                   edge_dns_service_cb cb, void *arg)
{
    if (dns->closing)
        return NULL;
    char name[DNS_NAME_MAX + 2] = "";
    int ok = label_ok(service) && label_ok(proto) && domain && edge_dns_name_valid(domain);
    if (ok) {
        int len = snprintf(name, sizeof name, "_%s._%s.%s", service, proto, domain);
        ok = len > 0 && (size_t)len < sizeof name && edge_dns_name_valid(name);
    }
    edge_dns_query_t *q = query_new(dns, Q_SERVICE, ok ? name : "", 0);
    if (!q)
        return NULL;
    q->cb.service = cb;
    q->port = fallback_port;
    q->prefer = dns->prefer;
    query_accept(dns, q, arg);
    if (q->status != 0) {
        query_complete(q);
        return q;
    }
    q->domain = q->name + strlen(service) + strlen(proto) + 4;
    q->nf = 1;
    q->pending = 1;
    q->f[0].q = q;
    fetch_start(dns, &q->f[0], q->name, T_SRV);
    return q;
}

void edge_dns_cancel(edge_dns_query_t *q)
{
    if (!q || q->state == QS_DELIVERING)
        return;
    link_remove(&q->link);
    query_free(q);
}

static void deliver(edge_dns_query_t *q, int status)
{
    q->state = QS_DELIVERING;
    switch (q->kind) {
    case Q_SRV:
        q->cb.srv(q, status, status ? NULL : q->srv, status ? 0 : q->nsrv, q->arg);
        break;
    case Q_ADDR:
        q->cb.addr(q, status, status ? NULL : q->addrs, status ? 0 : q->naddrs, q->arg);
        break;
    case Q_SERVICE:
        q->cb.service(q, status, status ? NULL : q->targets, status ? 0 : q->ntargets, q->arg);
        break;
    }
}

/*
 * Deliver what was ready when the loop came round; queries made ready by those callbacks wait
 * for the next turn, so a caller that keeps asking cannot starve the loop.
 */
static void idle_cb(uv_idle_t *h)
{
    edge_dns_t *dns = h->data;
    link_splice(&dns->batch, &dns->ready);
    while (!link_empty(&dns->batch)) {
        edge_dns_query_t *q = CONTAINER(dns->batch.next, edge_dns_query_t, link);
        link_remove(&q->link);
        deliver(q, q->status);
        query_free(q);
    }
    if (link_empty(&dns->ready) && !dns->closing)
        uv_idle_stop(&dns->idle);
}

/* ---------------------------------------------------------------- resolver */

void edge_dns_opts_init(edge_dns_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = EDGE_DNS_DEFAULT_TIMEOUT_MS;
    o->tries = EDGE_DNS_DEFAULT_TRIES;
    o->cache_size = EDGE_DNS_DEFAULT_CACHE_SIZE;
    o->min_ttl = EDGE_DNS_DEFAULT_MIN_TTL;
    o->max_ttl = EDGE_DNS_DEFAULT_MAX_TTL;
    o->neg_ttl = EDGE_DNS_DEFAULT_NEG_TTL;
    o->prefer = EDGE_DNS_PREFER_V6;
}

/* "ip", "ip:port", "[v6]" or "[v6]:port" into node. Returns 0 or -1. */
static int server_parse(const char *s, struct ares_addr_port_node *node)
{
    char host[INET6_ADDRSTRLEN];
    const char *port = NULL;
    size_t hl;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end)
            return -1;
        hl = (size_t)(end - s - 1);
        if (hl >= sizeof host)
            return -1;
        memcpy(host, s + 1, hl);
        if (end[1] == ':')
            port = end + 2;
        else if (end[1] != '\0')
            return -1;
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':'))
            colon = NULL; /* bare IPv6 */
        hl = colon ? (size_t)(colon - s) : strlen(s);
        if (hl >= sizeof host)
            return -1;
        memcpy(host, s, hl);
        port = colon ? colon + 1 : NULL;
    }
    host[hl] = '\0';
    memset(node, 0, sizeof *node);
    if (inet_pton(AF_INET, host, &node->addr.addr4) == 1 && s[0] != '[')
        node->family = AF_INET;
    else if (inet_pton(AF_INET6, host, &node->addr.addr6) == 1)
        node->family = AF_INET6;
    else
        return -1;
    long p = 53;
    if (port) {
        char *end;
        errno = 0;
        p = strtol(port, &end, 10);
        if (!*port || *end || errno || p < 1 || p > 65535)
            return -1;
    }
    node->udp_port = node->tcp_port = (int)p;
    return 0;
}

static int set_servers(edge_dns_t *dns, const edge_dns_opts_t *o, char *err, size_t errlen)
{
    if (o->nservers == 0)
        return 0;
    struct ares_addr_port_node *nodes = calloc(o->nservers, sizeof *nodes);
    if (!nodes) {
        snprintf(err, errlen, "dns: out of memory");
        return -1;
    }
    for (size_t i = 0; i < o->nservers; i++) {
        if (!o->servers[i] || server_parse(o->servers[i], &nodes[i]) != 0) {
            snprintf(err, errlen,
                     "dns: bad resolver address '%s' (want ip, ip:port or [ipv6]:port)",
                     o->servers[i] ? o->servers[i] : "(null)");
            free(nodes);
            return -1;
        }
        nodes[i].next = i + 1 < o->nservers ? &nodes[i + 1] : NULL;
    }
    int s = ares_set_servers_ports(dns->channel, nodes);
    free(nodes);
    if (s != ARES_SUCCESS) {
        snprintf(err, errlen, "dns: cannot set resolvers: %s", ares_strerror(s));
        return -1;
    }
    return 0;
}

static void dns_close_cb(uv_handle_t *h)
{
    edge_dns_t *dns = h->data;
    if (--dns->handles == 0)
        free(dns);
}

edge_dns_t *edge_dns_new(uv_loop_t *loop, const edge_dns_opts_t *opts, char *err, size_t errlen)
{
    edge_dns_opts_t defaults;
    if (!opts) {
        edge_dns_opts_init(&defaults);
        opts = &defaults;
    }
    if (opts->timeout_ms == 0 || opts->tries == 0 || opts->min_ttl > opts->max_ttl) {
        snprintf(err, errlen, "dns: %s",
                 opts->min_ttl > opts->max_ttl ? "min_ttl is above max_ttl"
                                               : "timeout and tries must be at least 1");
        return NULL;
    }
    edge_dns_t *dns = calloc(1, sizeof *dns);
    if (!dns) {
        snprintf(err, errlen, "dns: out of memory");
        return NULL;
    }
    dns->loop = loop;
    dns->cache_size = opts->cache_size;
    dns->min_ttl = opts->min_ttl;
    dns->max_ttl = opts->max_ttl;
    dns->neg_ttl = opts->neg_ttl;
    dns->prefer = opts->prefer;
    dns->rand = opts->rand;
    dns->rand_arg = opts->rand_arg;
    if (!dns->rand) {
        if (getrandom(&dns->rng, sizeof dns->rng, GRND_NONBLOCK) != sizeof dns->rng)
            dns->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
        dns->rng |= 1; /* xorshift must not start at 0 */
        dns->rand = default_rand;
        dns->rand_arg = &dns->rng;
    }
    link_init(&dns->live);
    link_init(&dns->ready);
    link_init(&dns->batch);
    link_init(&dns->lru);
    /* Buckets for the cache and the lookups in flight: a power of two, about one per entry. */
    dns->nbuckets = 64;
    while (dns->nbuckets < opts->cache_size && dns->nbuckets < (1u << 20))
        dns->nbuckets <<= 1;
    dns->flight = calloc(dns->nbuckets, sizeof *dns->flight);
    if (opts->cache_size)
        dns->cache = calloc(dns->nbuckets, sizeof *dns->cache);
    if (!dns->flight || (opts->cache_size && !dns->cache)) {
        snprintf(err, errlen, "dns: out of memory");
        goto fail;
    }

    int s = ares_library_init(ARES_LIB_INIT_ALL);
    if (s != ARES_SUCCESS) {
        snprintf(err, errlen, "dns: c-ares: %s", ares_strerror(s));
        goto fail;
    }
    struct ares_options ao;
    memset(&ao, 0, sizeof ao);
    ao.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    ao.timeout = (int)opts->timeout_ms;
    ao.tries = (int)opts->tries;
    ao.sock_state_cb = sock_state_cb;
    ao.sock_state_cb_data = dns;
    int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
    s = ares_init_options(&dns->channel, &ao, mask);
    if (s != ARES_SUCCESS) {
        snprintf(err, errlen, "dns: c-ares: %s", ares_strerror(s));
        ares_library_cleanup();
        goto fail;
    }
    if (set_servers(dns, opts, err, errlen) != 0) {
        ares_destroy(dns->channel);
        ares_library_cleanup();
        goto fail;
    }
    uv_timer_init(loop, &dns->timer);
    uv_idle_init(loop, &dns->idle);
    dns->timer.data = dns->idle.data = dns;
    dns->handles = 2;
    return dns;
fail:
    free(dns->flight);
    free(dns->cache);
    free(dns);
    return NULL;
}

void edge_dns_free(edge_dns_t *dns)
{
    if (!dns || dns->closing)
        return;
    dns->closing = 1;
    /* Callbacks may cancel other queries; take one at a time from the head. */
    dns_link_t *lists[] = {&dns->batch, &dns->ready, &dns->live};
    for (size_t i = 0; i < 3; i++) {
        while (!link_empty(lists[i])) {
            edge_dns_query_t *q = CONTAINER(lists[i]->next, edge_dns_query_t, link);
            link_remove(&q->link);
            deliver(q, EDGE_DNS_E_CANCELLED);
            query_free(q);
        }
    }
    /* The lookups still in flight end here (no waiters are left); c-ares closes its sockets
     * through sock_state_cb, which closes their poll handles. */
    ares_destroy(dns->channel);
    ares_library_cleanup();
    while (dns->watches) {
        dns_watch_t *w = dns->watches;
        dns->watches = w->next;
        uv_close((uv_handle_t *)&w->poll, watch_close_cb);
    }
    while (!link_empty(&dns->lru)) {
        dns_entry_t *e = CONTAINER(dns->lru.next, dns_entry_t, lru);
        cache_unlink(dns, cache_slot(dns, e->name, e->type, e->hash));
    }
    free(dns->cache);
    free(dns->flight);
    dns->cache = NULL;
    dns->flight = NULL;
    uv_close((uv_handle_t *)&dns->timer, dns_close_cb);
    uv_close((uv_handle_t *)&dns->idle, dns_close_cb);
}

void edge_dns_stats(const edge_dns_t *dns, edge_dns_stats_t *out)
{
    *out = dns->st;
    out->cache_entries = dns->nentries;
}
