/*
 * test_dns.c - proxy/dns.c against a real DNS server: dnsmasq, started by the test on a free
 * loopback port with SRV, A and AAAA records of its own (and stopped by its PID at the end),
 * plus a scripted responder on the test's loop for what dnsmasq will not do on request: stay
 * silent (timeouts), send SERVFAIL, a truncated answer, an NXDOMAIN carrying an SOA.
 *
 * Covered: SRV priority and RFC 2782 weighted order (with an injected random source), SRV ".",
 * service discovery with the A/AAAA fallback, A+AAAA merge and family preference, IP literals,
 * NXDOMAIN/NODATA, TTLs and the cache (hits, expiry, negative entries, SOA minimum, LRU), query
 * coalescing, cancellation, timeouts, failures, name validation, and freeing the resolver with
 * queries pending. Every wait is bounded; everything is on 127.0.0.1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dns.h"

#define DNSMASQ "/usr/sbin/dnsmasq"

static char tmpdir[64];
static pid_t dnsmasq_pid;
static char dnsmasq_addr[32]; /* "127.0.0.1:port" */

/* ---------------------------------------------------------------- dnsmasq */

static const char *const records[] = {
    "--local=/test/", /* NXDOMAIN for unknown names under .test, REFUSED elsewhere */
    "--local-ttl=1",  /* every record lives one second unless the test's min_ttl says more */
    "--host-record=ready.test,192.0.2.99",
    /* priorities 5, 10 (weights 60/30/10), 20 */
    "--srv-host=_xmpp-server._tcp.fabrikam.test,z.fabrikam.test,5273,5,0",
    "--srv-host=_xmpp-server._tcp.fabrikam.test,a.fabrikam.test,5269,10,60",
    "--srv-host=_xmpp-server._tcp.fabrikam.test,b.fabrikam.test,5270,10,30",
    "--srv-host=_xmpp-server._tcp.fabrikam.test,c.fabrikam.test,5271,10,10",
    "--srv-host=_xmpp-server._tcp.fabrikam.test,d.fabrikam.test,5272,20,0",
    "--host-record=z.fabrikam.test,192.0.2.26",
    "--host-record=a.fabrikam.test,192.0.2.1,2001:db8::1",
    "--host-record=b.fabrikam.test,192.0.2.2",
    "--host-record=c.fabrikam.test,2001:db8::3",
    "--host-record=d.fabrikam.test,192.0.2.4",
    /* the service is decidedly not available */
    "--srv-host=_xmpp-server._tcp.dot.test",
    "--host-record=dot.test,192.0.2.50",
    /* no SRV: fallback to the domain's own addresses */
    "--host-record=nosrv.test,192.0.2.10,2001:db8::10",
    "--host-record=both.test,192.0.2.20,2001:db8::20",
    "--host-record=both.test,192.0.2.21",
    "--host-record=v4only.test,192.0.2.30",
    "--host-record=ttl.test,192.0.2.40",
    "--host-record=lru1.test,192.0.2.61",
    "--host-record=lru2.test,192.0.2.62",
    "--host-record=lru3.test,192.0.2.63",
};

static uint16_t free_udp_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    close(fd);
    return ntohs(sin.sin_port);
}

