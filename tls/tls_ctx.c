/*
 * tls_ctx.c - server and client TLS contexts: loading certificates, keys and CAs with errors that
 * name the file, SNI among several certificates, client-certificate policy, ALPN, session
 * resumption (a TLS 1.2 session cache and stateless tickets under keys that rotate), and reload
 * that swaps in new SSL_CTXs while established connections keep their own.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "tls_internal.h"

/* TLS 1.2: forward-secret AEAD suites only; TLS 1.3 suites all qualify. */
#define TLS_DEFAULT_CIPHERS                                                                        \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_DEFAULT_GROUPS "X25519:P-256:P-384"
#define TLS_SID_CONTEXT    "edgeproxy"

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* The first queued OpenSSL error as text, and the queue cleared. */
static const char *ossl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (!e) {
        snprintf(buf, len, "no detail from OpenSSL");
    } else {
        const char *r = ERR_reason_error_string(e);
        snprintf(buf, len, "%s", r ? r : "unknown OpenSSL error");
    }
    ERR_clear_error();
    return buf;
}

/* A certificate's validity window, judged now: expired or not yet valid is a load error. */
static int check_dates(X509 *x, const char *file, char *err, size_t errlen)
{
    const ASN1_TIME *na = X509_get0_notAfter(x), *nb = X509_get0_notBefore(x);
    char when[64] = "";
    if (X509_cmp_current_time(na) < 0) {
        BIO *b = BIO_new(BIO_s_mem());
        int n = b && ASN1_TIME_print(b, na) > 0 ? BIO_read(b, when, sizeof when - 1) : 0;
        when[n > 0 ? n : 0] = '\0';
        BIO_free(b);
        snprintf(err, errlen, "%s: certificate expired (not after %s)", file, when);
        return -1;
    }
    if (X509_cmp_current_time(nb) > 0) {
        snprintf(err, errlen, "%s: certificate is not valid yet", file);
        return -1;
    }
    return 0;
}

/* OpenSSL says "system lib" for a missing file: say what the system said. */
static int readable(const char *file, const char *what, char *err, size_t errlen)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read %s: %s", file, what, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

static int load_cert_key(SSL_CTX *c, const char *cert, const char *key, char *err, size_t errlen)
{
    char why[160];
    if (!cert || !key) {
        snprintf(err, errlen, "a certificate needs both a certificate file and a key file");
        return -1;
    }
    if (readable(cert, "certificate chain", err, errlen) < 0 ||
        readable(key, "private key", err, errlen) < 0)
        return -1;
    if (SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
        snprintf(err, errlen, "%s: cannot load certificate chain: %s", cert,
                 ossl_reason(why, sizeof why));
        return -1;
    }
    if (check_dates(SSL_CTX_get0_certificate(c), cert, err, errlen) < 0)
        return -1;
    if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            snprintf(err, errlen, "%s: private key does not match the certificate in %s", key,
                     cert);
        } else {
            snprintf(err, errlen, "%s: cannot load private key: %s", key,
                     ossl_reason(why, sizeof why));
        }
        return -1;
    }
    if (SSL_CTX_check_private_key(c) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "%s: private key does not match the certificate in %s", key, cert);
        return -1;
    }
    return 0;
}

static int load_ca(SSL_CTX *c, const char *ca, char *err, size_t errlen)
{
    char why[160];
    if (readable(ca, "CA certificates", err, errlen) < 0)
        return -1;
    if (SSL_CTX_load_verify_locations(c, ca, NULL) != 1) {
        snprintf(err, errlen, "%s: cannot load CA certificates: %s", ca,
                 ossl_reason(why, sizeof why));
        return -1;
    }
    return 0;
}

