/*
 * tls_peer.c - a small program around tls/ for the integration tests that put it face to face
 * with real peers (openssl s_client and s_server, testssl.sh): a TLS echo server with the
 * listener options of the edge, or a TLS client that verifies the server's name. It reports
 * what happened on standard output, one line per event, for the test scripts to read.
 *
 *   tls_peer server ADDR PORT --cert F --key F [--cert F --key F]... [--ca F]
 *            [--verify none|optional|required] [--alpn P]... [--starttls] [--handshake-ms N]
 *            [--max-queue N] [--flood N]
 *   tls_peer client ADDR PORT --ca F --name HOST [--cert F --key F] [--send TEXT] [--alpn P]
 *
 * Server events: LISTENING PORT, HANDSHAKE ok|fail ..., DATA n, EOF, ERROR ..., CLOSED,
 * RELOAD ok|fail ... (on SIGHUP). With --flood N it writes N bytes to each client after the
 * handshake, pausing on a full queue, and reports QUEUE max=... at the end. SIGTERM closes every
 * connection and exits 0 (STOPPED), so the sanitizers' leak check runs on the server too.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

#define MAX_CERTS 4
#define MAX_ALPN  4

typedef struct {
    tls_stream_t s;
    char buf[16384];
    size_t flood_left;
    size_t max_queue_seen;
} peer_t;

static tls_ctx_t *ctx;
static int starttls, is_client;
static const char *send_text, *expect_name;
static uint64_t handshake_ms;
static size_t max_queue, flood;
static uv_loop_t *loop;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void on_alloc(tls_stream_t *s, size_t suggested, uv_buf_t *buf)
{
    peer_t *p = s->data;
    (void)suggested;
    *buf = uv_buf_init(p->buf, sizeof p->buf);
}

static void pump_flood(peer_t *p)
{
    static char junk[65536];
    while (p->flood_left) {
        size_t n = p->flood_left < sizeof junk ? p->flood_left : sizeof junk;
        struct iovec iov = {junk, n};
        int r = tls_stream_write(&p->s, &iov, 1);
        size_t q = tls_stream_write_queue_size(&p->s);
        if (q > p->max_queue_seen)
            p->max_queue_seen = q;
        if (r == TLS_E_QUEUE)
            return; /* on_drain resumes */
        if (r < 0) {
            say("ERROR write %s", tls_strerror(r));
            tls_stream_close(&p->s);
            return;
        }
        p->flood_left -= n;
    }
    say("QUEUE max=%zu", p->max_queue_seen);
}

static void on_drain(tls_stream_t *s)
{
    peer_t *p = s->data;
    if (p->flood_left)
        pump_flood(p);
}

static void on_read(tls_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n == 0)
        return;
    if (n < 0) {
        say(n == UV_EOF ? "EOF" : "ERROR read %s", tls_strerror((int)n));
        if (n == UV_EOF)
            tls_stream_end(s);
        else
            tls_stream_close(s);
        return;
    }
    if (s->ssl == NULL) {
        /* plain phase: a STARTTLS line switches to TLS after our PROCEED */
        if (n >= 8 && memcmp(buf->base, "STARTTLS", 8) == 0) {
            struct iovec iov = {(void *)"PROCEED\n", 8};
            tls_stream_write(s, &iov, 1);
            const char *nl = memchr(buf->base, '\n', (size_t)n);
            size_t used = nl ? (size_t)(nl - buf->base) + 1 : (size_t)n;
            int r = tls_stream_start_server(s, ctx, buf->base + used, (size_t)n - used);
            say("STARTTLS %s", r == 0 ? "ok" : tls_strerror(r));
        } else {
            say("PLAIN %zd", n);
        }
        return;
    }
    say("DATA %zd %.*s", n, (int)(n > 64 ? 64 : n), buf->base);
    if (!is_client) {
        struct iovec iov = {buf->base, (size_t)n};
        int r = tls_stream_write(s, &iov, 1);
        if (r < 0)
            say("ERROR write %s", tls_strerror(r));
    } else {
        tls_stream_shutdown(s);
    }
}