/* One blocking A query for ready.test; 1 if dnsmasq answered within 100 ms. */
static int dnsmasq_answers(uint16_t port)
{
    static const unsigned char q[] = {0x12, 0x34, 0x01, 0x00, 0,   1,   0,   0,   0, 0,
                                      0,    0,    5,    'r',  'e', 'a', 'd', 'y', 4, 't',
                                      'e',  's',  't',  0,    0,   1,   0,   1};
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return 0;
    struct timeval tv = {0, 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sin = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    unsigned char r[512];
    ssize_t n = -1;
    if (sendto(fd, q, sizeof q, 0, (struct sockaddr *)&sin, sizeof sin) == (ssize_t)sizeof q)
        n = recv(fd, r, sizeof r, 0);
    close(fd);
    return n >= 12 && r[0] == 0x12 && r[1] == 0x34 && (r[3] & 0x0f) == 0;
}

static pid_t dnsmasq_spawn(uint16_t port)
{
    char portarg[32], logpath[128];
    snprintf(portarg, sizeof portarg, "--port=%u", port);
    snprintf(logpath, sizeof logpath, "%s/dnsmasq.log", tmpdir);
    const char *argv[64] = {DNSMASQ,
                            portarg,
                            "--listen-address=127.0.0.1",
                            "--bind-interfaces",
                            "--no-resolv",
                            "--no-hosts",
                            "--no-daemon",
                            "--conf-file=/dev/null"};
    size_t argc = 8;
    if (geteuid() == 0)
        argv[argc++] = "--user=root";
    for (size_t i = 0; i < sizeof records / sizeof *records; i++)
        argv[argc++] = records[i];
    argv[argc] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* dnsmasq must not outlive a test that crashes */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(DNSMASQ, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static void dnsmasq_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int start_dnsmasq(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/edge-dns-test.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    for (int attempt = 0; attempt < 5; attempt++) {
        uint16_t port = free_udp_port();
        if (!port)
            continue;
        pid_t pid = dnsmasq_spawn(port);
        if (pid < 0)
            return -1;
        for (int i = 0; i < 50; i++) { /* up to about 5 s */
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                pid = 0; /* exited: port taken (TCP) or bad arguments; try again */
                break;
            }
            if (dnsmasq_answers(port)) {
                dnsmasq_pid = pid;
                snprintf(dnsmasq_addr, sizeof dnsmasq_addr, "127.0.0.1:%u", port);
                return 0;
            }
            usleep(20000);
        }
        dnsmasq_stop(pid);
    }
    fprintf(stderr, "dnsmasq did not start; see %s/dnsmasq.log\n", tmpdir);
    return -1;
}

static int stop_dnsmasq(void **state)
{
    (void)state;
    dnsmasq_stop(dnsmasq_pid);
    dnsmasq_pid = 0;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- a scripted responder */

typedef enum { R_SILENT, R_NXSOA, R_SERVFAIL, R_MALFORMED } rmode_t;

static uv_loop_t loop;
static uv_udp_t resp;
static char resp_addr[32];
static rmode_t rmode;
static uint32_t soa_ttl, soa_min;
static int resp_queries;

static void resp_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    static char buf[2048];
    (void)h;
    (void)size;
    *b = uv_buf_init(buf, sizeof buf);
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static void resp_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *b, const struct sockaddr *from,
                      unsigned flags)
{
    (void)flags;
    if (n < 12 || !from)
        return;
    resp_queries++;
    if (rmode == R_SILENT)
        return;
    const unsigned char *m = (const unsigned char *)b->base;
    size_t off = 12;
    while (off < (size_t)n && m[off])
        off += 1u + m[off];
    off += 5;
    if (off > (size_t)n || off > 256)
        return;
    unsigned char out[512];
    memcpy(out, m, off);
    memset(out + 4, 0, 8);
    out[2] = 0x81; /* response, recursion desired */
    out[5] = 1;    /* one question */
    size_t len = off;
    if (rmode == R_SERVFAIL) {
        out[3] = 0x82;
    } else if (rmode == R_NXSOA) {
        static const unsigned char soa[] = {0xc0, 0x0c, 0, 6, 0, 1, 0, 0, 0, 0, 0, 22, 0, 0};
        out[3] = 0x83;
        out[9] = 1; /* authority: one SOA */
        memcpy(out + len, soa, sizeof soa);
        put32(out + len + 6, soa_ttl);
        len += sizeof soa;
        memset(out + len, 0, 20);
        put32(out + len + 16, soa_min);
        len += 20;
    } else {
        /* one A record whose data stops after 2 of its 4 bytes */
        static const unsigned char bad[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0};
        out[3] = 0x80;
        out[7] = 1;
        memcpy(out + len, bad, sizeof bad);
        len += sizeof bad;
    }
    uv_buf_t ob = uv_buf_init((char *)out, (unsigned)len);
    uv_udp_try_send(u, &ob, 1, from);
}

static int setup_loop(void **state)
{
    (void)state;
    if (uv_loop_init(&loop) != 0 || uv_udp_init(&loop, &resp) != 0)
        return -1;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int len = sizeof sin;
    if (uv_udp_bind(&resp, (struct sockaddr *)&sin, 0) != 0 ||
        uv_udp_getsockname(&resp, (struct sockaddr *)&sin, &len) != 0 ||
        uv_udp_recv_start(&resp, resp_alloc, resp_recv) != 0)
        return -1;
    snprintf(resp_addr, sizeof resp_addr, "127.0.0.1:%u", ntohs(sin.sin_port));
    rmode = R_SILENT;
    resp_queries = 0;
    return 0;
}

/*
 * Resolvers a test made and has not freed. A failed assertion leaves the test early: teardown
 * frees what is left, with callbacks muted (their results point into the abandoned test's stack),
 * so one failure does not take the next tests down with it.
 */
static edge_dns_t *live[4];
static int muted;
static void drop(edge_dns_t *dns);

/* Every handle the resolver opened must be closed once its free has run through the loop. */
static int teardown_loop(void **state)
{
    (void)state;
    muted = 1;
    for (size_t i = 0; i < sizeof live / sizeof *live; i++)
        if (live[i])
            drop(live[i]);
    muted = 0;
    uv_close((uv_handle_t *)&resp, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    return uv_loop_close(&loop) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- results and waiting */

#define MAXR 16

typedef struct {
    int calls;
    int status;
    size_t n;
    edge_dns_query_t *q;
    char item[MAXR][96]; /* "target:port p/w", "addr", or "target addr" */
    int reentered;
} res_t;

static int in_api;      /* set while the test is inside an edge_dns_* call */
static int total_calls; /* callbacks of any query */

static void forget(edge_dns_t *dns)
{
    for (size_t i = 0; i < sizeof live / sizeof *live; i++)
        if (live[i] == dns)
            live[i] = NULL;
}

static void drop(edge_dns_t *dns)
{
    forget(dns);
    edge_dns_free(dns);
}

static void fmt_addr(const struct sockaddr_storage *ss, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
        snprintf(out, len, "%s:%u", ip, ntohs(sin->sin_port));
    } else {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip);
        snprintf(out, len, "[%s]:%u", ip, ntohs(sin6->sin6_port));
    }
}

static int note(res_t *r, edge_dns_query_t *q, int status, size_t n)
{
    if (muted)
        return 0;
    r->calls++;
    total_calls++;
    r->status = status;
    r->n = n;
    r->q = q;
    r->reentered |= in_api;
    return 1;
}

static void srv_cb(edge_dns_query_t *q, int status, const edge_dns_srv_t *s, size_t n, void *arg)
{
    res_t *r = arg;
    if (!note(r, q, status, n))
        return;
    for (size_t i = 0; i < n && i < MAXR; i++)
        snprintf(r->item[i], sizeof r->item[i], "%s:%u %u/%u", s[i].target, s[i].port,
                 s[i].priority, s[i].weight);
}

static void addr_cb(edge_dns_query_t *q, int status, const struct sockaddr_storage *a, size_t n,
                    void *arg)
{
    res_t *r = arg;
    if (!note(r, q, status, n))
        return;
    for (size_t i = 0; i < n && i < MAXR; i++)
        fmt_addr(&a[i], r->item[i], sizeof r->item[i]);
}

static void service_cb(edge_dns_query_t *q, int status, const edge_dns_target_t *t, size_t n,
                       void *arg)
{
    res_t *r = arg;
    if (!note(r, q, status, n))
        return;
    for (size_t i = 0; i < n && i < MAXR; i++) {
        char a[64];
        fmt_addr(&t[i].addr, a, sizeof a);
        snprintf(r->item[i], sizeof r->item[i], "%s %s%s", t[i].target, a,
                 t[i].from_srv ? "" : " fallback");
        assert_int_equal(t[i].port, ntohs(((const struct sockaddr_in *)&t[i].addr)->sin_port));
        assert_int_equal(t[i].addrlen, t[i].addr.ss_family == AF_INET6
                                           ? sizeof(struct sockaddr_in6)
                                           : sizeof(struct sockaddr_in));
    }
}

static int timed_out;

static void guard_cb(uv_timer_t *t)
{
    (void)t;
    timed_out = 1;
}

/* Run the loop until *counter reaches want or ms pass. Returns 1 if it was reached. */
static int run_until(const int *counter, int want, uint64_t ms)
{
    uv_timer_t guard;
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, guard_cb, ms, 0);
    timed_out = 0;
    while (*counter < want && !timed_out)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return *counter >= want;
}

static void run_for(uint64_t ms)
{
    static const int never = 0;
    run_until(&never, 1, ms);
}

static edge_dns_stats_t stats(edge_dns_t *dns)
{
    edge_dns_stats_t st;
    edge_dns_stats(dns, &st);
    return st;
}

static edge_dns_t *resolver(const char *server, edge_dns_opts_t *o)
{
    static const char *servers[1];
    edge_dns_opts_t def;
    if (!o) {
        edge_dns_opts_init(&def);
        def.min_ttl = 30; /* dnsmasq says 1 s; tests that watch expiry set 0 */
        o = &def;
    }
    servers[0] = server;
    o->servers = servers;
    o->nservers = 1;
    char err[256] = "";
    edge_dns_t *dns = edge_dns_new(&loop, o, err, sizeof err);
    if (!dns)
        fail_msg("edge_dns_new: %s", err);
    for (size_t i = 0; i < sizeof live / sizeof *live; i++) {
        if (!live[i]) {
            live[i] = dns;
            break;
        }
    }
    return dns;
}

/* Start a query with in_api set, so a callback from inside the call is caught. */
static edge_dns_query_t *called(edge_dns_query_t *q)
{
    in_api = 0;
    return q;
}

#define CALL(expr) (in_api = 1, called(expr))

static void wait_res(res_t *r, uint64_t ms)
{
    if (!run_until(&r->calls, 1, ms))
        fail_msg("no callback within %llu ms", (unsigned long long)ms);
    assert_int_equal(r->calls, 1);
    assert_false(r->reentered);
}

/* ---------------------------------------------------------------- names and options */

static void test_name_validation(void **state)
{
    (void)state;
    assert_true(edge_dns_name_valid("fabrikam.test"));
    assert_true(edge_dns_name_valid("fabrikam.test."));
    assert_true(edge_dns_name_valid("_xmpp-server._tcp.Fabrikam.TEST"));
    assert_true(edge_dns_name_valid("localhost"));
    assert_false(edge_dns_name_valid(""));
    assert_false(edge_dns_name_valid("."));
    assert_false(edge_dns_name_valid(NULL));
    assert_false(edge_dns_name_valid("a..b"));
    assert_false(edge_dns_name_valid(".a"));
    assert_false(edge_dns_name_valid("a.b.."));
    assert_false(edge_dns_name_valid("sp ace.test"));
    assert_false(edge_dns_name_valid("semi;colon.test"));
    assert_false(edge_dns_name_valid("nul\x01.test"));
    assert_false(edge_dns_name_valid("caf\xc3\xa9.test"));

    char label[80], name[300];
    memset(label, 'a', 63);
    label[63] = '\0';
    snprintf(name, sizeof name, "%s.test", label);
    assert_true(edge_dns_name_valid(name));
    memset(label, 'a', 64);
    label[64] = '\0';
    snprintf(name, sizeof name, "%s.test", label);
    assert_false(edge_dns_name_valid(name));
    /* 253 characters is the limit, 254 with a trailing dot */
    memset(name, 'a', 253);
    for (int i = 50; i < 253; i += 50)
        name[i] = '.';
    name[253] = '\0';
    assert_true(edge_dns_name_valid(name));
    name[253] = '.', name[254] = '\0';
    assert_true(edge_dns_name_valid(name));
    name[253] = 'a';
    assert_false(edge_dns_name_valid(name));

    /* A bad name is reported through the callback, from the loop, and nothing is sent. */
    edge_dns_t *dns = resolver(dnsmasq_addr, NULL);
    res_t r1 = {0}, r2 = {0}, r3 = {0}, r4 = {0};
    assert_non_null(CALL(edge_dns_srv(dns, "bad name.test", srv_cb, &r1)));
    assert_non_null(CALL(edge_dns_addr(dns, "a..test", 5060, EDGE_DNS_PREFER_V6, addr_cb, &r2)));
    assert_non_null(
        CALL(edge_dns_service(dns, "xmpp.server", "tcp", "fabrikam.test", 5269, service_cb, &r3)));
    assert_non_null(
        CALL(edge_dns_service(dns, "xmpp-server", "tcp", "-/-", 5269, service_cb, &r4)));
    assert_int_equal(total_calls, 0);
    wait_res(&r1, 1000);
    wait_res(&r2, 1000);
    wait_res(&r3, 1000);
    wait_res(&r4, 1000);
    assert_int_equal(r1.status, EDGE_DNS_E_BADNAME);
    assert_int_equal(r2.status, EDGE_DNS_E_BADNAME);
    assert_int_equal(r3.status, EDGE_DNS_E_BADNAME);
    assert_int_equal(r4.status, EDGE_DNS_E_BADNAME);
    assert_int_equal(stats(dns).sent, 0);
    assert_string_equal(edge_dns_strerror(EDGE_DNS_E_BADNAME), "invalid domain name");
    drop(dns);
}

static void test_options(void **state)
{
    (void)state;
    static const char *const bad[] = {"1.2.3",  "127.0.0.1:0", "127.0.0.1:70000", "[::1",
                                      "[::1]x", "host.test",   "127.0.0.1:",      "[127.0.0.1]:53"};
    static const char *const good[] = {"127.0.0.1", "127.0.0.1:5353", "::1", "[::1]:5353",
                                       "[2001:db8::53]"};
    char err[256];
    edge_dns_opts_t o;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        edge_dns_opts_init(&o);
        o.servers = &bad[i];
        o.nservers = 1;
        err[0] = '\0';
        edge_dns_t *dns = edge_dns_new(&loop, &o, err, sizeof err);
        if (dns)
            fail_msg("resolver '%s' accepted", bad[i]);
        assert_non_null(strstr(err, bad[i]));
    }
    edge_dns_opts_init(&o);
    o.servers = good;
    o.nservers = sizeof good / sizeof *good;
    edge_dns_t *dns = edge_dns_new(&loop, &o, err, sizeof err);
    assert_non_null(dns);
    edge_dns_free(dns);

    edge_dns_opts_init(&o);
    o.min_ttl = 100;
    o.max_ttl = 10;
    assert_null(edge_dns_new(&loop, &o, err, sizeof err));
    assert_non_null(strstr(err, "min_ttl"));

    /* the defaults, and the system's resolvers */
    edge_dns_opts_init(&o);
    assert_int_equal(o.timeout_ms, EDGE_DNS_DEFAULT_TIMEOUT_MS);
    assert_int_equal(o.tries, EDGE_DNS_DEFAULT_TRIES);
    assert_int_equal(o.cache_size, EDGE_DNS_DEFAULT_CACHE_SIZE);
    assert_int_equal(o.neg_ttl, EDGE_DNS_DEFAULT_NEG_TTL);
    dns = edge_dns_new(&loop, NULL, err, sizeof err);
    assert_non_null(dns);
    edge_dns_free(dns);
}