/* ALPN protocols in wire format (length-prefixed). */
static int alpn_wire(const char *const *alpn, size_t n, unsigned char **out, size_t *outlen,
                     char *err, size_t errlen)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(alpn[i]);
        if (l == 0 || l > 255) {
            snprintf(err, errlen, "ALPN protocol name '%s' must be 1-255 bytes", alpn[i]);
            return -1;
        }
        len += l + 1;
    }
    *out = NULL;
    *outlen = 0;
    if (!n)
        return 0;
    unsigned char *w = malloc(len), *p = w;
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(alpn[i]);
        *p++ = (unsigned char)l;
        memcpy(p, alpn[i], l);
        p += l;
    }
    *out = w;
    *outlen = len;
    return 0;
}

/* Settings every context shares: protocol floor, ciphers, groups, buffers, renegotiation. */
static int common_setup(SSL_CTX *c, const char *ciphers, const char *suites, char *err,
                        size_t errlen)
{
    char why[160];
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_set_cipher_list(c, ciphers ? ciphers : TLS_DEFAULT_CIPHERS) != 1) {
        snprintf(err, errlen, "cipher list '%s' selects no cipher: %s",
                 ciphers ? ciphers : TLS_DEFAULT_CIPHERS, ossl_reason(why, sizeof why));
        return -1;
    }
    if (suites && SSL_CTX_set_ciphersuites(c, suites) != 1) {
        snprintf(err, errlen, "TLS 1.3 cipher suites '%s' are not valid: %s", suites,
                 ossl_reason(why, sizeof why));
        return -1;
    }
    if (SSL_CTX_set1_groups_list(c, TLS_DEFAULT_GROUPS) != 1) {
        snprintf(err, errlen, "cannot set key exchange groups: %s", ossl_reason(why, sizeof why));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- session tickets */

static void ticket_key_new(tls_ticket_key_t *k)
{
    RAND_bytes(k->name, sizeof k->name);
    RAND_priv_bytes(k->aes, sizeof k->aes);
    RAND_priv_bytes(k->hmac, sizeof k->hmac);
}

void tls_ctx_rotate_ticket_keys(tls_ctx_t *ctx)
{
    ctx->tickets[1] = ctx->tickets[0];
    ctx->have_prev = 1;
    ticket_key_new(&ctx->tickets[0]);
}

/* RFC 5077 style: AES-256-CBC + HMAC-SHA256 under the current key; the previous key still
 * decrypts and asks for a new ticket (return 2), as every TLS 1.3 resumption does. */
static int ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *ectx,
                     EVP_MAC_CTX *hctx, int enc)
{
    tls_ctx_t *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    const tls_ticket_key_t *k = NULL;
    int ret = 1;
    OSSL_PARAM params[3];

    if (!ctx)
        return -1;
    if (enc) {
        k = &ctx->tickets[0];
        memcpy(name, k->name, sizeof k->name);
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1 ||
            EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1)
            return -1;
    } else {
        if (memcmp(name, ctx->tickets[0].name, sizeof ctx->tickets[0].name) == 0) {
            k = &ctx->tickets[0];
            /* TLS 1.3 tickets are meant for one use (RFC 8446 C.4): always hand out a fresh one,
             * or a client that resumes once has nothing left to resume with */
            if (SSL_version(ssl) == TLS1_3_VERSION)
                ret = 2;
        } else if (ctx->have_prev &&
                   memcmp(name, ctx->tickets[1].name, sizeof ctx->tickets[1].name) == 0) {
            k = &ctx->tickets[1];
            ret = 2;
        } else {
            return 0; /* unknown key: full handshake */
        }
        if (EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1)
            return -1;
    }
    params[0] =
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac, sizeof k->hmac);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    if (EVP_MAC_CTX_set_params(hctx, params) != 1)
        return -1;
    return ret;
}

/* ---------------------------------------------------------------- SNI and ALPN */

