/*
 * test_tls_stream.c - tls/ in one process: context load errors name the file and the defect;
 * a server and a client stream on one loop over loopback do mutual TLS, expose the peer's
 * verified names, carry an iovec larger than a record intact both ways, refuse writes in the
 * wrong state or past the queue limit, and end with close_notify seen on both sides.
 * Certificates are made with the openssl command line in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tls.h"

static char dir[64];

static char *path(const char *name)
{
    static char bufs[8][128];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static int make_certs(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/edge-tls-test.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    if (sh("cd %s && openssl req -x509 %s -keyout ca.key -out ca.pem -subj /CN=TestCA -days 30 "
           ">/dev/null 2>&1",
           dir, ec) != 0)
        return -1;
    static const char *const names[] = {"edge", "client"};
    for (int i = 0; i < 2; i++) {
        if (sh("cd %s && openssl req -new %s -keyout %s.key -out %s.csr -subj /CN=%s.example "
               "-addext subjectAltName=DNS:%s.example >/dev/null 2>&1 && openssl x509 -req -in "
               "%s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out %s.pem -days 10 "
               "-copy_extensions copy >/dev/null 2>&1",
               dir, ec, names[i], names[i], names[i], names[i], names[i], names[i]) != 0)
            return -1;
    }
    /* an expired certificate: openssl ca takes explicit dates */
    if (sh("cd %s && printf '[ca]\\ndefault_ca=t\\n[t]\\ndatabase=index.txt\\nnew_certs_dir=.\\n"
           "serial=serial\\ndefault_md=sha256\\npolicy=p\\n[p]\\ncommonName=supplied\\n' > ca.cnf"
           " && touch index.txt && echo 01 > serial && openssl req -new %s -keyout old.key -out "
           "old.csr -subj /CN=old.example >/dev/null 2>&1 && openssl ca -batch -config ca.cnf "
           "-cert ca.pem -keyfile ca.key -in old.csr -out old.pem -startdate 20200101000000Z "
           "-enddate 20200201000000Z >/dev/null 2>&1",
           dir, ec) != 0)
        return -1;
    return 0;
}