/* ---------------------------------------------------------------- SRV */

static void test_srv_priorities(void **state)
{
    (void)state;
    edge_dns_t *dns = resolver(dnsmasq_addr, NULL);
    res_t r = {0};
    assert_non_null(CALL(edge_dns_srv(dns, "_xmpp-server._tcp.fabrikam.test", srv_cb, &r)));
    assert_int_equal(r.calls, 0);
    wait_res(&r, 3000);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n, 5);
    assert_string_equal(r.item[0], "z.fabrikam.test:5273 5/0");
    for (int i = 1; i <= 3; i++)
        assert_non_null(strstr(r.item[i], " 10/"));
    assert_string_equal(r.item[4], "d.fabrikam.test:5272 20/0");
    edge_dns_stats_t st = stats(dns);
    assert_int_equal(st.sent, 1);
    assert_int_equal(st.queries, 1);
    drop(dns);
}

static uint32_t scripted_rand(void *arg)
{
    const uint32_t **p = arg;
    return *(*p)++;
}

/* The weighted draw itself, with chosen random numbers. */
static void test_srv_order_algorithm(void **state)
{
    (void)state;
    edge_dns_srv_t s[6];
    const uint32_t *next;
    static const uint32_t zeros[] = {0, 0, 0, 0, 0};
    static const uint32_t highs[] = {100, 31, 0, 0, 0};
    static const uint32_t last[] = {1, 0, 0, 0, 0};

    edge_dns_srv_t base[] = {{"a", 10, 60, 1}, {"b", 10, 30, 2}, {"c", 10, 10, 3}, {"x", 1, 0, 4}};
    /* r = 0 takes the first of the running sums: c (10), then b (30 of 40) */
    memcpy(s, base, sizeof base);
    next = zeros;
    edge_dns_srv_order(s, 4, scripted_rand, &next);
    assert_string_equal(s[0].target, "x");
    assert_string_equal(s[1].target, "c");
    assert_string_equal(s[2].target, "b");
    assert_string_equal(s[3].target, "a");
    /* r = 100 of 0..100: a (running sums 10, 40, 100); then 31 of 0..40: b (10, 40) */
    memcpy(s, base, sizeof base);
    next = highs;
    edge_dns_srv_order(s, 4, scripted_rand, &next);
    assert_string_equal(s[1].target, "a");
    assert_string_equal(s[2].target, "b");
    assert_string_equal(s[3].target, "c");
    /* zero weights come first in the sums: chosen only by r = 0 */
    edge_dns_srv_t zw[] = {{"one", 0, 1, 1}, {"z1", 0, 0, 1}, {"z0", 0, 0, 1}};
    next = last;
    edge_dns_srv_order(zw, 3, scripted_rand, &next);
    assert_string_equal(zw[0].target, "one");
    assert_string_equal(zw[1].target, "z0");
    assert_string_equal(zw[2].target, "z1");
}

