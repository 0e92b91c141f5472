/*
 * tls_stream.c - one TLS connection over a libuv TCP handle. OpenSSL talks to a BIO of our own:
 * its reads take ciphertext straight from the chunk libuv just read (one buffer per thread, so an
 * idle connection holds none), its writes append records to a write request that is handed to
 * libuv in one uv_write after each step. Plain mode passes bytes through until STARTTLS.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls_internal.h"

#define TLS_READ_CHUNK           65536
#define TLS_RECORD               16384
#define TLS_DEFAULT_MAX_QUEUE    (1u << 20)
#define TLS_DEFAULT_HANDSHAKE_MS 10000
#define TLS_LINGER_MS            5000

enum { ST_INIT = 0, ST_PLAIN, ST_HANDSHAKE, ST_OPEN, ST_SHUTDOWN, ST_FAILED };

struct tls_wreq {
    uv_write_t req;
    tls_stream_t *s;
    size_t len, cap;
    char data[];
};

/* One libuv loop per thread: reads are decrypted before the next read, so they can share. */
static _Thread_local char read_buf[TLS_READ_CHUNK];
static _Thread_local char record_buf[TLS_RECORD];
static _Thread_local char last_error[256];

const char *tls_last_error(void)
{
    return last_error;
}

const char *tls_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case TLS_E_HANDSHAKE:
        return "TLS handshake failed";
    case TLS_E_VERIFY:
        return "peer certificate not verified";
    case TLS_E_TIMEOUT:
        return "TLS handshake timed out";
    case TLS_E_PROTOCOL:
        return "TLS protocol error";
    case TLS_E_STATE:
        return "operation not valid in this TLS stream state";
    case TLS_E_QUEUE:
        return "TLS write queue full";
    case TLS_E_NOMEM:
        return "out of memory";
    default:
        return uv_strerror(err);
    }
}

/* Remember why OpenSSL failed, for tls_last_error, and clear its queue. */
static void note_error(SSL *ssl, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    if (vr != X509_V_OK)
        snprintf(last_error, sizeof last_error, "%s: certificate verification: %s", what,
                 X509_verify_cert_error_string(vr));
    else
        snprintf(last_error, sizeof last_error, "%s: %s", what, reason ? reason : "no detail");
    ERR_clear_error();
}

/* ---------------------------------------------------------------- the BIO */

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

/* Make room for 'more' bytes in the write request being assembled. */
static int out_reserve(tls_stream_t *s, size_t more)
{
    struct tls_wreq *w = s->out;
    size_t need = (w ? w->len : 0) + more;
    if (!w || need > w->cap) {
        size_t cap = w ? w->cap * 2 : 4096;
        while (cap < need)
            cap *= 2;
        struct tls_wreq *nw = realloc(w, sizeof *nw + cap);
        if (!nw)
            return -1;
        if (!w)
            nw->len = 0;
        nw->cap = cap;
        nw->s = s;
        s->out = nw;
    }
    return 0;
}

/* Append outgoing bytes to the write request being assembled. */
static int out_append(tls_stream_t *s, const char *data, size_t len)
{
    if (out_reserve(s, len) < 0)
        return -1;
    memcpy(s->out->data + s->out->len, data, len);
    s->out->len += len;
    return 0;
}

static int bio_write(BIO *b, const char *data, int len)
{
    BIO_clear_retry_flags(b);
    return out_append(BIO_get_data(b), data, (size_t)len) < 0 ? -1 : len;
}

static int bio_read(BIO *b, char *data, int len)
{
    tls_stream_t *s = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (s->in_len == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = s->in_len < (size_t)len ? s->in_len : (size_t)len;
    memcpy(data, s->in_p, n);
    s->in_p += n;
    s->in_len -= n;
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static void bio_method_init(void)
{
    bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "edge-uv");
    BIO_meth_set_write(bio_method, bio_write);
    BIO_meth_set_read(bio_method, bio_read);
    BIO_meth_set_ctrl(bio_method, bio_ctrl);
}

static BIO *bio_new(tls_stream_t *s)
{
    pthread_once(&bio_once, bio_method_init);
    BIO *b = bio_method ? BIO_new(bio_method) : NULL;
    if (b) {
        BIO_set_data(b, s);
        BIO_set_init(b, 1);
    }
    return b;
}

/* ---------------------------------------------------------------- writing */

static void write_cb(uv_write_t *req, int status)
{
    struct tls_wreq *w = (struct tls_wreq *)req;
    tls_stream_t *s = w->s;
    s->queued -= w->len;
    free(w);
    if (s->closing)
        return;
    if (status < 0) {
        if (s->cbs->on_read)
            s->cbs->on_read(s, status, NULL);
        return;
    }
    /* after close_notify nothing more may be written: no point asking for more */
    if (s->queued == 0 && !s->notify_sent && !s->shutdown_sent && s->cbs->on_drain)
        s->cbs->on_drain(s);
}

/* Hand the records assembled so far to libuv in one write. */
static int flush(tls_stream_t *s)
{
    struct tls_wreq *w = s->out;
    if (!w || w->len == 0)
        return 0;
    s->out = NULL;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
    int r = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, write_cb);
    if (r < 0) {
        free(w);
        return r;
    }
    s->queued += w->len;
    return 0;
}