static int remove_certs(void **state)
{
    (void)state;
    return sh("rm -rf %s", dir) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- context errors */

static void expect_ctx_error(const tls_server_conf_t *sc, const char *needle1, const char *needle2)
{
    char err[512] = "";
    tls_ctx_t *c = tls_server_ctx_new(sc, err, sizeof err);
    if (c) {
        tls_ctx_free(c);
        fail_msg("context built, expected an error with '%s'", needle1);
    }
    if (!strstr(err, needle1) || (needle2 && !strstr(err, needle2)))
        fail_msg("error '%s' lacks '%s' / '%s'", err, needle1, needle2 ? needle2 : "");
}

static void test_ctx_errors(void **state)
{
    (void)state;
    tls_cert_conf_t missing = {path("nope.pem"), path("edge.key")};
    tls_server_conf_t sc = {.certs = &missing, .ncerts = 1};
    expect_ctx_error(&sc, "nope.pem", "certificate");

    tls_cert_conf_t mismatch = {path("edge.pem"), path("client.key")};
    sc.certs = &mismatch;
    expect_ctx_error(&sc, "client.key", "does not match");

    tls_cert_conf_t expired = {path("old.pem"), path("old.key")};
    sc.certs = &expired;
    expect_ctx_error(&sc, "old.pem", "expired");

    tls_cert_conf_t good = {path("edge.pem"), path("edge.key")};
    sc.certs = &good;
    sc.verify = TLS_VERIFY_REQUIRED;
    expect_ctx_error(&sc, "no CA file", NULL);
    sc.ca_file = path("nothere-ca.pem");
    expect_ctx_error(&sc, "nothere-ca.pem", NULL);

    sc.ca_file = NULL;
    sc.verify = TLS_VERIFY_NONE;
    sc.ciphers = "NO-SUCH-CIPHER";
    expect_ctx_error(&sc, "NO-SUCH-CIPHER", NULL);

    sc.ciphers = NULL;
    sc.ncerts = 0;
    expect_ctx_error(&sc, "at least one certificate", NULL);

    char err[256];
    tls_client_conf_t cc = {0};
    assert_null(tls_client_ctx_new(&cc, err, sizeof err));
    assert_non_null(strstr(err, "CA file"));
}

/* ---------------------------------------------------------------- a loop with two ends */

typedef struct end {
    tls_stream_t s;
    char buf[70000];
    size_t got;
    int handshake; /* 0 pending, 1 ok, <0 error */
    int eof, closed, drained;
    int echo;
    char error[256]; /* tls_last_error() when the handshake failed: both ends share a thread */
} end_t;

typedef struct {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_timer_t guard;
    end_t srv, cli;
    tls_ctx_t *sctx, *cctx;
    uv_connect_t creq;
    int port;
    const char *expect_host;
    int keep_ctx; /* pair_close leaves the contexts for the next connection */
} pair_t;

static void e_alloc(tls_stream_t *s, size_t suggested, uv_buf_t *b)
{
    end_t *e = s->data;
    (void)suggested;
    *b = uv_buf_init(e->buf + e->got, (unsigned)(sizeof e->buf - e->got));
}

static void e_read(tls_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    end_t *e = s->data;
    if (n == UV_EOF) {
        e->eof = 1;
        tls_stream_end(s);
        return;
    }
    if (n < 0) {
        e->eof = (int)n;
        tls_stream_close(s);
        return;
    }
    if (n > 0 && e->echo) {
        struct iovec iov = {b->base, (size_t)n};
        assert_int_equal(tls_stream_write(s, &iov, 1), 0);
        return;
    }
    e->got += (size_t)n;
}

static void e_handshake(tls_stream_t *s, int status)
{
    end_t *e = s->data;
    e->handshake = status == 0 ? 1 : status;
    if (status < 0) {
        snprintf(e->error, sizeof e->error, "%s", tls_last_error());
        tls_stream_close(s);
    }
}

static void e_drain(tls_stream_t *s)
{
    ((end_t *)s->data)->drained++;
}

static void e_close(tls_stream_t *s)
{
    ((end_t *)s->data)->closed = 1;
}

static const tls_stream_cbs_t cbs = {e_handshake, e_alloc, e_read, e_drain, e_close};

static void on_conn(uv_stream_t *l, int status)
{
    pair_t *p = l->data;
    assert_int_equal(status, 0);
    assert_int_equal(tls_stream_init(&p->loop, &p->srv.s, &cbs, &p->srv), 0);
    assert_int_equal(uv_accept(l, (uv_stream_t *)&p->srv.s.tcp), 0);
    assert_int_equal(tls_stream_start_server(&p->srv.s, p->sctx, NULL, 0), 0);
}

static void on_connected(uv_connect_t *req, int status)
{
    pair_t *p = req->data;
    assert_int_equal(status, 0);
    assert_int_equal(tls_stream_start_client(&p->cli.s, p->cctx, p->expect_host), 0);
}

static void guard_cb(uv_timer_t *t)
{
    pair_t *p = t->data;
    fprintf(stderr,
            "state: srv hs=%d got=%zu eof=%d closed=%d q=%zu; cli hs=%d got=%zu eof=%d closed=%d "
            "q=%zu\n",
            p->srv.handshake, p->srv.got, p->srv.eof, p->srv.closed, p->srv.s.queued,
            p->cli.handshake, p->cli.got, p->cli.eof, p->cli.closed, p->cli.s.queued);
    fail_msg("test loop did not finish in time");
}

/* Run the loop until cond(p) holds (bounded by the guard timer). */
static void run_until(pair_t *p, int (*cond)(pair_t *))
{
    for (int i = 0; i < 100000 && !cond(p); i++)
        uv_run(&p->loop, UV_RUN_ONCE);
    assert_true(cond(p));
}

static int handshaken(pair_t *p)
{
    return p->srv.handshake && p->cli.handshake;
}

static void pair_connect(pair_t *p, const char *host);

static void make_ctxs(pair_t *p, tls_verify_t verify, int client_cert)
{
    char err[512];
    tls_cert_conf_t cert = {path("edge.pem"), path("edge.key")};
    tls_server_conf_t sc = {
        .certs = &cert, .ncerts = 1, .ca_file = path("ca.pem"), .verify = verify};
    tls_client_conf_t cc = {.ca_file = path("ca.pem"),
                            .cert_file = client_cert ? path("client.pem") : NULL,
                            .key_file = client_cert ? path("client.key") : NULL};

    memset(p, 0, sizeof *p);
    p->sctx = tls_server_ctx_new(&sc, err, sizeof err);
    if (!p->sctx)
        fail_msg("server ctx: %s", err);
    p->cctx = tls_client_ctx_new(&cc, err, sizeof err);
    if (!p->cctx)
        fail_msg("client ctx: %s", err);
}

static void pair_open(pair_t *p, tls_verify_t verify, int client_cert, const char *host)
{
    make_ctxs(p, verify, client_cert);
    pair_connect(p, host);
}

/* Connect a new client to a new server connection, with the contexts already in p. */
static void pair_connect(pair_t *p, const char *host)
{
    struct sockaddr_in sa;
    int len = sizeof sa;
    p->expect_host = host;
    assert_int_equal(uv_loop_init(&p->loop), 0);
    uv_timer_init(&p->loop, &p->guard);
    p->guard.data = p;
    uv_timer_start(&p->guard, guard_cb, 10000, 0);
    uv_tcp_init(&p->loop, &p->listener);
    p->listener.data = p;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    assert_int_equal(uv_tcp_bind(&p->listener, (struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&p->listener, 8, on_conn), 0);
    uv_tcp_getsockname(&p->listener, (struct sockaddr *)&sa, &len);
    assert_int_equal(tls_stream_init(&p->loop, &p->cli.s, &cbs, &p->cli), 0);
    p->creq.data = p;
    assert_int_equal(uv_tcp_connect(&p->creq, &p->cli.s.tcp, (struct sockaddr *)&sa, on_connected),
                     0);
}

static int both_closed(pair_t *p)
{
    return p->srv.closed && p->cli.closed;
}

static void pair_close(pair_t *p)
{
    if (!p->srv.closed && p->srv.s.tcp.loop)
        tls_stream_close(&p->srv.s);
    if (!p->cli.closed)
        tls_stream_close(&p->cli.s);
    run_until(p, both_closed);
    uv_close((uv_handle_t *)&p->listener, NULL);
    uv_close((uv_handle_t *)&p->guard, NULL);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&p->loop), 0);
    if (!p->keep_ctx) {
        tls_ctx_free(p->sctx);
        tls_ctx_free(p->cctx);
    }
}