static int sni_cb(SSL *ssl, int *alert, void *arg)
{
    tls_ctx_t *ctx = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    (void)alert;
    if (!name || ctx->set->n <= 1)
        return SSL_TLSEXT_ERR_OK;
    for (size_t i = 1; i < ctx->set->n; i++) {
        X509 *x = SSL_CTX_get0_certificate(ctx->set->ctx[i]);
        if (x && X509_check_host(x, name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1) {
            SSL_set_SSL_CTX(ssl, ctx->set->ctx[i]);
            break;
        }
    }
    return SSL_TLSEXT_ERR_OK; /* no match: the default certificate */
}

static int alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned int inlen, void *arg)
{
    tls_ctx_t *ctx = arg;
    unsigned char *sel = NULL;
    (void)ssl;
    if (SSL_select_next_proto(&sel, outlen, ctx->alpn, (unsigned)ctx->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL; /* RFC 7301: no protocol in common */
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* ---------------------------------------------------------------- building */

/* Lenient verification: the chain and name are still checked and the result kept
 * (SSL_get_verify_result, so tls_stream_peer_verified tells), but a failure does not end the
 * handshake. */
static int verify_keep_going(int ok, X509_STORE_CTX *store)
{
    (void)ok;
    (void)store;
    return 1;
}

static void set_free(tls_ctx_set_t *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        SSL_CTX_free(set->ctx[i]);
    free(set->ctx);
    free(set);
}

static int verify_mode(tls_verify_t v)
{
    switch (v) {
    case TLS_VERIFY_REQUIRED:
        return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    case TLS_VERIFY_OPTIONAL:
    case TLS_VERIFY_REQUEST:
        return SSL_VERIFY_PEER;
    default:
        return SSL_VERIFY_NONE;
    }
}

static SSL_CTX *server_one(tls_ctx_t *ctx, const tls_cert_conf_t *cert, char *err, size_t errlen)
{
    const tls_server_conf_t *sc = &ctx->server;
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    if (!c) {
        snprintf(err, errlen, "out of memory creating a TLS context");
        return NULL;
    }
    if (common_setup(c, sc->ciphers, sc->ciphersuites, err, errlen) < 0 ||
        load_cert_key(c, cert->cert_file, cert->key_file, err, errlen) < 0)
        goto fail;
    if (sc->verify != TLS_VERIFY_NONE) {
        STACK_OF(X509_NAME) * names;
        if (!sc->ca_file) {
            snprintf(err, errlen, "%s: client certificates are asked for but no CA file is set",
                     cert->cert_file);
            goto fail;
        }
        if (load_ca(c, sc->ca_file, err, errlen) < 0)
            goto fail;
        names = SSL_load_client_CA_file(sc->ca_file);
        if (names)
            SSL_CTX_set_client_CA_list(c, names);
        ERR_clear_error();
    }
    SSL_CTX_set_verify(c, verify_mode(sc->verify),
                       sc->verify == TLS_VERIFY_REQUEST ? verify_keep_going : NULL);
    SSL_CTX_set_verify_depth(c, sc->verify_depth ? sc->verify_depth : 4);
    SSL_CTX_set_session_id_context(c, (const unsigned char *)TLS_SID_CONTEXT,
                                   sizeof TLS_SID_CONTEXT - 1);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(c, sc->session_cache_size ? (long)sc->session_cache_size : 1024);
    SSL_CTX_set_timeout(c, sc->session_timeout ? sc->session_timeout : 3600);
    SSL_CTX_set_num_tickets(c, 1);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(c, ticket_cb);
    SSL_CTX_set_app_data(c, ctx);
    SSL_CTX_set_tlsext_servername_callback(c, sni_cb);
    SSL_CTX_set_tlsext_servername_arg(c, ctx);
    if (ctx->alpn_len)
        SSL_CTX_set_alpn_select_cb(c, alpn_select_cb, ctx);
    return c;
fail:
    SSL_CTX_free(c);
    return NULL;
}

/* ---------------------------------------------------------------- client sessions */

static int host_index = -1;
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void host_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    free(ptr);
}

static void host_index_init(void)
{
    host_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, host_free);
}

/* A session (TLS 1.2) or ticket (TLS 1.3) arrived: keep it as the one for this peer name. */
static int client_new_session(SSL *ssl, SSL_SESSION *sess)
{
    tls_ctx_t *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    const char *host = host_index >= 0 ? SSL_get_ex_data(ssl, host_index) : NULL;
    size_t slot = TLS_CLIENT_SESSIONS;
    if (!ctx || !host)
        return 0;
    for (size_t i = 0; i < TLS_CLIENT_SESSIONS; i++) {
        if (ctx->sessions[i].host && strcmp(ctx->sessions[i].host, host) == 0) {
            slot = i;
            break;
        }
    }
    if (slot == TLS_CLIENT_SESSIONS) {
        char *h = strdup(host);
        if (!h)
            return 0;
        slot = ctx->next_session++ % TLS_CLIENT_SESSIONS;
        free(ctx->sessions[slot].host);
        ctx->sessions[slot].host = h;
    }
    SSL_SESSION_free(ctx->sessions[slot].sess);
    ctx->sessions[slot].sess = sess;
    return 1; /* we keep the reference */
}

int tls_ctx_client_prepare(tls_ctx_t *ctx, SSL *ssl, const char *host)
{
    char *h;
    pthread_once(&host_once, host_index_init);
    if (!host || host_index < 0)
        return 0;
    h = strdup(host);
    if (!h || SSL_set_ex_data(ssl, host_index, h) != 1) {
        free(h);
        return -1;
    }
    for (size_t i = 0; i < TLS_CLIENT_SESSIONS; i++) {
        if (ctx->sessions[i].host && strcmp(ctx->sessions[i].host, host) == 0 &&
            SSL_SESSION_is_resumable(ctx->sessions[i].sess))
            return SSL_set_session(ssl, ctx->sessions[i].sess) == 1 ? 0 : -1;
    }
    return 0;
}

static SSL_CTX *client_one(tls_ctx_t *ctx, char *err, size_t errlen)
{
    const tls_client_conf_t *cc = &ctx->client;
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    if (!c) {
        snprintf(err, errlen, "out of memory creating a TLS context");
        return NULL;
    }
    if (common_setup(c, cc->ciphers, cc->ciphersuites, err, errlen) < 0)
        goto fail;
    if (!cc->ca_file) {
        snprintf(err, errlen, "an outbound TLS context needs a CA file to verify its peers");
        goto fail;
    }
    if (load_ca(c, cc->ca_file, err, errlen) < 0)
        goto fail;
    if ((cc->cert_file || cc->key_file) &&
        load_cert_key(c, cc->cert_file, cc->key_file, err, errlen) < 0)
        goto fail;
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, cc->verify_lenient ? verify_keep_going : NULL);
    SSL_CTX_set_verify_depth(c, cc->verify_depth ? cc->verify_depth : 4);
    if (ctx->alpn_len && SSL_CTX_set_alpn_protos(c, ctx->alpn, (unsigned)ctx->alpn_len) != 0) {
        snprintf(err, errlen, "cannot set ALPN protocols");
        goto fail;
    }
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(c, client_new_session);
    SSL_CTX_set_app_data(c, ctx);
    return c;
fail:
    SSL_CTX_free(c);
    return NULL;
}