static uint32_t lcg_rand(void *arg)
{
    uint64_t *s = arg;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

typedef struct {
    int first[3]; /* a, b, c first within priority 10 */
    int calls, bad;
} weights_t;

static void weights_cb(edge_dns_query_t *q, int status, const edge_dns_srv_t *s, size_t n,
                       void *arg)
{
    (void)q;
    weights_t *w = arg;
    if (muted)
        return;
    w->calls++;
    total_calls++;
    if (status != 0 || n != 5 || s[1].priority != 10) {
        w->bad++;
        return;
    }
    w->first[s[1].target[0] - 'a']++;
}

/* Weights spread the first choice over many queries, each ordered afresh from the cache. */
static void test_srv_weights(void **state)
{
    (void)state;
    enum { DRAWS = 3000 };
    uint64_t seed = 42;
    edge_dns_opts_t o;
    edge_dns_opts_init(&o);
    o.min_ttl = 60;
    o.rand = lcg_rand;
    o.rand_arg = &seed;
    edge_dns_t *dns = resolver(dnsmasq_addr, &o);
    weights_t w = {0};
    assert_non_null(edge_dns_srv(dns, "_xmpp-server._tcp.fabrikam.test", weights_cb, &w));
    assert_true(run_until(&w.calls, 1, 3000));
    for (int i = 1; i < DRAWS; i++)
        assert_non_null(edge_dns_srv(dns, "_xmpp-server._tcp.fabrikam.test", weights_cb, &w));
    assert_true(run_until(&w.calls, DRAWS, 5000));
    assert_int_equal(w.bad, 0);
    /* expected with r in 0..100 over sums 10, 40, 100: c 11/101, b 30/101, a 60/101 */
    double a = (double)w.first[0] / DRAWS, b = (double)w.first[1] / DRAWS,
           c = (double)w.first[2] / DRAWS;
    print_message("first of priority 10 over %d draws: a %.3f b %.3f c %.3f\n", DRAWS, a, b, c);
    assert_true(a > 0.55 && a < 0.64);
    assert_true(b > 0.26 && b < 0.34);
    assert_true(c > 0.07 && c < 0.15);
    edge_dns_stats_t st = stats(dns);
    assert_int_equal(st.sent, 1);
    assert_int_equal(st.cache_hits, DRAWS - 1);
    drop(dns);
}

static void test_srv_dot_target(void **state)
{
    (void)state;
    edge_dns_t *dns = resolver(dnsmasq_addr, NULL);
    res_t r = {0}, s = {0};
    assert_non_null(CALL(edge_dns_srv(dns, "_xmpp-server._tcp.dot.test", srv_cb, &r)));
    wait_res(&r, 3000);
    assert_int_equal(r.status, EDGE_DNS_E_UNAVAILABLE);
    assert_int_equal(r.n, 0);
    /* the service is not offered: no A/AAAA fallback, though dot.test has an address */
    assert_non_null(
        CALL(edge_dns_service(dns, "xmpp-server", "tcp", "dot.test", 5269, service_cb, &s)));
    wait_res(&s, 3000);
    assert_int_equal(s.status, EDGE_DNS_E_UNAVAILABLE);
    edge_dns_stats_t st = stats(dns);
    assert_int_equal(st.sent, 1);
    assert_int_equal(st.cache_hits, 1);
    drop(dns);
}

/* ---------------------------------------------------------------- service discovery */

static void test_service_srv(void **state)
{
    (void)state;
    edge_dns_t *dns = resolver(dnsmasq_addr, NULL);
    res_t r = {0};
    assert_non_null(
        CALL(edge_dns_service(dns, "xmpp-server", "tcp", "Fabrikam.Test.", 5269, service_cb, &r)));
    assert_int_equal(r.calls, 0);
    wait_res(&r, 3000);
    assert_int_equal(r.status, 0);
    /* z (prio 5), then a/b/c in weighted order (a has AAAA and A), then d (prio 20) */
    assert_int_equal(r.n, 6);
    assert_string_equal(r.item[0], "z.fabrikam.test 192.0.2.26:5273");
    assert_string_equal(r.item[5], "d.fabrikam.test 192.0.2.4:5272");
    int seen_a6 = -1, seen_a4 = -1, seen_b = 0, seen_c = 0;
    for (int i = 1; i <= 4; i++) {
        if (strcmp(r.item[i], "a.fabrikam.test [2001:db8::1]:5269") == 0)
            seen_a6 = i;
        else if (strcmp(r.item[i], "a.fabrikam.test 192.0.2.1:5269") == 0)
            seen_a4 = i;
        else if (strcmp(r.item[i], "b.fabrikam.test 192.0.2.2:5270") == 0)
            seen_b++;
        else if (strcmp(r.item[i], "c.fabrikam.test [2001:db8::3]:5271") == 0)
            seen_c++;
        else
            fail_msg("unexpected target %s", r.item[i]);
    }
    assert_true(seen_a6 > 0 && seen_a4 == seen_a6 + 1); /* IPv6 first, same target together */
    assert_int_equal(seen_b, 1);
    assert_int_equal(seen_c, 1);
    /* one SRV query, then AAAA and A for each of the five targets */
    assert_int_equal(stats(dns).sent, 11);
    drop(dns);
}

static void test_service_fallback(void **state)
{
    (void)state;
    edge_dns_t *dns = resolver(dnsmasq_addr, NULL);
    res_t r = {0}, nx = {0};
    assert_non_null(
        CALL(edge_dns_service(dns, "xmpp-server", "tcp", "nosrv.test", 5269, service_cb, &r)));
    assert_non_null(
        CALL(edge_dns_service(dns, "xmpp-server", "tcp", "nx.test", 5269, service_cb, &nx)));
    wait_res(&r, 3000);
    wait_res(&nx, 3000);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.item[0], "nosrv.test [2001:db8::10]:5269 fallback");
    assert_string_equal(r.item[1], "nosrv.test 192.0.2.10:5269 fallback");
    assert_int_equal(nx.status, EDGE_DNS_E_NXDOMAIN);
    drop(dns);
}