/* Encrypt staged plaintext as one record. */
static int seal(tls_stream_t *s, const char *p, size_t n)
{
    int r = SSL_write(s->ssl, p, (int)n);
    if (r <= 0) {
        note_error(s->ssl, "TLS write");
        return TLS_E_PROTOCOL;
    }
    return 0;
}

int tls_stream_write(tls_stream_t *s, const struct iovec *iov, size_t iovcnt)
{
    size_t total = 0, staged = 0;
    int r = 0;

    if (s->closing || s->shutdown_sent || s->notify_sent ||
        (s->ssl ? s->state != ST_OPEN : s->state != ST_PLAIN))
        return TLS_E_STATE;
    for (size_t i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    /* the cap bounds what piles up behind a slow peer; a write into an empty queue always goes,
     * or one larger than the cap could never be sent */
    if (s->queued && s->queued + total > (s->max_queue ? s->max_queue : TLS_DEFAULT_MAX_QUEUE))
        return TLS_E_QUEUE;
    /* records add at most 22 bytes each (TLS 1.3 AEAD); size the write request once */
    if (out_reserve(s, total + (total / TLS_RECORD + 1) * 32) < 0)
        return TLS_E_NOMEM;

    if (!s->ssl) {
        /* plain mode: copied into a write request of our own, so the iovec may be reused */
        for (size_t i = 0; i < iovcnt; i++) {
            if (out_append(s, iov[i].iov_base, iov[i].iov_len) < 0)
                return TLS_E_NOMEM;
        }
        return flush(s);
    }

    /* pack the iovec into full records: one SSL_write per 16 KiB, not per iovec entry */
    for (size_t i = 0; i < iovcnt && r == 0; i++) {
        const char *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;
        while (left && r == 0) {
            if (staged == 0 && left >= TLS_RECORD) {
                r = seal(s, p, TLS_RECORD);
                p += TLS_RECORD;
                left -= TLS_RECORD;
                continue;
            }
            size_t take = TLS_RECORD - staged < left ? TLS_RECORD - staged : left;
            memcpy(record_buf + staged, p, take);
            staged += take;
            p += take;
            left -= take;
            if (staged == TLS_RECORD) {
                r = seal(s, record_buf, staged);
                staged = 0;
            }
        }
    }
    if (r == 0 && staged)
        r = seal(s, record_buf, staged);
    int f = flush(s);
    return r ? r : f;
}

size_t tls_stream_write_queue_size(const tls_stream_t *s)
{
    return s->queued + (s->out ? s->out->len : 0);
}

/* ---------------------------------------------------------------- reading */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

int tls_stream_read_pause(tls_stream_t *s)
{
    if (s->closing)
        return TLS_E_STATE;
    return uv_read_stop((uv_stream_t *)&s->tcp);
}

int tls_stream_read_resume(tls_stream_t *s)
{
    if (s->closing || s->peer_done ||
        (s->state != ST_PLAIN && s->state != ST_HANDSHAKE && s->state != ST_OPEN &&
         s->state != ST_SHUTDOWN))
        return 0;
    return uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(read_buf, sizeof read_buf);
}

static void fail(tls_stream_t *s, int err)
{
    int was_handshake = s->state == ST_HANDSHAKE;
    s->state = ST_FAILED;
    uv_read_stop((uv_stream_t *)&s->tcp);
    uv_timer_stop(&s->timer);
    flush(s); /* the alert, if OpenSSL wrote one */
    if (was_handshake) {
        if (s->cbs->on_handshake)
            s->cbs->on_handshake(s, err);
    } else if (s->cbs->on_read) {
        s->cbs->on_read(s, err, NULL);
    }
}

/* Deliver bytes to the owner through its own buffers (plain mode). */
static void deliver_plain(tls_stream_t *s, const char *p, size_t n)
{
    while (n && !s->closing && s->state == ST_PLAIN) {
        uv_buf_t ab = {0};
        s->cbs->on_alloc(s, n, &ab);
        if (!ab.base || ab.len == 0) {
            s->cbs->on_read(s, UV_ENOBUFS, &ab);
            return;
        }
        size_t k = ab.len < n ? ab.len : n;
        memcpy(ab.base, p, k);
        p += k;
        n -= k;
        s->cbs->on_read(s, (ssize_t)k, &ab);
    }
    if (n && !s->closing && s->ssl && s->state == ST_HANDSHAKE) {
        /* the owner started TLS in the middle of this chunk: the rest is TLS */
        s->in_p = p;
        s->in_len = n;
    }
}

static int handshake_step(tls_stream_t *s)
{
    int r = SSL_do_handshake(s->ssl);
    if (r == 1) {
        s->state = ST_OPEN;
        uv_timer_stop(&s->timer);
        flush(s);
        if (s->cbs->on_handshake)
            s->cbs->on_handshake(s, 0);
        return 0;
    }
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        flush(s);
        return 1;
    }
    int verify = SSL_get_verify_result(s->ssl) != X509_V_OK ||
                 ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE;
    note_error(s->ssl, "TLS handshake");
    fail(s, verify ? TLS_E_VERIFY : TLS_E_HANDSHAKE);
    return -1;
}

