/*
 * dns.h - asynchronous DNS for the daemon: c-ares driven by the edge's libuv loop, with a cache
 * of its own. Federation needs SRV discovery (_xmpp-server._tcp, _xmpps-server._tcp,
 * _sipfederationtls._tcp) and A/AAAA resolution without ever blocking the loop that carries every
 * connection; this module gives both and knows nothing of SIP or XMPP.
 *
 * Every query returns a handle and completes through its callback, always called from the loop
 * (never from inside the call that started the query), exactly once, unless the handle is
 * cancelled first. Results passed to a callback are valid only during the callback.
 */
#ifndef EDGE_DNS_H
#define EDGE_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

/* ---------------------------------------------------------------- errors */

/* Query statuses: 0 or one of these, below libuv's and the TLS module's ranges. */
enum {
    EDGE_DNS_E_NXDOMAIN = -21001,    /* the name does not exist */
    EDGE_DNS_E_NODATA = -21002,      /* the name exists, without records of the asked type */
    EDGE_DNS_E_UNAVAILABLE = -21003, /* SRV target ".": the service is decidedly not offered */
    EDGE_DNS_E_TIMEOUT = -21004,     /* no answer from any resolver within timeout x tries */
    EDGE_DNS_E_SERVFAIL = -21005,    /* no usable answer from any resolver: SERVFAIL, REFUSED,
                                        FORMERR, NOTIMP or unreachable (c-ares 1.18 reports
                                        these alike once it has tried every resolver) */
    EDGE_DNS_E_MALFORMED = -21006,   /* an answer we could not parse */
    EDGE_DNS_E_CANCELLED = -21007,   /* the resolver was freed with the query pending */
    EDGE_DNS_E_NOMEM = -21008,
    EDGE_DNS_E_BADNAME = -21009, /* not a valid domain name; nothing was sent */
    EDGE_DNS_E_FAILURE = -21010, /* any other resolver failure */
};

const char *edge_dns_strerror(int status);

/* ---------------------------------------------------------------- resolver */

typedef enum {
    EDGE_DNS_PREFER_V6 = 0, /* AAAA and A, IPv6 addresses first */
    EDGE_DNS_PREFER_V4,     /* AAAA and A, IPv4 addresses first */
    EDGE_DNS_ONLY_V6,       /* AAAA only */
    EDGE_DNS_ONLY_V4        /* A only */
} edge_dns_family_t;

/* A source of randomness for the SRV weighted order: any 32-bit value. */
typedef uint32_t (*edge_dns_rand_fn)(void *arg);

typedef struct {
    /* Resolvers as "ip" or "ip:port" ("[v6]:port" for IPv6 with a port), tried in order.
     * None: the system's (/etc/resolv.conf, read once by edge_dns_new). */
    const char *const *servers;
    size_t nservers;
    uint32_t timeout_ms; /* first try per resolver (c-ares doubles it on each later round);
                            default 2000 */
    uint32_t tries;      /* rounds over the resolver list; default 2 */
    size_t cache_size;   /* cached (name, type) answers, LRU beyond; 0: no cache; default 4096 */
    uint32_t min_ttl;    /* seconds: positive answers are kept at least this; default 5 */
    uint32_t max_ttl;    /* seconds: and at most this; default 3600 */
    uint32_t neg_ttl;    /* seconds NXDOMAIN/NODATA are kept (shorter if the zone's SOA says
                            so, RFC 2308); 0: no negative caching; default 60 */
    edge_dns_family_t prefer; /* address order for edge_dns_service; default PREFER_V6 */
    edge_dns_rand_fn rand;    /* NULL: an internal generator seeded from getrandom() */
    void *rand_arg;
} edge_dns_opts_t;

#define EDGE_DNS_DEFAULT_TIMEOUT_MS 2000
#define EDGE_DNS_DEFAULT_TRIES      2
#define EDGE_DNS_DEFAULT_CACHE_SIZE 4096
#define EDGE_DNS_DEFAULT_MIN_TTL    5
#define EDGE_DNS_DEFAULT_MAX_TTL    3600
#define EDGE_DNS_DEFAULT_NEG_TTL    60

/* Fill o with the defaults above (system resolvers). */
void edge_dns_opts_init(edge_dns_opts_t *o);

typedef struct edge_dns edge_dns_t;
typedef struct edge_dns_query edge_dns_query_t;

/*
 * Make a resolver on loop; opts NULL means the defaults. The server strings are parsed here and
 * not kept. On failure returns NULL and says why in err (a bad server address, min_ttl above
 * max_ttl, c-ares initialisation).
 */
edge_dns_t *edge_dns_new(uv_loop_t *loop, const edge_dns_opts_t *opts, char *err, size_t errlen);

/*
 * Every pending query's callback is called with EDGE_DNS_E_CANCELLED before this returns (such a
 * callback must not free dns again; queries it starts get NULL). The handles then close through
 * the loop and the memory goes with the last close callback: run the loop until it is idle. May
 * be called from inside a query's callback.
 */
void edge_dns_free(edge_dns_t *dns);

/* ---------------------------------------------------------------- queries */

