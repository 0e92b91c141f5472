/*
 * s2s.h - XMPP server-to-server stream negotiation as a pure state machine: stream headers,
 * STARTTLS, SASL EXTERNAL (XEP-0178), Server Dialback (XEP-0220, keys per XEP-0185), domain
 * pairs, and the addressing check on every stanza. The proxy owns the sockets, TLS, DNS and
 * timers; it feeds in the stream reader's events and the outcomes of what it was asked to do,
 * and takes out actions: bytes to send, stanza byte ranges to forward, TLS to start, dialback
 * keys to verify, the connection to close. No I/O, no clock, no globals: randomness comes in as
 * a seed. See docs/xmpp-s2s.md for the states, what is sent when, and how to drive it.
 */
#ifndef EDGE_XMPP_S2S_H
#define EDGE_XMPP_S2S_H

#include <stddef.h>
#include <stdint.h>

#include "xmpp.h"

#define XMPP_NS_TLS              "urn:ietf:params:xml:ns:xmpp-tls"
#define XMPP_NS_SASL             "urn:ietf:params:xml:ns:xmpp-sasl"
#define XMPP_NS_DIALBACK_FEATURE "urn:xmpp:features:dialback"
#define XMPP_NS_STANZA_ERR       "urn:ietf:params:xml:ns:xmpp-stanzas"

/* ---------------------------------------------------------------- dialback keys */

#define XMPP_DIALBACK_KEY_LEN 64

/*
 * The XEP-0185 dialback key: HMAC-SHA256 keyed with the lower-case hex of SHA256(secret), over
 * "Receiving Server" ' ' "Originating Server" ' ' "Stream ID", as 64 lower-case hex digits and a
 * NUL in out. The Receiving Server is the domain the key is sent to (db:result 'to', db:verify
 * 'from'); the Originating Server the one that asserts its identity (db:result 'from',
 * db:verify 'to'); the stream ID the one the Receiving Server put in its response header.
 * Returns 0, or -1 if OpenSSL fails.
 */
int xmpp_dialback_key(const char *secret, size_t secret_len, const char *receiving,
                      const char *originating, const char *stream_id,
                      char out[XMPP_DIALBACK_KEY_LEN + 1]);

/* ---------------------------------------------------------------- configuration */

typedef enum {
    XMPP_S2S_RECEIVING,   /* a partner connected to our port: we answer its header */
    XMPP_S2S_ORIGINATING, /* we connected to a partner: we send the first header */
} xmpp_s2s_role_t;

/*
 * What all connections share (the deployment's policy). Not copied: it must outlive every
 * state machine made with it. 0 in a limit means its default.
 */
typedef struct {
    const char *const *domains; /* the domains we serve; domains[0] is the default */
    size_t ndomains;
    const char *secret; /* dialback secret (XEP-0185), shared by every node of ours */
    size_t secret_len;
    int tls_optional;                    /* 0 (default): TLS required on every stream */
    const char *const *tls_optional_for; /* partners for which TLS is optional anyway */
    size_t ntls_optional_for;
    int dialback_off;      /* 1: never offer, use or accept dialback (db:verify still answered) */
    int allow_legacy;      /* 1: accept pre-1.0 peers (no version: no features, dialback only) */
    unsigned max_pairs;    /* domain pairs per stream (8) */
    unsigned max_dialback; /* db:result + db:verify requests per stream (16) */
    unsigned max_sasl_failures; /* SASL failures before <policy-violation/> (3) */
    unsigned max_verify;        /* our own db:verify requests pending on one stream (8) */
} xmpp_s2s_config_t;

#define XMPP_S2S_DEFAULT_MAX_PAIRS         8
#define XMPP_S2S_DEFAULT_MAX_DIALBACK      16
#define XMPP_S2S_DEFAULT_MAX_SASL_FAILURES 3
#define XMPP_S2S_DEFAULT_MAX_VERIFY        8

/* The longest domain, stream id and dialback key accepted from a peer (decoded bytes). */
#define XMPP_S2S_MAX_DOMAIN 255
#define XMPP_S2S_MAX_ID     128
#define XMPP_S2S_MAX_KEY    256

/* One connection. Strings are copied. */
typedef struct {
    xmpp_s2s_role_t role;
    int direct_tls; /* XEP-0368: the stream starts inside TLS (call xmpp_s2s_tls_done first) */
    const unsigned char *seed; /* >= 16 random bytes: stream ids are derived from them */
    size_t seed_len;
    /* originating only */
    const char *local;  /* our domain (one of cfg->domains) */
    const char *remote; /* the partner's domain */
    int sasl_external;  /* our certificate should be accepted: use EXTERNAL when offered */
    int verify_only;    /* authenticate nothing: the stream carries our db:verify requests */
} xmpp_s2s_params_t;

