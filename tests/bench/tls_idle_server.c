/*
 * tls_idle_server.c - the listener of the tls_idle_conns benchmark: a TLS server built the way
 * the edge builds on tls/ (one small struct per connection embedding its tls_stream_t, no
 * receive buffer of its own: plaintext lands in one shared buffer), whose resident memory the
 * driver reads over a line protocol to tell what an idle TLS connection costs this process.
 *
 *   tls_idle_server --cert F --key F [--addr 127.0.0.1] [--port 0]
 *
 * Standard output: "LISTENING <port>" once, then one line per command read on standard input:
 *   stat   STAT open=<n> handshakes=<n> failed=<n> closed=<n> rss_kb=<VmRSS> heap_used=<bytes>
 *               heap_free=<bytes> heap_mmap=<bytes>   (the heap figures from mallinfo2)
 *   trim   malloc_trim(0) first, then the same STAT line
 *   quit   (or the end of standard input) close every connection and exit
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "tls.h"

/* What the edge keeps per connection besides the stream: here only the list of live ones. */
typedef struct conn {
    tls_stream_t s;
    struct conn *prev, *next;
} conn_t;

static uv_loop_t *loop;
static tls_ctx_t *ctx;
static uv_tcp_t listener;
static uv_pipe_t control;
static conn_t *conns;
static size_t n_open, n_handshakes, n_failed, n_closed;
static int quitting;

/* Plaintext for every connection: the edge takes a buffer from a slab only while data waits. */
static char shared_buf[16384];

static long vm_rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

static void report(void)
{
    struct mallinfo2 mi = mallinfo2();
    printf("STAT open=%zu handshakes=%zu failed=%zu closed=%zu rss_kb=%ld heap_used=%zu "
           "heap_free=%zu heap_mmap=%zu\n",
           n_open, n_handshakes, n_failed, n_closed, vm_rss_kb(), mi.uordblks, mi.fordblks,
           mi.hblkhd);
    fflush(stdout);
}

static void on_alloc(tls_stream_t *s, size_t suggested, uv_buf_t *buf)
{
    (void)s;
    (void)suggested;
    *buf = uv_buf_init(shared_buf, sizeof shared_buf);
}

static void on_read(tls_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    if (n < 0)
        tls_stream_close(s); /* the benchmark's clients never send after the handshake */
}

static void on_handshake(tls_stream_t *s, int status)
{
    if (status == 0 && strcmp(tls_stream_version(s), "TLSv1.3") == 0) {
        n_handshakes++;
        return;
    }
    /* the first few say why; the count tells the rest (quitting clients cut handshakes short) */
    if (n_failed < 5 && !quitting && status < 0)
        fprintf(stderr, "tls_idle_server: %s: %s\n", tls_strerror(status), tls_last_error());
    else if (n_failed < 5 && !quitting)
        fprintf(stderr, "tls_idle_server: %s negotiated, not TLSv1.3\n", tls_stream_version(s));
    n_failed++;
    tls_stream_close(s);
}

static void on_close(tls_stream_t *s)
{
    conn_t *c = s->data;
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    n_open--;
    n_closed++;
}

static const tls_stream_cbs_t cbs = {on_handshake, on_alloc, on_read, NULL, on_close};

static void on_connection(uv_stream_t *server, int status)
{
    conn_t *c;
    if (status < 0 || quitting)
        return;
    c = calloc(1, sizeof *c);
    if (!c || tls_stream_init(loop, &c->s, &cbs, c) < 0) {
        fprintf(stderr, "tls_idle_server: out of memory\n");
        exit(1);
    }
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    n_open++;
    if (uv_accept(server, (uv_stream_t *)&c->s.tcp) < 0 ||
        tls_stream_start_server(&c->s, ctx, NULL, 0) < 0) {
        n_failed++;
        tls_stream_close(&c->s);
    }
}

static void quit(void)
{
    if (quitting)
        return;
    quitting = 1;
    uv_close((uv_handle_t *)&listener, NULL);
    uv_close((uv_handle_t *)&control, NULL);
    for (conn_t *c = conns; c; c = c->next)
        tls_stream_close(&c->s);
}

static void control_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char in[256];
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(in, sizeof in);
}

/* Commands are short words, one per line; a partial line waits for the rest. */
static void control_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    static char line[64];
    static size_t len;
    (void)st;
    if (n < 0) {
        quit();
        return;
    }
    for (ssize_t i = 0; i < n && !quitting; i++) {
        char ch = buf->base[i];
        if (ch != '\n') {
            if (len < sizeof line - 1)
                line[len++] = ch;
            continue;
        }
        line[len] = '\0';
        len = 0;
        if (strcmp(line, "stat") == 0) {
            report();
        } else if (strcmp(line, "trim") == 0) {
            malloc_trim(0);
            report();
        } else if (strcmp(line, "quit") == 0) {
            quit();
        } else {
            printf("ERROR unknown command '%s'\n", line);
            fflush(stdout);
        }
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: tls_idle_server --cert F --key F [--addr A] [--port P]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *cert = NULL, *key = NULL, *addr = "127.0.0.1";
    int port = 0;
    char err[512];
    struct sockaddr_in sa;
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    struct rlimit rl;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--cert") == 0)
            cert = argv[i + 1];
        else if (strcmp(argv[i], "--key") == 0)
            key = argv[i + 1];
        else if (strcmp(argv[i], "--addr") == 0)
            addr = argv[i + 1];
        else if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
        else
            usage();
    }
    if (!cert || !key || argc % 2 == 0)
        usage();

    /* one descriptor per connection: as many as the hard limit allows */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    tls_cert_conf_t certs[1] = {{.cert_file = cert, .key_file = key}};
    tls_server_conf_t sc = {.certs = certs, .ncerts = 1};
    ctx = tls_server_ctx_new(&sc, err, sizeof err);
    if (!ctx) {
        fprintf(stderr, "tls_idle_server: %s\n", err);
        return 1;
    }

    loop = uv_default_loop();
    if (uv_ip4_addr(addr, port, &sa) != 0)
        usage();
    uv_tcp_init(loop, &listener);
    if (uv_tcp_bind(&listener, (const struct sockaddr *)&sa, 0) < 0 ||
        uv_listen((uv_stream_t *)&listener, 4096, on_connection) < 0 ||
        uv_tcp_getsockname(&listener, (struct sockaddr *)&bound, &blen) < 0) {
        fprintf(stderr, "tls_idle_server: cannot listen on %s:%d\n", addr, port);
        return 1;
    }
    if (uv_pipe_init(loop, &control, 0) < 0 || uv_pipe_open(&control, 0) < 0 ||
        uv_read_start((uv_stream_t *)&control, control_alloc, control_read) < 0) {
        fprintf(stderr, "tls_idle_server: standard input must be a pipe\n");
        return 1;
    }
    printf("LISTENING %d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fflush(stdout);

    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    tls_ctx_free(ctx);
    return 0;
}
