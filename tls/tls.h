/*
 * tls.h - OpenSSL 3 bound to libuv TCP streams, for every connection the edge carries: server
 * contexts per listener (certificate chains, SNI, client-certificate policy, resumption, ALPN),
 * client contexts for outbound MTLS (peer name verification per RFC 6125), and one tls_stream_t
 * per connection that turns ciphertext from the socket into plaintext for its owner and packs
 * the owner's iovecs into as few records as possible.
 *
 * Memory: an idle stream holds no buffer of its own. Ciphertext is read into one buffer per
 * thread and decrypted at once; outgoing records live in a write request only until the kernel
 * has them; OpenSSL releases its record buffers (SSL_MODE_RELEASE_BUFFERS).
 */
#ifndef EDGE_TLS_H
#define EDGE_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <openssl/ssl.h>
#include <uv.h>

/* ---------------------------------------------------------------- errors */

/*
 * Stream callbacks report 0, a negative libuv error (UV_EOF when the peer closed cleanly,
 * UV_ECONNRESET...), or one of these, all below libuv's range. tls_strerror names either.
 */
enum {
    TLS_E_HANDSHAKE = -20001, /* handshake failed (protocol, cipher, alert from the peer) */
    TLS_E_VERIFY = -20002,    /* the peer's certificate did not verify or did not match */
    TLS_E_TIMEOUT = -20003,   /* no complete handshake within the handshake timeout */
    TLS_E_PROTOCOL = -20004,  /* a TLS error after the handshake (bad record, bad MAC) */
    TLS_E_STATE = -20005,     /* the call does not fit the stream's state */
    TLS_E_QUEUE = -20006,     /* the write would exceed the stream's queue limit */
    TLS_E_NOMEM = -20007,
};

const char *tls_strerror(int err);

/* ---------------------------------------------------------------- contexts */

typedef enum {
    TLS_VERIFY_NONE = 0, /* no client certificate asked for */
    TLS_VERIFY_OPTIONAL, /* asked for; a client may send none, but one it sends must verify */
    TLS_VERIFY_REQUIRED, /* mutual TLS: no verified client certificate, no connection */
    TLS_VERIFY_REQUEST   /* asked for, never a reason to fail the handshake: the owner reads
                            tls_stream_peer_verified (XMPP s2s: SASL EXTERNAL or dialback) */
} tls_verify_t;

typedef struct {
    const char *cert_file; /* PEM chain, leaf first */
    const char *key_file;  /* PEM private key */
} tls_cert_conf_t;

typedef struct {
    const tls_cert_conf_t *certs; /* the first is the default; SNI picks another whose names
                                     match the requested server name */
    size_t ncerts;
    const char *ca_file; /* CA bundle for client certificates (needed unless verify NONE) */
    tls_verify_t verify;
    int verify_depth;         /* 0: default 4 */
    const char *ciphers;      /* TLS 1.2 cipher list; NULL: forward-secret AEAD only */
    const char *ciphersuites; /* TLS 1.3 suites; NULL: OpenSSL's defaults */
    const char *const *alpn;  /* protocols this listener speaks, in preference order */
    size_t nalpn;
    size_t session_cache_size; /* TLS 1.2 session-ID cache entries; 0: 1024 */
    long session_timeout;      /* seconds; 0: 3600 */
} tls_server_conf_t;

typedef struct {
    const char *cert_file; /* our client certificate (MTLS), NULL for none */
    const char *key_file;
    const char *ca_file; /* whom to trust; required */
    int verify_depth;
    const char *ciphers;
    const char *ciphersuites;
    const char *const *alpn;
    size_t nalpn;
    int verify_lenient; /* the handshake goes on whatever the server's certificate; the owner
                           decides with tls_stream_peer_verified (XMPP dialback) */
} tls_client_conf_t;

typedef struct tls_ctx tls_ctx_t;

/*
 * Build a server or client context. A client context remembers the last session (ticket) per
 * peer name and resumes it on the next tls_stream_start_client for that name. On failure returns
 * NULL and writes a message naming the file and the defect (unreadable, not a certificate, key does
 * not match, expired...) to err. The configuration's strings are copied: tls_ctx_reload reads the
 * same files again.
 */
tls_ctx_t *tls_server_ctx_new(const tls_server_conf_t *conf, char *err, size_t errlen);
tls_ctx_t *tls_client_ctx_new(const tls_client_conf_t *conf, char *err, size_t errlen);

/*
 * Load certificates, keys and CAs again from the same files. Established connections keep the
 * context they started with; new handshakes use the new one. On failure the old context stays in
 * use and err says why. Returns 0 or -1.
 */
int tls_ctx_reload(tls_ctx_t *ctx, char *err, size_t errlen);

/*
 * Session tickets are encrypted with a key that should change regularly: this makes a new
 * current key and keeps the previous one for decryption only (its tickets are renewed). The
 * owner calls it from a timer; keys never leave the process.
 */
void tls_ctx_rotate_ticket_keys(tls_ctx_t *ctx);

/* Drop the owner's reference; the context lives on while streams still use it. */
void tls_ctx_free(tls_ctx_t *ctx);

/* ---------------------------------------------------------------- streams */

typedef struct tls_stream tls_stream_t;