static tls_ctx_set_t *build_set(tls_ctx_t *ctx, char *err, size_t errlen)
{
    size_t n = ctx->is_server ? ctx->server.ncerts : 1;
    tls_ctx_set_t *set = calloc(1, sizeof *set);
    if (!set || !(set->ctx = calloc(n, sizeof *set->ctx))) {
        free(set);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        set->ctx[i] = ctx->is_server ? server_one(ctx, &ctx->server.certs[i], err, errlen)
                                     : client_one(ctx, err, errlen);
        if (!set->ctx[i]) {
            set_free(set);
            return NULL;
        }
        set->n = i + 1;
    }
    return set;
}

static void conf_free(tls_ctx_t *ctx)
{
    if (ctx->is_server) {
        for (size_t i = 0; i < ctx->server.ncerts; i++) {
            free((char *)ctx->server.certs[i].cert_file);
            free((char *)ctx->server.certs[i].key_file);
        }
        free((tls_cert_conf_t *)ctx->server.certs);
        free((char *)ctx->server.ca_file);
        free((char *)ctx->server.ciphers);
        free((char *)ctx->server.ciphersuites);
    } else {
        free((char *)ctx->client.cert_file);
        free((char *)ctx->client.key_file);
        free((char *)ctx->client.ca_file);
        free((char *)ctx->client.ciphers);
        free((char *)ctx->client.ciphersuites);
    }
    free(ctx->alpn);
}