static int client_got_all(pair_t *p)
{
    return p->cli.got >= 40015 || p->cli.eof;
}

static int both_eof(pair_t *p)
{
    return p->srv.eof && p->cli.eof && both_closed(p);
}

static void test_mtls_roundtrip(void **state)
{
    static pair_t p;
    static char big[40000];
    char name[256];
    (void)state;

    pair_open(&p, TLS_VERIFY_REQUIRED, 1, "edge.example");
    /* writing before the handshake is refused */
    struct iovec early = {(void *)"x", 1};
    assert_int_equal(tls_stream_write(&p.cli.s, &early, 1), TLS_E_STATE);
    run_until(&p, handshaken);
    assert_int_equal(p.srv.handshake, 1);
    assert_int_equal(p.cli.handshake, 1);

    /* identities: each side sees the other's verified names */
    assert_true(tls_stream_peer_verified(&p.srv.s));
    assert_int_equal(tls_stream_peer_dns(&p.srv.s, 0, name, sizeof name), 14);
    assert_string_equal(name, "client.example");
    assert_int_equal(tls_stream_peer_dns(&p.srv.s, 1, name, sizeof name), -1);
    assert_true(tls_stream_peer_matches(&p.cli.s, "edge.example", 12));
    assert_false(tls_stream_peer_matches(&p.cli.s, "other.example", 13));
    assert_string_equal(tls_stream_version(&p.cli.s), "TLSv1.3");

    /* an iovec bigger than a record comes back intact through the echo */
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    struct iovec iov[3] = {{(void *)"head:", 5}, {big, sizeof big}, {(void *)":tail12345", 10}};
    p.srv.echo = 1;
    assert_int_equal(tls_stream_write(&p.cli.s, iov, 3), 0);
    run_until(&p, client_got_all);
    assert_int_equal(p.cli.got, 40015);
    assert_memory_equal(p.cli.buf, "head:", 5);
    assert_memory_equal(p.cli.buf + 5, big, sizeof big);
    assert_memory_equal(p.cli.buf + 40005, ":tail12345", 10);

    /* close_notify both ways: the client ends, the server sees EOF and ends too */
    tls_stream_end(&p.cli.s);
    run_until(&p, both_eof);
    pair_close(&p);
}