typedef struct {
    const char *target; /* host name, no trailing dot */
    uint16_t priority;
    uint16_t weight;
    uint16_t port;
} edge_dns_srv_t;

typedef struct {
    const char *target; /* the SRV target, or the domain itself after the A/AAAA fallback */
    struct sockaddr_storage addr; /* port included */
    socklen_t addrlen;
    uint16_t port;
    uint8_t from_srv; /* 0: fallback (no SRV record for the service) */
} edge_dns_target_t;

/* status 0: n >= 1 records in the order to try them (priority, then RFC 2782 weighted order).
 * EDGE_DNS_E_UNAVAILABLE when the only target is ".". */
typedef void (*edge_dns_srv_cb)(edge_dns_query_t *q, int status, const edge_dns_srv_t *srv,
                                size_t n, void *arg);
/* status 0: n >= 1 addresses, ports set, in the order of the family preference. */
typedef void (*edge_dns_addr_cb)(edge_dns_query_t *q, int status,
                                 const struct sockaddr_storage *addrs, size_t n, void *arg);
/* status 0: n >= 1 (target, address, port) in the order to try them. */
typedef void (*edge_dns_service_cb)(edge_dns_query_t *q, int status, const edge_dns_target_t *t,
                                    size_t n, void *arg);

/*
 * The three queries return a handle, or NULL (and never call cb) when memory is exhausted or the
 * resolver is being freed. Anything else, a bad name included, is reported through cb. Names are
 * absolute (no search list); one trailing dot is allowed; case does not matter.
 */

/* SRV records of name, e.g. "_xmpp-server._tcp.fabrikam.test". */
edge_dns_query_t *edge_dns_srv(edge_dns_t *dns, const char *name, edge_dns_srv_cb cb, void *arg);

/*
 * Addresses of host (AAAA and A both asked, in parallel, unless the preference names one family),
 * each with port. An IPv4 or IPv6 literal ("192.0.2.1", "2001:db8::1", "[2001:db8::1]") is
 * answered without a query, still through the loop. The merged status is 0 if either family gave
 * an address; otherwise NXDOMAIN if either said so, then a failure (timeout...), then NODATA.
 */
edge_dns_query_t *edge_dns_addr(edge_dns_t *dns, const char *host, uint16_t port,
                                edge_dns_family_t prefer, edge_dns_addr_cb cb, void *arg);

/*
 * Where to connect for a service of domain: the SRV records of _service._proto.domain (service
 * and proto without their underscores, e.g. "xmpp-server", "tcp"), each target's addresses in
 * SRV order (family order per the resolver's `prefer`). When the domain has no such SRV record
 * (NXDOMAIN or NODATA) the domain's own addresses on fallback_port (RFC 6120 3.2.2, RFC 3263
 * 4.2). SRV target "." gives EDGE_DNS_E_UNAVAILABLE and no fallback; a resolver failure on the
 * SRV query is reported, not papered over with the fallback. Targets that do not resolve are
 * left out; if none resolves, the first target's status is reported.
 */
edge_dns_query_t *edge_dns_service(edge_dns_t *dns, const char *service, const char *proto,
                                   const char *domain, uint16_t fallback_port,
                                   edge_dns_service_cb cb, void *arg);

/*
 * The callback will not be called and the query's memory is released. Valid until the callback
 * starts; inside the query's own callback it does nothing. A network query already sent still
 * completes and fills the cache for the next asker.
 */
void edge_dns_cancel(edge_dns_query_t *q);

/* ---------------------------------------------------------------- helpers and metrics */

/*
 * A name we will ask about: 1..253 characters (a trailing dot aside), labels of 1..63 letters,
 * digits, '-' and '_' (SRV owner names), no empty label. Returns 1 or 0.
 */
int edge_dns_name_valid(const char *name);

/*
 * Order n SRV records in place as RFC 2782 asks: ascending priority; within a priority, a
 * weighted random order (zero weights first in the running sum, so they are rarely chosen
 * first), drawing from rand (not NULL): r % (sum of the remaining weights + 1).
 */
void edge_dns_srv_order(edge_dns_srv_t *srv, size_t n, edge_dns_rand_fn rand, void *rand_arg);

typedef struct {
    uint64_t queries;       /* edge_dns_srv/addr/service calls accepted */
    uint64_t sent;          /* network queries, one per (name, type) not in the cache */
    uint64_t cache_hits;    /* (name, type) answered from a fresh positive entry */
    uint64_t negative_hits; /* (name, type) answered from a fresh NXDOMAIN/NODATA entry */
    uint64_t coalesced;     /* (name, type) joined a network query already in flight */
    uint64_t negative;      /* network answers NXDOMAIN or NODATA */
    uint64_t timeouts;      /* network queries that timed out */
    uint64_t failures;      /* other network failures (SERVFAIL, refused, malformed...) */
    uint64_t evictions;     /* fresh entries dropped for room (LRU) */
    uint64_t cache_entries; /* entries now held */
    uint64_t in_flight;     /* network queries now pending */
} edge_dns_stats_t;

void edge_dns_stats(const edge_dns_t *dns, edge_dns_stats_t *out);

#endif