/* ---------------------------------------------------------------- addresses */

static void test_addr_merge(void **state)
{
    (void)state;
    edge_dns_t *dns = resolver(dnsmasq_addr, NULL);
    res_t v6 = {0}, v4 = {0}, only4 = {0}, only6 = {0}, mixed = {0};
    assert_non_null(CALL(edge_dns_addr(dns, "both.test", 5061, EDGE_DNS_PREFER_V6, addr_cb, &v6)));
    assert_non_null(CALL(edge_dns_addr(dns, "both.test", 5062, EDGE_DNS_PREFER_V4, addr_cb, &v4)));
    assert_non_null(
        CALL(edge_dns_addr(dns, "BOTH.test.", 5063, EDGE_DNS_ONLY_V4, addr_cb, &only4)));
    assert_non_null(
        CALL(edge_dns_addr(dns, "v4only.test", 5064, EDGE_DNS_ONLY_V6, addr_cb, &only6)));
    assert_non_null(
        CALL(edge_dns_addr(dns, "v4only.test", 5065, EDGE_DNS_PREFER_V6, addr_cb, &mixed)));
    wait_res(&v6, 3000);
    wait_res(&v4, 3000);
    wait_res(&only4, 3000);
    wait_res(&only6, 3000);
    wait_res(&mixed, 3000);

    assert_int_equal(v6.status, 0);
    assert_int_equal(v6.n, 3);
    assert_string_equal(v6.item[0], "[2001:db8::20]:5061");
    assert_true(strstr(v6.item[1], "192.0.2.2") && strstr(v6.item[2], "192.0.2.2"));
    assert_int_equal(v4.n, 3);
    assert_non_null(strstr(v4.item[0], "192.0.2.2"));
    assert_string_equal(v4.item[2], "[2001:db8::20]:5062");
    assert_int_equal(only4.n, 2);
    assert_true(strstr(only4.item[0], ":5063") && strstr(only4.item[1], ":5063"));
    assert_int_equal(only6.status, EDGE_DNS_E_NODATA);
    assert_int_equal(mixed.status, 0);
    assert_int_equal(mixed.n, 1);
    assert_string_equal(mixed.item[0], "192.0.2.30:5065");
    /* AAAA and A of both.test, AAAA and A of v4only.test: four queries; the rest coalesced or
     * cached, whatever the case of the name */
    edge_dns_stats_t st = stats(dns);
    assert_int_equal(st.sent, 4);
    assert_int_equal(st.coalesced + st.cache_hits + st.negative_hits, 4);
    drop(dns);
}

static void test_ip_literals(void **state)
{
    (void)state;
    edge_dns_t *dns = resolver(dnsmasq_addr, NULL);
    res_t a = {0}, b = {0}, c = {0}, d = {0}, e = {0};
    assert_non_null(CALL(edge_dns_addr(dns, "192.0.2.7", 5060, EDGE_DNS_PREFER_V6, addr_cb, &a)));
    assert_non_null(CALL(edge_dns_addr(dns, "2001:db8::7", 5061, EDGE_DNS_PREFER_V4, addr_cb, &b)));
    assert_non_null(CALL(edge_dns_addr(dns, "[2001:db8::8]", 5062, EDGE_DNS_ONLY_V6, addr_cb, &c)));
    assert_non_null(CALL(edge_dns_addr(dns, "192.0.2.9", 5063, EDGE_DNS_ONLY_V6, addr_cb, &d)));
    assert_non_null(CALL(edge_dns_addr(dns, "[192.0.2.9]", 5064, EDGE_DNS_PREFER_V6, addr_cb, &e)));
    assert_int_equal(total_calls, 0); /* never from inside the call */
    wait_res(&a, 1000);
    wait_res(&b, 1000);
    wait_res(&c, 1000);
    wait_res(&d, 1000);
    wait_res(&e, 1000);
    assert_int_equal(a.status, 0);
    assert_string_equal(a.item[0], "192.0.2.7:5060");
    assert_string_equal(b.item[0], "[2001:db8::7]:5061");
    assert_string_equal(c.item[0], "[2001:db8::8]:5062");
    assert_int_equal(d.status, EDGE_DNS_E_NODATA);
    assert_int_equal(e.status, EDGE_DNS_E_BADNAME);
    assert_int_equal(stats(dns).sent, 0);
    drop(dns);
}