typedef struct {
    /* The handshake finished (status 0) or failed (negative). Not called in plain mode. */
    void (*on_handshake)(tls_stream_t *s, int status);
    /* Like libuv: give a buffer for plaintext, then receive it (nread > 0), nothing (0), or the
     * end (UV_EOF after close_notify or a clean TCP end) or an error (negative). */
    void (*on_alloc)(tls_stream_t *s, size_t suggested, uv_buf_t *buf);
    void (*on_read)(tls_stream_t *s, ssize_t nread, const uv_buf_t *buf);
    /* Everything written so far has reached the kernel (optional): resume the other side. */
    void (*on_drain)(tls_stream_t *s);
    /* Handles closed and TLS state freed: the owner may free the memory holding s. */
    void (*on_close)(tls_stream_t *s);
} tls_stream_cbs_t;

struct tls_stream {
    uv_tcp_t tcp; /* owned by the stream; accept into it or connect it before tls_stream_start */
    uv_timer_t timer; /* handshake timeout */
    SSL *ssl;         /* NULL in plain mode */
    tls_ctx_t *ctx;
    const tls_stream_cbs_t *cbs;
    void *data;           /* the owner's */
    struct tls_wreq *out; /* records being assembled, not yet handed to libuv */
    const char *in_p;     /* ciphertext of the current read, consumed by the BIO */
    size_t in_len;
    size_t queued;                 /* bytes handed to libuv and not yet written */
    size_t max_queue;              /* writes past this fail with TLS_E_QUEUE; 0: 1 MiB */
    uint64_t handshake_timeout_ms; /* 0: 10 s */
    uint8_t state;
    uint8_t closing;
    uint8_t handles_open;
    uint8_t in_read;
    uint8_t notify_sent;   /* our close_notify is out */
    uint8_t shutdown_sent; /* TCP half-close requested */
    uint8_t shutdown_done;
    uint8_t end_pending; /* close once both ends have finished */
    uint8_t peer_done;   /* close_notify or TCP end received */
};

/* Prepare s (its tcp handle included) on loop, in plain mode. */
int tls_stream_init(uv_loop_t *loop, tls_stream_t *s, const tls_stream_cbs_t *cbs, void *data);

/* Start reading and writing in plain mode (STARTTLS protocols); tls_stream_start_* upgrades. */
int tls_stream_read_plain(tls_stream_t *s);

/*
 * Start TLS on a connected tcp handle: as the server (ctx from tls_server_ctx_new) or as the
 * client (ctx from tls_client_ctx_new; expected_host is the name the peer's certificate must
 * carry, also sent as SNI). 'early' holds bytes already read in plain mode that belong to the
 * TLS stream (after a STARTTLS command), usually none.
 */
int tls_stream_start_server(tls_stream_t *s, tls_ctx_t *ctx, const char *early, size_t nearly);
int tls_stream_start_client(tls_stream_t *s, tls_ctx_t *ctx, const char *expected_host);
/* The same with another name in SNI than the one checked in the certificate (XMPP: SNI names
 * the stream's domain, the certificate a server of the deployment); sni NULL: expected_host. */
int tls_stream_start_client_sni(tls_stream_t *s, tls_ctx_t *ctx, const char *expected_host,
                                const char *sni);

/*
 * Encrypt and queue iov (plaintext, or raw bytes in plain mode). The data is packed into records
 * of up to 16 KiB and handed to libuv in one write; the iovec may be reused on return. Fails with
 * TLS_E_QUEUE past max_queue (stop feeding this stream until on_drain), TLS_E_STATE before the
 * handshake has finished or after shutdown.
 */
int tls_stream_write(tls_stream_t *s, const struct iovec *iov, size_t iovcnt);

/* Bytes queued toward the kernel: the relay pauses its other side above a high-water mark. */
size_t tls_stream_write_queue_size(const tls_stream_t *s);

/*
 * Flow control for relays: stop reading from the socket (what was already read is still
 * delivered), and start again (no effect once the stream has ended or failed). 0 or a libuv
 * error.
 */
int tls_stream_read_pause(tls_stream_t *s);
int tls_stream_read_resume(tls_stream_t *s);

/* Send close_notify (once) and then end the TCP stream for writing; reading goes on. */
int tls_stream_shutdown(tls_stream_t *s);

/*
 * End the connection gracefully: close_notify (if not sent yet), everything queued written, TCP
 * half-close, then wait for the peer's close_notify or end of stream (at most 5 s) and close.
 * Use it after UV_EOF or to hang up without losing data.
 */
void tls_stream_end(tls_stream_t *s);

/* Close everything now (queued writes are dropped); on_close follows. Safe to call from any
 * callback, more than once. */
void tls_stream_close(tls_stream_t *s);

/* Whether the handshake finished and the peer presented a certificate that verified. */
int tls_stream_peer_verified(const tls_stream_t *s);

/*
 * The verified peer certificate's subjectAltName DNS names, one at a time: copies name i into buf
 * (NUL-terminated) and returns its length; -1 past the end, when the peer is not verified, or
 * when the name does not fit.
 */
int tls_stream_peer_dns(const tls_stream_t *s, size_t i, char *buf, size_t buflen);

/* Whether the verified peer certificate is valid for this DNS name (RFC 6125 wildcards). */
int tls_stream_peer_matches(const tls_stream_t *s, const char *name, size_t len);

/* Negotiated protocol and ALPN for logs ("TLSv1.3", "sip"); "" when none. */
const char *tls_stream_version(const tls_stream_t *s);
const char *tls_stream_alpn(const tls_stream_t *s, size_t *len);

/* Whether the session was resumed (ticket or cache). */
int tls_stream_resumed(const tls_stream_t *s);

/*
 * Why the last handshake or TLS error on this thread happened, in words (OpenSSL's reason and,
 * for certificate failures, the verification result). Valid until the next failure.
 */
const char *tls_last_error(void);

#endif