static tls_ctx_t *finish(tls_ctx_t *ctx, const char *const *alpn, size_t nalpn, char *err,
                         size_t errlen)
{
    if (alpn_wire(alpn, nalpn, &ctx->alpn, &ctx->alpn_len, err, errlen) < 0)
        goto fail;
    ticket_key_new(&ctx->tickets[0]);
    ctx->set = build_set(ctx, err, errlen);
    if (!ctx->set)
        goto fail;
    ctx->refs = 1;
    return ctx;
fail:
    conf_free(ctx);
    free(ctx);
    return NULL;
}

tls_ctx_t *tls_server_ctx_new(const tls_server_conf_t *conf, char *err, size_t errlen)
{
    tls_ctx_t *ctx;
    tls_cert_conf_t *certs;
    if (!conf->ncerts) {
        snprintf(err, errlen, "a TLS listener needs at least one certificate");
        return NULL;
    }
    ctx = calloc(1, sizeof *ctx);
    certs = calloc(conf->ncerts, sizeof *certs);
    if (!ctx || !certs) {
        free(ctx);
        free(certs);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ctx->is_server = 1;
    ctx->server = *conf;
    for (size_t i = 0; i < conf->ncerts; i++) {
        certs[i].cert_file = dup_or_null(conf->certs[i].cert_file);
        certs[i].key_file = dup_or_null(conf->certs[i].key_file);
    }
    ctx->server.certs = certs;
    ctx->server.ca_file = dup_or_null(conf->ca_file);
    ctx->server.ciphers = dup_or_null(conf->ciphers);
    ctx->server.ciphersuites = dup_or_null(conf->ciphersuites);
    ctx->server.alpn = NULL;
    return finish(ctx, conf->alpn, conf->nalpn, err, errlen);
}

tls_ctx_t *tls_client_ctx_new(const tls_client_conf_t *conf, char *err, size_t errlen)
{
    tls_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ctx->client = *conf;
    ctx->client.cert_file = dup_or_null(conf->cert_file);
    ctx->client.key_file = dup_or_null(conf->key_file);
    ctx->client.ca_file = dup_or_null(conf->ca_file);
    ctx->client.ciphers = dup_or_null(conf->ciphers);
    ctx->client.ciphersuites = dup_or_null(conf->ciphersuites);
    ctx->client.alpn = NULL;
    return finish(ctx, conf->alpn, conf->nalpn, err, errlen);
}

int tls_ctx_reload(tls_ctx_t *ctx, char *err, size_t errlen)
{
    tls_ctx_set_t *set = build_set(ctx, err, errlen);
    if (!set)
        return -1;
    /* live SSL objects hold references to the SSL_CTXs they were made from */
    set_free(ctx->set);
    ctx->set = set;
    return 0;
}

void tls_ctx_ref(tls_ctx_t *ctx)
{
    ctx->refs++;
}

void tls_ctx_free(tls_ctx_t *ctx)
{
    if (!ctx || --ctx->refs > 0)
        return;
    set_free(ctx->set);
    conf_free(ctx);
    for (size_t i = 0; i < TLS_CLIENT_SESSIONS; i++) {
        free(ctx->sessions[i].host);
        SSL_SESSION_free(ctx->sessions[i].sess);
    }
    OPENSSL_cleanse(ctx->tickets, sizeof ctx->tickets);
    free(ctx);
}

SSL *tls_ctx_new_ssl(tls_ctx_t *ctx)
{
    return SSL_new(ctx->set->ctx[0]);
}

int tls_ctx_is_server(const tls_ctx_t *ctx)
{
    return ctx->is_server;
}