static void test_nxdomain_nodata(void **state)
{
    (void)state;
    edge_dns_t *dns = resolver(dnsmasq_addr, NULL);
    res_t nx = {0}, nodata = {0}, refused = {0};
    assert_non_null(CALL(edge_dns_addr(dns, "nx.test", 1, EDGE_DNS_PREFER_V6, addr_cb, &nx)));
    assert_non_null(CALL(edge_dns_srv(dns, "a.fabrikam.test", srv_cb, &nodata)));
    /* outside the local domain dnsmasq, with no upstream, refuses */
    assert_non_null(CALL(edge_dns_srv(dns, "_sip._tcp.example.com", srv_cb, &refused)));
    wait_res(&nx, 3000);
    wait_res(&nodata, 3000);
    wait_res(&refused, 8000);
    assert_int_equal(nx.status, EDGE_DNS_E_NXDOMAIN);
    assert_int_equal(nodata.status, EDGE_DNS_E_NODATA);
    assert_int_equal(refused.status, EDGE_DNS_E_SERVFAIL);
    edge_dns_stats_t st = stats(dns);
    assert_int_equal(st.negative, 3); /* AAAA and A of nx.test, SRV of a.fabrikam.test */
    assert_int_equal(st.failures, 1);
    drop(dns);
}

/* ---------------------------------------------------------------- cache */

static void test_ttl_honoured(void **state)
{
    (void)state;
    edge_dns_opts_t o;
    edge_dns_opts_init(&o);
    o.min_ttl = 0; /* dnsmasq's TTL of 1 s as it is */
    edge_dns_t *dns = resolver(dnsmasq_addr, &o);
    res_t r1 = {0}, r2 = {0}, r3 = {0};
    edge_dns_addr(dns, "ttl.test", 80, EDGE_DNS_ONLY_V4, addr_cb, &r1);
    wait_res(&r1, 3000);
    assert_int_equal(r1.status, 0);
    assert_int_equal(stats(dns).sent, 1);

    edge_dns_addr(dns, "ttl.test", 81, EDGE_DNS_ONLY_V4, addr_cb, &r2);
    wait_res(&r2, 1000);
    assert_string_equal(r2.item[0], "192.0.2.40:81");
    edge_dns_stats_t st = stats(dns);
    assert_int_equal(st.sent, 1);
    assert_int_equal(st.cache_hits, 1);
    assert_int_equal(st.cache_entries, 1);

    run_for(1100); /* past the TTL */
    edge_dns_addr(dns, "ttl.test", 82, EDGE_DNS_ONLY_V4, addr_cb, &r3);
    wait_res(&r3, 3000);
    assert_string_equal(r3.item[0], "192.0.2.40:82");
    st = stats(dns);
    assert_int_equal(st.sent, 2);
    assert_int_equal(st.cache_hits, 1);
    drop(dns);
}

static void test_ttl_clamps(void **state)
{
    (void)state;
    edge_dns_opts_t o;
    edge_dns_opts_init(&o);
    o.min_ttl = 3; /* a TTL of 1 s is kept 3 s */
    o.max_ttl = 3;
    edge_dns_t *dns = resolver(dnsmasq_addr, &o);
    res_t r[3] = {{0}};
    edge_dns_addr(dns, "ttl.test", 80, EDGE_DNS_ONLY_V4, addr_cb, &r[0]);
    wait_res(&r[0], 3000);
    run_for(1200);
    edge_dns_addr(dns, "ttl.test", 80, EDGE_DNS_ONLY_V4, addr_cb, &r[1]);
    wait_res(&r[1], 1000);
    assert_int_equal(stats(dns).sent, 1);
    assert_int_equal(stats(dns).cache_hits, 1);
    drop(dns);
}

static void test_negative_cache(void **state)
{
    (void)state;
    edge_dns_opts_t o;
    edge_dns_opts_init(&o);
    o.neg_ttl = 1;
    edge_dns_t *dns = resolver(dnsmasq_addr, &o);
    res_t r[3] = {{0}};
    edge_dns_srv(dns, "_xmpp-server._tcp.nx.test", srv_cb, &r[0]);
    wait_res(&r[0], 3000);
    edge_dns_srv(dns, "_xmpp-server._tcp.nx.test", srv_cb, &r[1]);
    wait_res(&r[1], 1000);
    assert_int_equal(r[0].status, EDGE_DNS_E_NXDOMAIN);
    assert_int_equal(r[1].status, EDGE_DNS_E_NXDOMAIN);
    edge_dns_stats_t st = stats(dns);
    assert_int_equal(st.sent, 1);
    assert_int_equal(st.negative_hits, 1);
    run_for(1100);
    edge_dns_srv(dns, "_xmpp-server._tcp.nx.test", srv_cb, &r[2]);
    wait_res(&r[2], 3000);
    assert_int_equal(r[2].status, EDGE_DNS_E_NXDOMAIN);
    assert_int_equal(stats(dns).sent, 2);
    drop(dns);

    /* neg_ttl 0: no negative caching at all */
    o.neg_ttl = 0;
    dns = resolver(dnsmasq_addr, &o);
    res_t s[2] = {{0}};
    edge_dns_srv(dns, "_xmpp-server._tcp.nx.test", srv_cb, &s[0]);
    wait_res(&s[0], 3000);
    edge_dns_srv(dns, "_xmpp-server._tcp.nx.test", srv_cb, &s[1]);
    wait_res(&s[1], 3000);
    assert_int_equal(stats(dns).sent, 2);
    assert_int_equal(stats(dns).negative_hits, 0);
    drop(dns);
}

/* An SOA in the negative answer shortens the negative TTL (RFC 2308), never lengthens it. */
static void test_negative_soa(void **state)
{
    (void)state;
    edge_dns_opts_t o;
    edge_dns_opts_init(&o);
    o.neg_ttl = 60;
    o.timeout_ms = 500;
    o.tries = 1;
    edge_dns_t *dns = resolver(resp_addr, &o);
    rmode = R_NXSOA;
    soa_ttl = 300;
    soa_min = 1;
    res_t r[3] = {{0}};
    edge_dns_addr(dns, "gone.test", 1, EDGE_DNS_ONLY_V4, addr_cb, &r[0]);
    wait_res(&r[0], 3000);
    assert_int_equal(r[0].status, EDGE_DNS_E_NXDOMAIN);
    edge_dns_addr(dns, "gone.test", 1, EDGE_DNS_ONLY_V4, addr_cb, &r[1]);
    wait_res(&r[1], 1000);
    assert_int_equal(stats(dns).negative_hits, 1);
    assert_int_equal(resp_queries, 1);
    run_for(1100);
    edge_dns_addr(dns, "gone.test", 1, EDGE_DNS_ONLY_V4, addr_cb, &r[2]);
    wait_res(&r[2], 3000);
    assert_int_equal(resp_queries, 2);

    /* SOA TTL 0: not cached */
    soa_ttl = 0;
    soa_min = 600;
    res_t s[2] = {{0}};
    edge_dns_addr(dns, "gone2.test", 1, EDGE_DNS_ONLY_V4, addr_cb, &s[0]);
    wait_res(&s[0], 3000);
    edge_dns_addr(dns, "gone2.test", 1, EDGE_DNS_ONLY_V4, addr_cb, &s[1]);
    wait_res(&s[1], 3000);
    assert_int_equal(s[1].status, EDGE_DNS_E_NXDOMAIN);
    assert_int_equal(resp_queries, 4);
    drop(dns);
}

