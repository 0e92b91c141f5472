/*
 * tls_idle_client.c - one client process of the tls_idle_conns benchmark: opens COUNT TLS 1.3
 * connections to the listener at a bounded rate, each bound to one of several loopback source
 * addresses (so that the ephemeral ports of one address do not run out), completes the handshake
 * and reads the server's session ticket, then leaves every connection idle until told to quit.
 * libuv and OpenSSL directly, over memory BIOs: this side is not measured, only kept simple.
 *
 *   tls_idle_client --port P --ca F --count N [--src-first 2] [--src-last 9] [--rate R]
 *                   [--inflight K] [--timeout-ms T] [--name HOST (default localhost)]
 *
 * Standard output: "DONE ok=<n> failed=<n> pending=<n>" once every connection has its ticket or
 * has failed (or the timeout passed); then it waits. The end of standard input, or "quit", closes
 * everything and exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <uv.h>

#define TICK_MS 10

static const char *server_name = "localhost"; /* the name the certificate must carry */

typedef struct cconn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    SSL *ssl;
    BIO *rbio, *wbio; /* ciphertext in from the socket, out to the socket */
    struct cconn *next;
    uint8_t handshake_done, ticket, finished, closing;
} cconn_t;

static uv_loop_t *loop;
static SSL_CTX *sctx;
static uv_timer_t ticker;
static uv_pipe_t control;
static cconn_t *all;
static struct sockaddr_in server_addr;
static int src_first = 2, src_last = 9, src_next;
static size_t count, rate = 1000, max_inflight = 64;
static uint64_t timeout_ms = 120000, started_at;
static size_t n_started, n_inflight, n_ok, n_failed;
static int done_reported, quitting;
static char read_buf[65536];

static void report_done(void)
{
    if (done_reported)
        return;
    done_reported = 1;
    printf("DONE ok=%zu failed=%zu pending=%zu\n", n_ok, n_failed, n_inflight + count - n_started);
    fflush(stdout);
}

static void check_done(void)
{
    if (n_ok + n_failed == count)
        report_done();
}

static void write_cb(uv_write_t *req, int status)
{
    (void)status; /* a failed write shows up as a read error */
    free(req);
}

/* Send whatever OpenSSL wrote into the outgoing BIO. */
static void flush_out(cconn_t *c)
{
    size_t pending = BIO_ctrl_pending(c->wbio);
    if (!pending || c->closing)
        return;
    uv_write_t *req = malloc(sizeof *req + pending);
    if (!req)
        return;
    char *data = (char *)(req + 1);
    int n = BIO_read(c->wbio, data, (int)pending);
    uv_buf_t b = uv_buf_init(data, n > 0 ? (unsigned)n : 0);
    if (n <= 0 || uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) < 0)
        free(req);
}

static void finish(cconn_t *c, int ok)
{
    if (c->finished)
        return;
    c->finished = 1;
    n_inflight--;
    if (ok)
        n_ok++;
    else
        n_failed++;
    check_done();
}

static void close_cb(uv_handle_t *h)
{
    cconn_t *c = h->data;
    SSL_free(c->ssl); /* frees both BIOs */
    c->ssl = NULL;
}

static void conn_close(cconn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, close_cb);
}

static void fail(cconn_t *c, const char *what)
{
    /* the first few say why; DONE carries the count */
    if (!c->finished && n_failed < 5 && !quitting)
        fprintf(stderr, "tls_idle_client: %s\n", what);
    if (!c->finished)
        finish(c, 0);
    conn_close(c);
}

/* The session ticket arrived: the connection is complete. OpenSSL keeps nothing (return 0). */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    cconn_t *c = SSL_get_app_data(ssl);
    (void)sess;
    c->ticket = 1;
    return 0;
}

static void drive(cconn_t *c)
{
    if (!c->handshake_done) {
        int r = SSL_do_handshake(c->ssl);
        if (r == 1) {
            c->handshake_done = 1;
        } else if (SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ) {
            char why[160];
            ERR_error_string_n(ERR_get_error(), why, sizeof why);
            ERR_clear_error();
            flush_out(c);
            fail(c, why);
            return;
        }
    }
    if (c->handshake_done) {
        /* the ticket comes after the handshake: SSL_read processes it */
        int r;
        while ((r = SSL_read(c->ssl, read_buf, sizeof read_buf)) > 0)
            ;
        int e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_WANT_READ) {
            ERR_clear_error();
            fail(c, e == SSL_ERROR_ZERO_RETURN ? "closed by the server" : "TLS read failed");
            return;
        }
    }
    flush_out(c);
    if (c->handshake_done && c->ticket)
        finish(c, 1);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(read_buf, sizeof read_buf);
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    cconn_t *c = st->data;
    if (n == 0 || c->closing)
        return;
    if (n < 0) {
        fail(c, n == UV_EOF ? "closed by the server" : uv_strerror((int)n));
        return;
    }
    BIO_write(c->rbio, buf->base, (int)n);
    drive(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    cconn_t *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        fail(c, uv_strerror(status));
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) < 0) {
        fail(c, "cannot read");
        return;
    }
    drive(c); /* the ClientHello */
}