/* The peer will send nothing more: stop reading, and finish a pending graceful end. */
static void peer_finished(tls_stream_t *s)
{
    s->peer_done = 1;
    uv_read_stop((uv_stream_t *)&s->tcp);
    if (s->end_pending && s->shutdown_done && !s->closing)
        tls_stream_close(s);
}

static void send_close_notify(tls_stream_t *s)
{
    if (s->ssl && !s->notify_sent && (s->state == ST_OPEN || s->state == ST_SHUTDOWN)) {
        SSL_shutdown(s->ssl);
        ERR_clear_error();
        s->notify_sent = 1;
        s->state = ST_SHUTDOWN;
    }
}

/* Decrypt whatever the current chunk holds and hand the plaintext to the owner. */
static void process(tls_stream_t *s)
{
    s->in_read = 1;
    if (s->state == ST_HANDSHAKE && handshake_step(s) != 0)
        goto out;
    while ((s->state == ST_OPEN || s->state == ST_SHUTDOWN) && !s->closing) {
        uv_buf_t ab = {0};
        s->cbs->on_alloc(s, TLS_RECORD, &ab);
        if (!ab.base || ab.len == 0) {
            s->cbs->on_read(s, UV_ENOBUFS, &ab);
            break;
        }
        int n = SSL_read(s->ssl, ab.base, (int)(ab.len > INT32_MAX ? INT32_MAX : ab.len));
        if (n > 0) {
            s->cbs->on_read(s, n, &ab);
            continue;
        }
        int e = SSL_get_error(s->ssl, n);
        s->cbs->on_read(s, 0, &ab); /* the buffer goes back unused */
        if (e == SSL_ERROR_WANT_READ || s->closing)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            /* close_notify from the peer: answer with ours, then report the end */
            send_close_notify(s);
            flush(s);
            s->peer_done = 1;
            uv_read_stop((uv_stream_t *)&s->tcp);
            s->cbs->on_read(s, UV_EOF, NULL);
            peer_finished(s);
            break;
        }
        note_error(s->ssl, "TLS read");
        fail(s, TLS_E_PROTOCOL);
        break;
    }
    if (!s->closing)
        flush(s); /* tickets, key updates */
out:
    s->in_read = 0;
    s->in_p = NULL;
    s->in_len = 0;
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    tls_stream_t *s = (tls_stream_t *)st;
    if (nread == 0 || s->closing)
        return;
    if (nread < 0) {
        int ending = s->end_pending;
        peer_finished(s);
        if (ending)
            return; /* the owner already said goodbye */
        if (s->state == ST_HANDSHAKE) {
            snprintf(last_error, sizeof last_error, "TLS handshake: %s",
                     nread == UV_EOF ? "connection closed by the peer" : uv_strerror((int)nread));
            fail(s, TLS_E_HANDSHAKE);
        } else if (s->cbs->on_read) {
            s->cbs->on_read(s, nread, NULL);
        }
        return;
    }
    if (s->state == ST_PLAIN) {
        deliver_plain(s, buf->base, (size_t)nread);
        if (s->in_len && !s->closing)
            process(s);
        return;
    }
    if (s->state != ST_HANDSHAKE && s->state != ST_OPEN && s->state != ST_SHUTDOWN)
        return;
    s->in_p = buf->base;
    s->in_len = (size_t)nread;
    process(s);
}