static void test_lru_eviction(void **state)
{
    (void)state;
    edge_dns_opts_t o;
    edge_dns_opts_init(&o);
    o.min_ttl = 60;
    o.cache_size = 2;
    edge_dns_t *dns = resolver(dnsmasq_addr, &o);
    res_t r[5] = {{0}};
    const char *names[] = {"lru1.test", "lru2.test", "lru3.test", "lru1.test", "lru3.test"};
    for (int i = 0; i < 5; i++) {
        edge_dns_addr(dns, names[i], 1, EDGE_DNS_ONLY_V4, addr_cb, &r[i]);
        wait_res(&r[i], 3000);
        assert_int_equal(r[i].status, 0);
    }
    /* lru3 pushed lru1 out; lru1 coming back pushed lru2 out; lru3 was still there */
    edge_dns_stats_t st = stats(dns);
    assert_int_equal(st.sent, 4);
    assert_int_equal(st.cache_hits, 1);
    assert_int_equal(st.evictions, 2);
    assert_int_equal(st.cache_entries, 2);
    drop(dns);

    /* cache_size 0: nothing kept, identical queries in flight still coalesced */
    o.cache_size = 0;
    dns = resolver(dnsmasq_addr, &o);
    res_t s[3] = {{0}};
    edge_dns_addr(dns, "lru1.test", 1, EDGE_DNS_ONLY_V4, addr_cb, &s[0]);
    edge_dns_addr(dns, "lru1.test", 1, EDGE_DNS_ONLY_V4, addr_cb, &s[1]);
    wait_res(&s[0], 3000);
    wait_res(&s[1], 3000);
    edge_dns_addr(dns, "lru1.test", 1, EDGE_DNS_ONLY_V4, addr_cb, &s[2]);
    wait_res(&s[2], 3000);
    st = stats(dns);
    assert_int_equal(st.sent, 2);
    assert_int_equal(st.coalesced, 1);
    assert_int_equal(st.cache_entries, 0);
    drop(dns);
}

static void test_coalescing(void **state)
{
    (void)state;
    edge_dns_t *dns = resolver(dnsmasq_addr, NULL);
    res_t s[3] = {{0}}, a[2] = {{0}};
    for (int i = 0; i < 3; i++)
        edge_dns_srv(dns, "_xmpp-server._tcp.fabrikam.test", srv_cb, &s[i]);
    for (int i = 0; i < 2; i++)
        edge_dns_addr(dns, "both.test", 443, EDGE_DNS_PREFER_V6, addr_cb, &a[i]);
    edge_dns_stats_t st = stats(dns);
    assert_int_equal(st.sent, 3); /* SRV, AAAA, A */
    assert_int_equal(st.coalesced, 4);
    assert_int_equal(st.in_flight, 3);
    assert_true(run_until(&total_calls, 5, 3000));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s[i].calls, 1);
        assert_int_equal(s[i].n, 5);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(a[i].n, 3);
        assert_string_equal(a[i].item[0], a[0].item[0]);
    }
    st = stats(dns);
    assert_int_equal(st.sent, 3);
    assert_int_equal(st.in_flight, 0);
    drop(dns);
}

/* ---------------------------------------------------------------- cancel, timeouts, failures */

static int in_flight_zero(edge_dns_t *dns, uint64_t ms)
{
    for (uint64_t t = 0; t < ms; t += 10) {
        if (stats(dns).in_flight == 0)
            return 1;
        run_for(10);
    }
    return stats(dns).in_flight == 0;
}

static void test_cancel(void **state)
{
    (void)state;
    edge_dns_t *dns = resolver(dnsmasq_addr, NULL);
    res_t r = {0}, again = {0}, svc = {0}, lit = {0};
    edge_dns_query_t *q = edge_dns_srv(dns, "_xmpp-server._tcp.fabrikam.test", srv_cb, &r);
    assert_non_null(q);
    edge_dns_cancel(q);
    assert_true(in_flight_zero(dns, 3000));
    run_for(50);
    assert_int_equal(r.calls, 0);
    /* the answer that came for the cancelled query is in the cache */
    edge_dns_srv(dns, "_xmpp-server._tcp.fabrikam.test", srv_cb, &again);
    wait_res(&again, 1000);
    assert_int_equal(again.n, 5);
    assert_int_equal(stats(dns).sent, 1);
    assert_int_equal(stats(dns).cache_hits, 1);

    /* a service cancelled while its address queries are out */
    q = edge_dns_service(dns, "xmpp-server", "tcp", "nosrv.test", 5269, service_cb, &svc);
    for (int i = 0; i < 300 && stats(dns).sent < 3; i++)
        uv_run(&loop, UV_RUN_ONCE);
    edge_dns_cancel(q);
    assert_true(in_flight_zero(dns, 3000));
    run_for(50);
    assert_int_equal(svc.calls, 0);

    /* a query whose answer is ready but not delivered yet */
    q = edge_dns_addr(dns, "192.0.2.1", 1, EDGE_DNS_PREFER_V6, addr_cb, &lit);
    edge_dns_cancel(q);
    run_for(50);
    assert_int_equal(lit.calls, 0);
    drop(dns);

    /* against a server that never answers, then the resolver freed: nothing called, no leak */
    dns = resolver(resp_addr, NULL);
    res_t silent = {0};
    q = edge_dns_addr(dns, "silent.test", 1, EDGE_DNS_PREFER_V6, addr_cb, &silent);
    assert_true(run_until(&resp_queries, 2, 3000)); /* AAAA and A sent */
    edge_dns_cancel(q);
    drop(dns);
    assert_int_equal(silent.calls, 0);
}