static void start_one(void)
{
    cconn_t *c = calloc(1, sizeof *c);
    struct sockaddr_in src;
    char ip[32];
    int r;

    n_started++;
    n_inflight++;
    if (!c) {
        n_inflight--;
        n_failed++;
        return;
    }
    c->next = all;
    all = c;
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->connect.data = c;
    c->ssl = SSL_new(sctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->rbio || !c->wbio) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        fail(c, "out of memory");
        return;
    }
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_app_data(c->ssl, c);
    SSL_set_connect_state(c->ssl);
    SSL_set_tlsext_host_name(c->ssl, server_name);
    SSL_set1_host(c->ssl, server_name);

    /* spread over the source addresses: each has its own ephemeral port range */
    snprintf(ip, sizeof ip, "127.0.0.%d", src_first + src_next);
    src_next = (src_next + 1) % (src_last - src_first + 1);
    uv_ip4_addr(ip, 0, &src);
    r = uv_tcp_bind(&c->tcp, (const struct sockaddr *)&src, 0);
    if (r == 0)
        r = uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&server_addr, on_connect);
    if (r < 0) {
        char why[128];
        snprintf(why, sizeof why, "connect from %s: %s", ip, uv_strerror(r));
        fail(c, why);
    }
}

/* Every tick opens up to rate/100 connections, never more than max_inflight at once. */
static void tick(uv_timer_t *t)
{
    size_t budget = rate * TICK_MS / 1000;
    (void)t;
    if (budget == 0)
        budget = 1;
    while (budget-- && n_started < count && n_inflight < max_inflight)
        start_one();
    if (n_started == count && n_inflight == 0) {
        uv_timer_stop(&ticker);
        check_done();
    } else if (uv_now(loop) - started_at > timeout_ms) {
        fprintf(stderr, "tls_idle_client: timed out with %zu of %zu connections done\n",
                n_ok + n_failed, count);
        uv_timer_stop(&ticker);
        report_done();
    }
}

static void quit(void)
{
    if (quitting)
        return;
    quitting = 1;
    uv_timer_stop(&ticker);
    uv_close((uv_handle_t *)&ticker, NULL);
    uv_close((uv_handle_t *)&control, NULL);
    for (cconn_t *c = all; c; c = c->next)
        conn_close(c);
}

static void control_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char in[64];
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(in, sizeof in);
}

static void control_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)st;
    if (n < 0 || (n > 0 && memchr(buf->base, 'q', (size_t)n)))
        quit();
}

static void usage(void)
{
    fprintf(stderr, "usage: tls_idle_client --port P --ca F --count N [--src-first A] "
                    "[--src-last B] [--rate R] [--inflight K] [--timeout-ms T] [--name HOST]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *ca = NULL;
    int port = 0;
    struct rlimit rl;

    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--port") == 0)
            port = atoi(v);
        else if (strcmp(a, "--ca") == 0)
            ca = v;
        else if (strcmp(a, "--count") == 0)
            count = strtoul(v, NULL, 10);
        else if (strcmp(a, "--src-first") == 0)
            src_first = atoi(v);
        else if (strcmp(a, "--src-last") == 0)
            src_last = atoi(v);
        else if (strcmp(a, "--rate") == 0)
            rate = strtoul(v, NULL, 10);
        else if (strcmp(a, "--inflight") == 0)
            max_inflight = strtoul(v, NULL, 10);
        else if (strcmp(a, "--name") == 0)
            server_name = v;
        else if (strcmp(a, "--timeout-ms") == 0)
            timeout_ms = strtoull(v, NULL, 10);
        else
            usage();
    }
    if (!ca || port <= 0 || port > 65535 || argc % 2 == 0 || src_first < 1 ||
        src_last < src_first || src_last > 254 || max_inflight == 0)
        usage();

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    sctx = SSL_CTX_new(TLS_client_method());
    if (!sctx || SSL_CTX_load_verify_locations(sctx, ca, NULL) != 1) {
        fprintf(stderr, "tls_idle_client: cannot load %s\n", ca);
        return 1;
    }
    SSL_CTX_set_min_proto_version(sctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER, NULL);
    /* tickets are reported through the callback, not stored */
    SSL_CTX_set_session_cache_mode(sctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(sctx, new_session_cb);

    loop = uv_default_loop();
    uv_ip4_addr("127.0.0.1", port, &server_addr);
    uv_timer_init(loop, &ticker);
    if (uv_pipe_init(loop, &control, 0) < 0 || uv_pipe_open(&control, 0) < 0 ||
        uv_read_start((uv_stream_t *)&control, control_alloc, control_read) < 0) {
        fprintf(stderr, "tls_idle_client: standard input must be a pipe\n");
        return 1;
    }
    started_at = uv_now(loop);
    uv_timer_start(&ticker, tick, 0, TICK_MS);
    if (count == 0)
        report_done();

    uv_run(loop, UV_RUN_DEFAULT);
    while (all) {
        cconn_t *c = all;
        all = c->next;
        free(c);
    }
    uv_loop_close(loop);
    SSL_CTX_free(sctx);
    return 0;
}