/* ---------------------------------------------------------------- lifecycle */

static void timer_cb(uv_timer_t *t)
{
    tls_stream_t *s = t->data;
    if (s->end_pending && !s->closing) {
        tls_stream_close(s);
        return;
    }
    if (s->state == ST_HANDSHAKE && !s->closing) {
        snprintf(last_error, sizeof last_error, "TLS handshake: no complete handshake in %llu ms",
                 (unsigned long long)(s->handshake_timeout_ms ? s->handshake_timeout_ms
                                                              : TLS_DEFAULT_HANDSHAKE_MS));
        fail(s, TLS_E_TIMEOUT);
    }
}

int tls_stream_init(uv_loop_t *loop, tls_stream_t *s, const tls_stream_cbs_t *cbs, void *data)
{
    int r;
    memset(s, 0, sizeof *s);
    s->cbs = cbs;
    s->data = data;
    r = uv_tcp_init(loop, &s->tcp);
    if (r < 0)
        return r;
    r = uv_timer_init(loop, &s->timer);
    if (r < 0) {
        uv_close((uv_handle_t *)&s->tcp, NULL);
        return r;
    }
    s->tcp.data = s; /* the handles' data pointers belong to the stream */
    s->timer.data = s;
    s->handles_open = 2;
    return 0;
}

int tls_stream_read_plain(tls_stream_t *s)
{
    if (s->state != ST_INIT || s->closing)
        return TLS_E_STATE;
    s->state = ST_PLAIN;
    return uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb);
}

static int start(tls_stream_t *s, tls_ctx_t *ctx, int server)
{
    if ((s->state != ST_INIT && s->state != ST_PLAIN) || s->closing || s->ssl ||
        tls_ctx_is_server(ctx) != server)
        return TLS_E_STATE;
    SSL *ssl = tls_ctx_new_ssl(ctx);
    BIO *b = ssl ? bio_new(s) : NULL;
    if (!b) {
        SSL_free(ssl);
        return TLS_E_NOMEM;
    }
    BIO_up_ref(b);
    SSL_set0_rbio(ssl, b);
    SSL_set0_wbio(ssl, b);
    if (server)
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
    s->ssl = ssl;
    s->ctx = ctx;
    tls_ctx_ref(ctx);
    int was_reading = s->state == ST_PLAIN;
    s->state = ST_HANDSHAKE;
    uv_timer_start(&s->timer, timer_cb,
                   s->handshake_timeout_ms ? s->handshake_timeout_ms : TLS_DEFAULT_HANDSHAKE_MS, 0);
    if (!was_reading)
        return uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb);
    return 0;
}

int tls_stream_start_server(tls_stream_t *s, tls_ctx_t *ctx, const char *early, size_t nearly)
{
    int r = start(s, ctx, 1);
    if (r < 0)
        return r;
    if (nearly) {
        if (s->in_read) {
            /* called from inside a plain read: deliver_plain hands over the rest itself */
            return 0;
        }
        s->in_p = early;
        s->in_len = nearly;
        process(s);
    }
    return 0;
}

int tls_stream_start_client(tls_stream_t *s, tls_ctx_t *ctx, const char *expected_host)
{
    return tls_stream_start_client_sni(s, ctx, expected_host, NULL);
}