static void test_timeout(void **state)
{
    (void)state;
    edge_dns_opts_t o;
    edge_dns_opts_init(&o);
    o.timeout_ms = 200;
    o.tries = 1;
    edge_dns_t *dns = resolver(resp_addr, &o);
    res_t r = {0};
    uint64_t t0 = uv_hrtime();
    edge_dns_srv(dns, "_xmpp-server._tcp.silent.test", srv_cb, &r);
    wait_res(&r, 3000);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    print_message("timeout after %llu ms (timeout 200 ms, 1 try)\n", (unsigned long long)ms);
    assert_int_equal(r.status, EDGE_DNS_E_TIMEOUT);
    assert_true(ms >= 150 && ms < 1500);
    edge_dns_stats_t st = stats(dns);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.failures, 0);
    assert_int_equal(resp_queries, 1);
    /* a timeout is not cached */
    res_t r2 = {0};
    edge_dns_srv(dns, "_xmpp-server._tcp.silent.test", srv_cb, &r2);
    wait_res(&r2, 3000);
    assert_int_equal(stats(dns).sent, 2);
    drop(dns);

    /* two tries: c-ares 1.18 doubles the timeout for the second round */
    o.tries = 2;
    dns = resolver(resp_addr, &o);
    res_t r3 = {0};
    resp_queries = 0;
    t0 = uv_hrtime();
    edge_dns_srv(dns, "_xmpp-server._tcp.silent.test", srv_cb, &r3);
    wait_res(&r3, 4000);
    ms = (uv_hrtime() - t0) / 1000000;
    print_message("timeout after %llu ms (timeout 200 ms, 2 tries)\n", (unsigned long long)ms);
    assert_int_equal(r3.status, EDGE_DNS_E_TIMEOUT);
    assert_int_equal(resp_queries, 2);
    assert_true(ms >= 350 && ms < 2500);
    drop(dns);
}

static void test_server_failures(void **state)
{
    (void)state;
    edge_dns_opts_t o;
    edge_dns_opts_init(&o);
    o.timeout_ms = 500;
    o.tries = 1;
    edge_dns_t *dns = resolver(resp_addr, &o);
    res_t sf = {0}, bad = {0};
    rmode = R_SERVFAIL;
    edge_dns_addr(dns, "sf.test", 1, EDGE_DNS_ONLY_V4, addr_cb, &sf);
    wait_res(&sf, 3000);
    assert_int_equal(sf.status, EDGE_DNS_E_SERVFAIL);
    rmode = R_MALFORMED;
    edge_dns_addr(dns, "bad.test", 1, EDGE_DNS_ONLY_V4, addr_cb, &bad);
    wait_res(&bad, 3000);
    assert_int_equal(bad.status, EDGE_DNS_E_MALFORMED);
    edge_dns_stats_t st = stats(dns);
    assert_int_equal(st.failures, 2);
    assert_int_equal(st.cache_entries, 0);
    drop(dns);
}

/* ---------------------------------------------------------------- freeing */

typedef struct {
    res_t r;
    edge_dns_t *dns;
    edge_dns_query_t *started; /* what a query started from the callback returned */
    int tried;
} free_ctx_t;

static void free_addr_cb(edge_dns_query_t *q, int status, const struct sockaddr_storage *a,
                         size_t n, void *arg)
{
    free_ctx_t *c = arg;
    if (muted)
        return;
    addr_cb(q, status, a, n, &c->r);
    c->tried = 1;
    c->started = edge_dns_srv(c->dns, "_xmpp-server._tcp.fabrikam.test", srv_cb, &c->r);
}

static void test_free_pending(void **state)
{
    (void)state;
    edge_dns_t *dns = resolver(resp_addr, NULL);
    res_t s = {0}, svc = {0}, lit = {0};
    free_ctx_t c = {.dns = dns};
    edge_dns_srv(dns, "_xmpp-server._tcp.silent.test", srv_cb, &s);
    edge_dns_service(dns, "xmpp-server", "tcp", "silent.test", 5269, service_cb, &svc);
    edge_dns_addr(dns, "silent.test", 1, EDGE_DNS_PREFER_V6, free_addr_cb, &c);
    assert_true(run_until(&resp_queries, 3, 3000)); /* SRV (asked once for two), AAAA, A */
    edge_dns_addr(dns, "192.0.2.1", 1, EDGE_DNS_PREFER_V6, addr_cb, &lit); /* ready, not given */
    assert_int_equal(total_calls, 0);
    drop(dns);
    /* all four called, before edge_dns_free returned */
    assert_int_equal(total_calls, 4);
    assert_int_equal(s.status, EDGE_DNS_E_CANCELLED);
    assert_int_equal(svc.status, EDGE_DNS_E_CANCELLED);
    assert_int_equal(c.r.status, EDGE_DNS_E_CANCELLED);
    assert_int_equal(lit.status, EDGE_DNS_E_CANCELLED);
    assert_true(c.tried);
    assert_null(c.started);
    /* teardown checks that the loop closes with no handle left */
}

static void free_from_cb(edge_dns_query_t *q, int status, const struct sockaddr_storage *a,
                         size_t n, void *arg)
{
    free_ctx_t *c = arg;
    if (muted)
        return;
    addr_cb(q, status, a, n, &c->r);
    drop(c->dns);
}

static void test_free_from_callback(void **state)
{
    (void)state;
    edge_dns_t *dns = resolver(dnsmasq_addr, NULL);
    free_ctx_t c = {.dns = dns};
    res_t other = {0}, net = {0};
    edge_dns_addr(dns, "192.0.2.1", 1, EDGE_DNS_PREFER_V6, free_from_cb, &c);
    edge_dns_addr(dns, "192.0.2.2", 2, EDGE_DNS_PREFER_V6, addr_cb, &other);
    edge_dns_addr(dns, "both.test", 3, EDGE_DNS_PREFER_V6, addr_cb, &net);
    assert_true(run_until(&total_calls, 3, 3000));
    assert_int_equal(c.r.status, 0);
    assert_int_equal(other.status, EDGE_DNS_E_CANCELLED);
    assert_int_equal(net.status, EDGE_DNS_E_CANCELLED);
    run_for(50);
    assert_int_equal(total_calls, 3);
}

static int reset(void **state)
{
    (void)state;
    total_calls = 0;
    in_api = 0;
    return setup_loop(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_name_validation, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_options, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_srv_priorities, reset, teardown_loop),
        cmocka_unit_test(test_srv_order_algorithm),
        cmocka_unit_test_setup_teardown(test_srv_weights, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_srv_dot_target, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_service_srv, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_service_fallback, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_addr_merge, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_ip_literals, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_nxdomain_nodata, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_ttl_honoured, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_ttl_clamps, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_negative_cache, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_negative_soa, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_lru_eviction, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_coalescing, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_cancel, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_timeout, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_server_failures, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_free_pending, reset, teardown_loop),
        cmocka_unit_test_setup_teardown(test_free_from_callback, reset, teardown_loop),
    };
    return cmocka_run_group_tests(tests, start_dnsmasq, stop_dnsmasq);
}
