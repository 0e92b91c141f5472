/*
 * tls_internal.h - what tls_ctx.c and tls_stream.c share inside the tls/ module: the context
 * structure and the per-connection entry points into it. Not for other modules.
 */
#ifndef EDGE_TLS_INTERNAL_H
#define EDGE_TLS_INTERNAL_H

#include "tls.h"

#define TLS_CLIENT_SESSIONS 64

typedef struct {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
} tls_ticket_key_t;

/* One SSL_CTX per certificate of a listener (index 0 the default), or one for a client. */
typedef struct {
    SSL_CTX **ctx;
    size_t n;
} tls_ctx_set_t;

struct tls_ctx {
    int is_server;
    int refs;                 /* the owner's, plus one per stream using it */
    tls_server_conf_t server; /* copies of the strings, for reload */
    tls_client_conf_t client;
    unsigned char *alpn; /* wire format */
    size_t alpn_len;
    tls_ctx_set_t *set;
    tls_ticket_key_t tickets[2]; /* current, previous */
    int have_prev;
    /* client: the last resumable session per peer name, so reconnections skip the full
     * handshake (outbound links to the pool and to partners reconnect often) */
    struct {
        char *host;
        SSL_SESSION *sess;
    } sessions[TLS_CLIENT_SESSIONS];
    size_t next_session;
};

void tls_ctx_ref(tls_ctx_t *ctx);
/* A new SSL from the current context set. */
SSL *tls_ctx_new_ssl(tls_ctx_t *ctx);
int tls_ctx_is_server(const tls_ctx_t *ctx);
/* Client: remember 'host' on ssl and resume its last session if there is one. */
int tls_ctx_client_prepare(tls_ctx_t *ctx, SSL *ssl, const char *host);

#endif