static void test_name_mismatch_refused(void **state)
{
    static pair_t p;
    (void)state;
    pair_open(&p, TLS_VERIFY_NONE, 0, "other.example");
    run_until(&p, handshaken);
    assert_int_equal(p.cli.handshake, TLS_E_VERIFY);
    assert_non_null(strstr(p.cli.error, "hostname mismatch"));
    pair_close(&p);
}

static void test_client_cert_required(void **state)
{
    static pair_t p;
    (void)state;
    pair_open(&p, TLS_VERIFY_REQUIRED, 0, "edge.example");
    run_until(&p, handshaken);
    assert_int_equal(p.srv.handshake, TLS_E_VERIFY);
    assert_true(p.cli.handshake < 0 || p.cli.eof != 0 || p.cli.handshake == 1);
    pair_close(&p);
}

static void test_queue_limit(void **state)
{
    static pair_t p;
    static char chunk[65536];
    (void)state;
    pair_open(&p, TLS_VERIFY_NONE, 0, "edge.example");
    run_until(&p, handshaken);
    p.cli.s.max_queue = 100000;
    struct iovec iov = {chunk, sizeof chunk};
    int r = 0, writes = 0;
    /* nothing runs the loop here, so nothing drains: the cap must bite */
    while (r == 0 && writes < 100) {
        r = tls_stream_write(&p.cli.s, &iov, 1);
        writes++;
    }
    assert_int_equal(r, TLS_E_QUEUE);
    assert_true(tls_stream_write_queue_size(&p.cli.s) <= 100000 + 2 * 16500);
    pair_close(&p);
}

/* One echoed exchange (so the client has read the server's ticket), then a graceful end. */
static int connect_once(pair_t *p, const char *host)
{
    tls_ctx_t *sctx = p->sctx, *cctx = p->cctx;
    memset(p, 0, sizeof *p);
    p->sctx = sctx;
    p->cctx = cctx;
    p->keep_ctx = 1;
    pair_connect(p, host);
    run_until(p, handshaken);
    assert_int_equal(p->cli.handshake, 1);
    int resumed = tls_stream_resumed(&p->cli.s);
    assert_int_equal(resumed, tls_stream_resumed(&p->srv.s));
    p->srv.echo = 1;
    struct iovec iov = {(void *)"ping", 4};
    assert_int_equal(tls_stream_write(&p->cli.s, &iov, 1), 0);
    while (p->cli.got < 4)
        uv_run(&p->loop, UV_RUN_ONCE);
    tls_stream_end(&p->cli.s);
    run_until(p, both_eof);
    pair_close(p);
    return resumed;
}

/* The client context resumes per peer name; ticket keys rotate with one key of grace. */
static void test_resumption_and_ticket_rotation(void **state)
{
    static pair_t p;
    (void)state;
    make_ctxs(&p, TLS_VERIFY_NONE, 0);
    assert_int_equal(connect_once(&p, "edge.example"), 0);
    assert_int_equal(connect_once(&p, "edge.example"), 1); /* ticket from the first */
    tls_ctx_rotate_ticket_keys(p.sctx);
    assert_int_equal(connect_once(&p, "edge.example"), 1); /* previous key still decrypts */
    tls_ctx_rotate_ticket_keys(p.sctx);
    tls_ctx_rotate_ticket_keys(p.sctx);
    assert_int_equal(connect_once(&p, "edge.example"), 0); /* two rotations later: gone */
    assert_int_equal(connect_once(&p, "edge.example"), 1);
    tls_ctx_free(p.sctx);
    tls_ctx_free(p.cctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctx_errors),
        cmocka_unit_test(test_mtls_roundtrip),
        cmocka_unit_test(test_name_mismatch_refused),
        cmocka_unit_test(test_client_cert_required),
        cmocka_unit_test(test_queue_limit),
        cmocka_unit_test(test_resumption_and_ticket_rotation),
    };
    return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