static void on_handshake(tls_stream_t *s, int status)
{
    peer_t *p = s->data;
    char names[512] = "", one[256];
    size_t alen;
    const char *alpn;
    if (status < 0) {
        say("HANDSHAKE fail %s: %s", tls_strerror(status), tls_last_error());
        tls_stream_close(s);
        return;
    }
    for (size_t i = 0; tls_stream_peer_dns(s, i, one, sizeof one) >= 0; i++) {
        if (strlen(names) + strlen(one) + 2 < sizeof names) {
            strcat(names, names[0] ? "," : "");
            strcat(names, one);
        }
    }
    alpn = tls_stream_alpn(s, &alen);
    say("HANDSHAKE ok version=%s resumed=%d alpn=%.*s verified=%d names=%s matches=%d",
        tls_stream_version(s), tls_stream_resumed(s), (int)alen, alpn, tls_stream_peer_verified(s),
        names[0] ? names : "-",
        expect_name ? tls_stream_peer_matches(s, expect_name, strlen(expect_name)) : -1);
    if (is_client && send_text) {
        struct iovec iov = {(void *)send_text, strlen(send_text)};
        tls_stream_write(s, &iov, 1);
    } else if (is_client) {
        tls_stream_shutdown(s);
    }
    if (!is_client && flood) {
        p->flood_left = flood;
        pump_flood(p);
    }
}

static void on_close(tls_stream_t *s)
{
    say("CLOSED");
    free(s->data);
    if (is_client)
        uv_stop(loop);
}

static const tls_stream_cbs_t cbs = {on_handshake, on_alloc, on_read, on_drain, on_close};