/* What the TLS layer learnt in the handshake. */
typedef struct {
    int verified; /* the peer's chain verified against our trust store */
    /* identities in the peer's certificate (subjectAltName dNSName, id-on-xmppAddr, SRVName
     * without the service); '*.example.org' matches one left-most label */
    const char *const *names;
    size_t nnames;
} xmpp_s2s_tls_t;

/* ---------------------------------------------------------------- actions */

typedef enum {
    /* Write data to the peer, in order. data is valid until the next call other than
     * xmpp_s2s_next_action. */
    XMPP_S2S_SEND,
    /* Forward input[start, end) (the stanza's own bytes, stream offsets as in the reader's
     * events) for domain pair 'pair' (from, to). */
    XMPP_S2S_DELIVER,
    /* Flush the SENDs, drop every byte already read after the event that caused this (it was
     * sent before TLS), run the TLS handshake as server, reset the reader
     * (xmpp_reader_reset), then call xmpp_s2s_tls_done. */
    XMPP_S2S_START_TLS_SERVER,
    /* The same as client, verifying the certificate for domain 'to'. */
    XMPP_S2S_START_TLS_CLIENT,
    /* SASL succeeded: reset the reader now; the bytes after this event are a new stream. */
    XMPP_S2S_RESTART,
    /* Receiving side: check 'key' for pair 'pair' (sender 'from', target 'to', our stream id
     * 'stream_id') with the authoritative server of 'from' (DNS, connect, db:verify; see
     * xmpp_s2s_verify_request), then call xmpp_s2s_dialback_verified. 'cert_covers': the
     * peer's verified certificate names 'from', so the caller may answer VALID without dialing
     * back (XEP-0344). The strings stay valid until that call or xmpp_s2s_free. */
    XMPP_S2S_VERIFY_DIALBACK,
    /* Originating side: the answer to the db:verify request with this 'tag'. */
    XMPP_S2S_VERIFY_RESULT,
    /* Domain pair 'pair' (from, to) is authenticated: stanzas may flow. */
    XMPP_S2S_PAIR_READY,
    /* Domain pair 'pair' was refused ('reason'); bounce what was queued for it. */
    XMPP_S2S_PAIR_FAILED,
    /* Flush the SENDs, then close the connection. Nothing follows. */
    XMPP_S2S_CLOSE,
} xmpp_s2s_action_kind_t;

typedef enum {
    XMPP_S2S_DB_VALID,
    XMPP_S2S_DB_INVALID,
    XMPP_S2S_DB_ERROR, /* could not be checked: remote-server-not-found and the like */
} xmpp_s2s_db_result_t;

typedef struct {
    xmpp_s2s_action_kind_t kind;
    xmpp_slice_t data;           /* SEND */
    uint64_t start, end;         /* DELIVER */
    int pair;                    /* DELIVER, VERIFY_DIALBACK, PAIR_*: pair index; else -1 */
    const char *from, *to;       /* the pair's sender and target domain; see each kind */
    const char *stream_id, *key; /* VERIFY_DIALBACK */
    int cert_covers;             /* VERIFY_DIALBACK */
    xmpp_s2s_db_result_t result; /* VERIFY_RESULT */
    uint32_t tag;                /* VERIFY_RESULT */
    xmpp_err_t err;              /* CLOSE: the stream error we sent (XMPP_E_NONE: a clean close) */
    xmpp_err_t peer_err;         /* CLOSE: the peer's <stream:error>, if that is why */
    const char *reason;          /* CLOSE, PAIR_FAILED, VERIFY_RESULT: static text for the log */
} xmpp_s2s_action_t;

/* ---------------------------------------------------------------- the state machine */

typedef struct xmpp_s2s xmpp_s2s_t;

typedef enum {
    XMPP_S2S_ST_INIT,      /* originating, before xmpp_s2s_start */
    XMPP_S2S_ST_HEADER,    /* waiting for the peer's stream header */
    XMPP_S2S_ST_NEGOTIATE, /* features, STARTTLS, SASL, dialback under way; nothing authenticated */
    XMPP_S2S_ST_TLS,       /* waiting for xmpp_s2s_tls_done */
    XMPP_S2S_ST_OPEN,      /* at least one domain pair authenticated (or a verify-only stream
                              ready for requests) */
    XMPP_S2S_ST_CLOSED,    /* CLOSE was issued */
} xmpp_s2s_state_t;

typedef enum {
    XMPP_PAIR_QUEUED,  /* originating: db:result not sent yet */
    XMPP_PAIR_PENDING, /* being verified */
    XMPP_PAIR_VALID,
    XMPP_PAIR_FAILED,
} xmpp_s2s_pair_state_t;