int tls_stream_start_client_sni(tls_stream_t *s, tls_ctx_t *ctx, const char *expected_host,
                                const char *sni)
{
    int r = start(s, ctx, 0);
    if (r < 0)
        return r;
    /* a DNS name from SRV usually ends with a dot: neither SNI (RFC 6066) nor the
     * certificate check wants it */
    char host[256];
    if (expected_host) {
        size_t hl = strlen(expected_host);
        if (hl > 1 && expected_host[hl - 1] == '.')
            hl--;
        if (hl == 0 || hl >= sizeof host)
            return TLS_E_STATE;
        memcpy(host, expected_host, hl);
        host[hl] = '\0';
        expected_host = host;
    }
    if (tls_ctx_client_prepare(ctx, s->ssl, expected_host) < 0)
        return TLS_E_NOMEM;
    if (expected_host) {
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(expected_host);
        SSL_set_hostflags(s->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (ip) {
            ASN1_OCTET_STRING_free(ip);
            X509_VERIFY_PARAM *vp = SSL_get0_param(s->ssl);
            r = X509_VERIFY_PARAM_set1_ip_asc(vp, expected_host) == 1 ? 0 : TLS_E_STATE;
        } else {
            r = SSL_set1_host(s->ssl, expected_host) == 1 &&
                        SSL_set_tlsext_host_name(s->ssl, (sni ? sni : expected_host)) == 1
                    ? 0
                    : TLS_E_STATE;
        }
        ERR_clear_error();
        if (r < 0)
            return r;
    }
    handshake_step(s); /* the ClientHello */
    return 0;
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    tls_stream_t *s = req->data;
    (void)status; /* a failed half-close shows up as a read error, or does not matter now */
    free(req);
    s->shutdown_done = 1;
    if (s->end_pending && s->peer_done)
        tls_stream_close(s);
}

int tls_stream_shutdown(tls_stream_t *s)
{
    if (s->closing || s->shutdown_sent)
        return TLS_E_STATE;
    send_close_notify(s);
    int r = flush(s);
    if (r < 0)
        return r;
    uv_shutdown_t *req = malloc(sizeof *req);
    if (!req)
        return TLS_E_NOMEM;
    req->data = s;
    /* libuv sends the FIN after every queued write */
    r = uv_shutdown(req, (uv_stream_t *)&s->tcp, shutdown_cb);
    if (r < 0) {
        free(req);
        return r;
    }
    s->shutdown_sent = 1;
    return 0;
}

void tls_stream_end(tls_stream_t *s)
{
    if (s->closing || s->end_pending)
        return;
    s->end_pending = 1;
    if ((s->shutdown_done && s->peer_done) || (!s->shutdown_sent && tls_stream_shutdown(s) < 0)) {
        tls_stream_close(s);
        return;
    }
    /* a peer that never answers our close_notify does not keep the connection */
    uv_timer_start(&s->timer, timer_cb, TLS_LINGER_MS, 0);
}

static void close_cb(uv_handle_t *h)
{
    tls_stream_t *s = h->data;
    if (--s->handles_open > 0)
        return;
    free(s->out);
    s->out = NULL;
    SSL_free(s->ssl);
    s->ssl = NULL;
    if (s->ctx)
        tls_ctx_free(s->ctx);
    s->ctx = NULL;
    if (s->cbs->on_close)
        s->cbs->on_close(s);
}

void tls_stream_close(tls_stream_t *s)
{
    if (s->closing)
        return;
    s->closing = 1;
    uv_close((uv_handle_t *)&s->tcp, close_cb);
    uv_close((uv_handle_t *)&s->timer, close_cb);
}

/* ---------------------------------------------------------------- peer identity */

static X509 *verified_peer(const tls_stream_t *s)
{
    if (!s->ssl || (s->state != ST_OPEN && s->state != ST_SHUTDOWN))
        return NULL;
    X509 *x = SSL_get0_peer_certificate(s->ssl);
    if (!x || SSL_get_verify_result(s->ssl) != X509_V_OK)
        return NULL;
    return x;
}

int tls_stream_peer_verified(const tls_stream_t *s)
{
    return verified_peer(s) != NULL;
}

int tls_stream_peer_dns(const tls_stream_t *s, size_t i, char *buf, size_t buflen)
{
    X509 *x = verified_peer(s);
    GENERAL_NAMES *gens;
    int ret = -1;
    if (!x || !(gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL)))
        return -1;
    for (int k = 0, seen = 0; k < sk_GENERAL_NAME_num(gens); k++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, k);
        if (g->type != GEN_DNS)
            continue;
        if ((size_t)seen++ != i)
            continue;
        const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
        int len = ASN1_STRING_length(g->d.dNSName);
        /* a NUL inside a DNS name is an attack on C string handling: never report it */
        if (len > 0 && (size_t)len < buflen && !memchr(d, '\0', (size_t)len)) {
            memcpy(buf, d, (size_t)len);
            buf[len] = '\0';
            ret = len;
        }
        break;
    }
    GENERAL_NAMES_free(gens);
    return ret;
}

int tls_stream_peer_matches(const tls_stream_t *s, const char *name, size_t len)
{
    X509 *x = verified_peer(s);
    return x && len > 0 &&
           X509_check_host(x, name, len, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
}

const char *tls_stream_version(const tls_stream_t *s)
{
    return s->ssl ? SSL_get_version(s->ssl) : "";
}

const char *tls_stream_alpn(const tls_stream_t *s, size_t *len)
{
    const unsigned char *p = NULL;
    unsigned l = 0;
    if (s->ssl)
        SSL_get0_alpn_selected(s->ssl, &p, &l);
    *len = l;
    return p ? (const char *)p : "";
}

int tls_stream_resumed(const tls_stream_t *s)
{
    return s->ssl && SSL_session_reused(s->ssl);
}