static peer_t *peer_new(void)
{
    peer_t *p = calloc(1, sizeof *p);
    if (!p || tls_stream_init(loop, &p->s, &cbs, p) < 0) {
        say("ERROR out of memory");
        exit(1);
    }
    p->s.handshake_timeout_ms = handshake_ms;
    p->s.max_queue = max_queue;
    return p;
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    peer_t *p = peer_new();
    if (uv_accept(server, (uv_stream_t *)&p->s.tcp) < 0) {
        tls_stream_close(&p->s);
        return;
    }
    int r = starttls ? tls_stream_read_plain(&p->s) : tls_stream_start_server(&p->s, ctx, NULL, 0);
    if (r < 0) {
        say("ERROR start %s", tls_strerror(r));
        tls_stream_close(&p->s);
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    peer_t *p = req->data;
    if (status < 0) {
        say("ERROR connect %s", uv_strerror(status));
        tls_stream_close(&p->s);
        return;
    }
    int r = tls_stream_start_client(&p->s, ctx, expect_name);
    if (r < 0) {
        say("ERROR start %s", tls_strerror(r));
        tls_stream_close(&p->s);
    }
}

static void on_hup(uv_signal_t *h, int sig)
{
    char err[512];
    (void)h;
    (void)sig;
    if (tls_ctx_reload(ctx, err, sizeof err) == 0)
        say("RELOAD ok");
    else
        say("RELOAD fail %s", err);
}

/* Handles whose data is a stream belong to it (tcp and timer); the rest are the listener's. */
static void close_one(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (h->data)
        tls_stream_close(h->data);
    else if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void on_term(uv_signal_t *h, int sig)
{
    (void)h;
    (void)sig;
    say("STOPPED");
    uv_walk(loop, close_one, NULL);
}

static void usage(void)
{
    fprintf(stderr, "usage: tls_peer server|client ADDR PORT [options] (see the source)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    tls_cert_conf_t certs[MAX_CERTS] = {{0}};
    const char *alpn[MAX_ALPN];
    size_t ncerts = 0, nkeys = 0, nalpn = 0;
    const char *ca = NULL, *cert = NULL, *key = NULL;
    tls_verify_t verify = TLS_VERIFY_NONE;
    char err[512];
    struct sockaddr_storage sa;

    if (argc < 4)
        usage();
    is_client = strcmp(argv[1], "client") == 0;
    if (!is_client && strcmp(argv[1], "server") != 0)
        usage();
    for (int i = 4; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--starttls") == 0) {
            starttls = 1;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (strcmp(a, "--cert") == 0 && ncerts < MAX_CERTS)
            certs[ncerts++].cert_file = cert = v;
        else if (strcmp(a, "--key") == 0 && nkeys < MAX_CERTS)
            certs[nkeys++].key_file = key = v;
        else if (strcmp(a, "--ca") == 0)
            ca = v;
        else if (strcmp(a, "--verify") == 0)
            verify = strcmp(v, "required") == 0   ? TLS_VERIFY_REQUIRED
                     : strcmp(v, "optional") == 0 ? TLS_VERIFY_OPTIONAL
                                                  : TLS_VERIFY_NONE;
        else if (strcmp(a, "--alpn") == 0 && nalpn < MAX_ALPN)
            alpn[nalpn++] = v;
        else if (strcmp(a, "--name") == 0)
            expect_name = v;
        else if (strcmp(a, "--send") == 0)
            send_text = v;
        else if (strcmp(a, "--handshake-ms") == 0)
            handshake_ms = strtoull(v, NULL, 10);
        else if (strcmp(a, "--max-queue") == 0)
            max_queue = strtoull(v, NULL, 10);
        else if (strcmp(a, "--flood") == 0)
            flood = strtoull(v, NULL, 10);
        else
            usage();
    }

    if (is_client) {
        tls_client_conf_t cc = {
            .cert_file = cert, .key_file = key, .ca_file = ca, .alpn = alpn, .nalpn = nalpn};
        ctx = tls_client_ctx_new(&cc, err, sizeof err);
    } else {
        tls_server_conf_t sc = {.certs = certs,
                                .ncerts = ncerts,
                                .ca_file = ca,
                                .verify = verify,
                                .alpn = alpn,
                                .nalpn = nalpn};
        ctx = tls_server_ctx_new(&sc, err, sizeof err);
    }
    if (!ctx) {
        say("CONFIG fail %s", err);
        return 1;
    }

    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    if (uv_ip4_addr(argv[2], atoi(argv[3]), (struct sockaddr_in *)&sa) != 0 &&
        uv_ip6_addr(argv[2], atoi(argv[3]), (struct sockaddr_in6 *)&sa) != 0)
        usage();

    if (is_client) {
        static uv_connect_t req;
        peer_t *p = peer_new();
        req.data = p;
        if (uv_tcp_connect(&req, &p->s.tcp, (struct sockaddr *)&sa, on_connect) < 0) {
            say("ERROR connect");
            return 1;
        }
    } else {
        static uv_tcp_t server;
        static uv_signal_t hup, term;
        struct sockaddr_storage bound;
        int blen = sizeof bound;
        uv_tcp_init(loop, &server);
        if (uv_tcp_bind(&server, (struct sockaddr *)&sa, 0) < 0 ||
            uv_listen((uv_stream_t *)&server, 4096, on_connection) < 0) {
            say("ERROR listen %s:%s", argv[2], argv[3]);
            return 1;
        }
        uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &blen);
        say("LISTENING %d", ntohs(((struct sockaddr_in *)&bound)->sin_port));
        uv_signal_init(loop, &hup);
        uv_signal_start(&hup, on_hup, SIGHUP);
        uv_unref((uv_handle_t *)&hup);
        uv_signal_init(loop, &term);
        uv_signal_start(&term, on_term, SIGTERM);
        uv_unref((uv_handle_t *)&term);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    tls_ctx_free(ctx);
    uv_loop_close(loop);
    return 0;
}