typedef struct {
    const char *from, *to; /* sender and target domain */
    xmpp_s2s_pair_state_t state;
    int sasl; /* authenticated by SASL EXTERNAL (else dialback) */
} xmpp_s2s_pair_t;

/*
 * A state machine for one connection; NULL if out of memory or the parameters are unusable
 * (no domain, no secret, a seed under 16 bytes, originating without local/remote or with a
 * local domain we do not serve). Memory: about 400 bytes, plus the pairs (their domain names)
 * and an output buffer that grows to the largest burst of output (usually under 1 KiB).
 */
xmpp_s2s_t *xmpp_s2s_new(const xmpp_s2s_config_t *cfg, const xmpp_s2s_params_t *p);
void xmpp_s2s_free(xmpp_s2s_t *s);

/* Originating: sends our stream header (after xmpp_s2s_tls_done with direct TLS). 0, or -1
 * if not originating or already started. */
int xmpp_s2s_start(xmpp_s2s_t *s);

/*
 * One event of the stream reader. buf holds the stream from absolute offset buf_off on
 * (buf_len bytes) and must contain the event's bytes (the relay buffer: see
 * xmpp_reader_consumed_upto). Returns 0 to go on reading, 1 to stop the reader right after this
 * event (the callback returns it): then see the actions for what to do with the rest (START_TLS:
 * drop it; RESTART: reset the reader and feed it; CLOSE: nothing). Drain the actions after
 * every call, before the buffer moves: DELIVER refers to bytes in it.
 */
int xmpp_s2s_feed(xmpp_s2s_t *s, const xmpp_event_t *ev, const char *buf, uint64_t buf_off,
                  size_t buf_len);

/* The TLS handshake asked for (or, with direct TLS, the one before the stream) completed. 0, or
 * -1 if no handshake was expected. On a failed handshake, just close and free. */
int xmpp_s2s_tls_done(xmpp_s2s_t *s, const xmpp_s2s_tls_t *tls);

/*
 * Receiving side: the outcome of VERIFY_DIALBACK for 'pair'. cond names the dialback error for
 * XMPP_S2S_DB_ERROR (XEP-0220 2.4: "remote-server-not-found" (the default for NULL),
 * "remote-server-timeout", "remote-connection-failed", "not-acceptable"...). 0, or -1 if the
 * pair is not being verified (also after CLOSE: the answer is simply dropped).
 */
int xmpp_s2s_dialback_verified(xmpp_s2s_t *s, int pair, xmpp_s2s_db_result_t r, const char *cond);

/* Originating: authenticate another of our domains on this stream by dialback (XEP-0220 2.5,
 * sender multiplexing). Returns the pair index, or -1. */
int xmpp_s2s_add_pair(xmpp_s2s_t *s, const char *local);

/*
 * Originating: ask the partner (the authoritative server of 'to') whether 'key' is its key for
 * (from = our domain that received it, to = the domain it claims, id = our stream id it was
 * sent on). Sent as soon as the stream is negotiated; answered by VERIFY_RESULT with 'tag'.
 * 0, or -1 (stream closed, limit reached, bad argument).
 */
int xmpp_s2s_verify_request(xmpp_s2s_t *s, const char *from, const char *to, const char *id,
                            const char *key, uint32_t tag);

/* Ends the stream with a stream error (our header first if none was sent): a reader error, a
 * limit of the caller's, shutdown (system-shutdown)... text (may be NULL) goes in <text/>. */
void xmpp_s2s_fail(xmpp_s2s_t *s, xmpp_err_t err, const char *text);
/* The caller's idle timer fired: <connection-timeout/>. */
void xmpp_s2s_timeout(xmpp_s2s_t *s);
/* Ends the stream cleanly: </stream:stream>, CLOSE. */
void xmpp_s2s_close(xmpp_s2s_t *s);

/* The next action, in order; 0 when there is none. */
int xmpp_s2s_next_action(xmpp_s2s_t *s, xmpp_s2s_action_t *a);

xmpp_s2s_state_t xmpp_s2s_state(const xmpp_s2s_t *s);
/* The id of our current stream (receiving) or the partner's (originating); "" if none yet. */
const char *xmpp_s2s_stream_id(const xmpp_s2s_t *s);
/* Whether the stream runs over TLS (negotiated or direct). */
int xmpp_s2s_tls_active(const xmpp_s2s_t *s);
size_t xmpp_s2s_npairs(const xmpp_s2s_t *s);
/* Pair i (0 <= i < npairs); 0, or -1 if there is no such pair. */
int xmpp_s2s_pair(const xmpp_s2s_t *s, int i, xmpp_s2s_pair_t *out);

const char *xmpp_s2s_action_name(xmpp_s2s_action_kind_t k);

#endif
