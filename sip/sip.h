/*
 * sip.h - the SIP wire-format module: framing on stream transports, a zero-copy header index,
 * lazy header sub-parsers, request/response validation for a proxy, and edit plans rendered
 * as iovecs. Pure code: no I/O, no clock, no globals, no allocation. Every slice returned
 * points into the caller's buffer, which must outlive the sip_msg_t that indexes it.
 */
#ifndef EDGE_SIP_H
#define EDGE_SIP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* A byte range in a buffer owned by someone else; never NUL-terminated. */
typedef struct {
    const char *p;
    size_t len;
} sip_slice_t;

#define SIP_SLICE_NULL ((sip_slice_t){NULL, 0})

/* ---------------------------------------------------------------- errors */

/*
 * One code per defect. sip_err.c maps each to the response a proxy sends (status and a reason
 * phrase naming the defect) and to whether the stream is still framed after it.
 */
typedef enum {
#define SIP_ERR_LIST(X)                                                                            \
    X(SIP_E_NONE, 0, "OK", "no error")                                                             \
    X(SIP_E_START_LINE, 400, "Malformed Start Line", "malformed start line")                       \
    X(SIP_E_REQUEST_LINE, 400, "Malformed Request-Line",                                           \
      "request line is not exactly METHOD SP Request-URI SP SIP-Version")                          \
    X(SIP_E_METHOD, 400, "Malformed Method", "method is not a token")                              \
    X(SIP_E_VERSION, 505, "Version Not Supported", "SIP version is not SIP/2.0")                   \
    X(SIP_E_STATUS_CODE, 400, "Bad Status Code", "status code is not three digits 100-699")        \
    X(SIP_E_REASON, 400, "Bad Reason Phrase", "reason phrase contains control characters")         \
    X(SIP_E_HEADER_NAME, 400, "Malformed Header Name", "header name is not a token")               \
    X(SIP_E_HEADER_COLON, 400, "Header Line Without Colon", "header line has no colon")            \
    X(SIP_E_LEADING_FOLD, 400, "Malformed Header Section",                                         \
      "first header line starts with white space")                                                 \
    X(SIP_E_BARE_CRLF, 400, "Bare CR or LF in Header", "bare CR or LF in the header section")      \
    X(SIP_E_TOO_MANY_HEADERS, 400, "Too Many Headers", "more header lines than the limit")         \
    X(SIP_E_LINE_TOO_LONG, 400, "Header Line Too Long", "header line longer than the limit")       \
    X(SIP_E_TOO_LARGE, 513, "Message Too Large", "message larger than the limit")                  \
    X(SIP_E_CL_MISSING, 400, "Missing Content-Length",                                             \
      "no Content-Length on a stream transport (RFC 3261 18.3)")                                   \
    X(SIP_E_CL_BAD, 400, "Bad Content-Length", "Content-Length is not a decimal number")           \
    X(SIP_E_CL_MULTIPLE, 400, "Multiple Content-Length", "more than one Content-Length header")    \
    X(SIP_E_MISSING_VIA, 400, "Missing Via Header", "no Via header")                               \
    X(SIP_E_MISSING_FROM, 400, "Missing From Header", "no From header")                            \
    X(SIP_E_MISSING_TO, 400, "Missing To Header", "no To header")                                  \
    X(SIP_E_MISSING_CALL_ID, 400, "Missing Call-ID Header", "no Call-ID header")                   \
    X(SIP_E_MISSING_CSEQ, 400, "Missing CSeq Header", "no CSeq header")                            \
    X(SIP_E_DUP_FROM, 400, "Multiple From Headers", "From appears more than once")                 \
    X(SIP_E_DUP_TO, 400, "Multiple To Headers", "To appears more than once")                       \
    X(SIP_E_DUP_CALL_ID, 400, "Multiple Call-ID Headers", "Call-ID appears more than once")        \
    X(SIP_E_DUP_CSEQ, 400, "Multiple CSeq Headers", "CSeq appears more than once")                 \
    X(SIP_E_DUP_MAX_FORWARDS, 400, "Multiple Max-Forwards Headers",                                \
      "Max-Forwards appears more than once")                                                       \
    X(SIP_E_BAD_VIA, 400, "Malformed Via Header", "Via value does not parse")                      \
    X(SIP_E_BAD_FROM, 400, "Malformed From Header", "From value does not parse")                   \
    X(SIP_E_BAD_TO, 400, "Malformed To Header", "To value does not parse")                         \
    X(SIP_E_BAD_CALL_ID, 400, "Malformed Call-ID Header", "Call-ID value does not parse")          \
    X(SIP_E_BAD_CSEQ, 400, "Malformed CSeq Header",                                                \
      "CSeq is not a number below 2^32 and a method")                                              \
    X(SIP_E_CSEQ_METHOD, 400, "CSeq Method Mismatch",                                              \
      "CSeq method differs from the request method")                                               \
    X(SIP_E_BAD_MAX_FORWARDS, 400, "Malformed Max-Forwards Header",                                \
      "Max-Forwards is not an integer 0-255")                                                      \
    X(SIP_E_BAD_RURI, 400, "Malformed Request-URI", "Request-URI does not parse")                  \
    X(SIP_E_RURI_HEADERS, 400, "Headers in Request-URI",                                           \
      "Request-URI carries escaped headers (RFC 3261 19.1.5)")                                     \
    X(SIP_E_BAD_REQUIRE, 400, "Malformed Proxy-Require Header",                                    \
      "Proxy-Require is not a list of option tags")                                                \
    X(SIP_E_UNSUPPORTED_SCHEME, 416, "Unsupported URI Scheme",                                     \
      "Request-URI scheme is not sip, sips or tel")                                                \
    X(SIP_E_BAD_EXTENSION, 420, "Bad Extension", "Proxy-Require names an unsupported option")      \
    X(SIP_E_TOO_MANY_HOPS, 483, "Too Many Hops", "Max-Forwards is zero")                           \
    X(SIP_E_VIA_BROADCAST, 400, "Via to Broadcast Address",                                        \
      "a Via sent-by is a broadcast, multicast or unspecified address")
#define SIP_ERR_ENUM(name, status, reason, detail) name,
    SIP_ERR_LIST(SIP_ERR_ENUM)
#undef SIP_ERR_ENUM
        SIP_ERR__COUNT
} sip_err_t;

/* Response status a proxy sends for err (0 for SIP_E_NONE). */
int sip_err_status(sip_err_t err);
/* Reason phrase for that response, naming the defect ("Malformed Via Header"). */
const char *sip_err_reason(sip_err_t err);
/* One-line description of the defect for logs and the checker. */
const char *sip_strerror(sip_err_t err);
/* The enumerator's name without prefix, for logs and tests ("BAD_VIA"). */
const char *sip_err_name(sip_err_t err);
/*
 * Whether an error leaves the stream framed. Framing errors (Content-Length, bare CR/LF, size
 * limits) mean the next message cannot be found: the connection must be closed.
 */
int sip_err_is_framing(sip_err_t err);

/* ---------------------------------------------------------------- header ids */

/* Known headers get a small id; compact forms map to the same id. Unknown headers are OTHER. */
typedef enum {
#define SIP_HDR_LIST(X)                                                                            \
    X(OTHER, "", 0)                                                                                \
    X(ACCEPT, "Accept", 0)                                                                         \
    X(ACCEPT_CONTACT, "Accept-Contact", 'a')                                                       \
    X(ACCEPT_ENCODING, "Accept-Encoding", 0)                                                       \
    X(ACCEPT_LANGUAGE, "Accept-Language", 0)                                                       \
    X(ALERT_INFO, "Alert-Info", 0)                                                                 \
    X(ALLOW, "Allow", 0)                                                                           \
    X(ALLOW_EVENTS, "Allow-Events", 'u')                                                           \
    X(AUTHENTICATION_INFO, "Authentication-Info", 0)                                               \
    X(AUTHORIZATION, "Authorization", 0)                                                           \
    X(CALL_ID, "Call-ID", 'i')                                                                     \
    X(CALL_INFO, "Call-Info", 0)                                                                   \
    X(CONTACT, "Contact", 'm')                                                                     \
    X(CONTENT_DISPOSITION, "Content-Disposition", 0)                                               \
    X(CONTENT_ENCODING, "Content-Encoding", 'e')                                                   \
    X(CONTENT_LANGUAGE, "Content-Language", 0)                                                     \
    X(CONTENT_LENGTH, "Content-Length", 'l')                                                       \
    X(CONTENT_TYPE, "Content-Type", 'c')                                                           \
    X(CSEQ, "CSeq", 0)                                                                             \
    X(DATE, "Date", 0)                                                                             \
    X(ERROR_INFO, "Error-Info", 0)                                                                 \
    X(EVENT, "Event", 'o')                                                                         \
    X(EXPIRES, "Expires", 0)                                                                       \
    X(FROM, "From", 'f')                                                                           \
    X(IDENTITY, "Identity", 'y')                                                                   \
    X(IN_REPLY_TO, "In-Reply-To", 0)                                                               \
    X(MAX_FORWARDS, "Max-Forwards", 0)                                                             \
    X(MIME_VERSION, "MIME-Version", 0)                                                             \
    X(MIN_EXPIRES, "Min-Expires", 0)                                                               \
    X(MIN_SE, "Min-SE", 0)                                                                         \
    X(MS_KEEP_ALIVE, "Ms-Keep-Alive", 0)                                                           \
    X(MS_EDGE_TRUST, "ms-edge-proxy-message-trust", 0)                                             \
    X(ORGANIZATION, "Organization", 0)                                                             \
    X(P_ASSERTED_IDENTITY, "P-Asserted-Identity", 0)                                               \
    X(PATH, "Path", 0)                                                                             \
    X(PRIORITY, "Priority", 0)                                                                     \
    X(PROXY_AUTHENTICATE, "Proxy-Authenticate", 0)                                                 \
    X(PROXY_AUTHORIZATION, "Proxy-Authorization", 0)                                               \
    X(PROXY_REQUIRE, "Proxy-Require", 0)                                                           \
    X(RACK, "RAck", 0)                                                                             \
    X(RECORD_ROUTE, "Record-Route", 0)                                                             \
    X(REFER_TO, "Refer-To", 'r')                                                                   \
    X(REFERRED_BY, "Referred-By", 'b')                                                             \
    X(REJECT_CONTACT, "Reject-Contact", 'j')                                                       \
    X(REPLY_TO, "Reply-To", 0)                                                                     \
    X(REQUEST_DISPOSITION, "Request-Disposition", 'd')                                             \
    X(REQUIRE, "Require", 0)                                                                       \
    X(RETRY_AFTER, "Retry-After", 0)                                                               \
    X(ROUTE, "Route", 0)                                                                           \
    X(RSEQ, "RSeq", 0)                                                                             \
    X(SERVER, "Server", 0)                                                                         \
    X(SESSION_EXPIRES, "Session-Expires", 'x')                                                     \
    X(SUBJECT, "Subject", 's')                                                                     \
    X(SUBSCRIPTION_STATE, "Subscription-State", 0)                                                 \
    X(SUPPORTED, "Supported", 'k')                                                                 \
    X(TIMESTAMP, "Timestamp", 0)                                                                   \
    X(TO, "To", 't')                                                                               \
    X(UNSUPPORTED, "Unsupported", 0)                                                               \
    X(USER_AGENT, "User-Agent", 0)                                                                 \
    X(VIA, "Via", 'v')                                                                             \
    X(WARNING, "Warning", 0)                                                                       \
    X(WWW_AUTHENTICATE, "WWW-Authenticate", 0)
#define SIP_HDR_ENUM(id, name, compact) SIP_HDR_##id,
    SIP_HDR_LIST(SIP_HDR_ENUM)
#undef SIP_HDR_ENUM
        SIP_HDR__COUNT
} sip_hdr_id_t;

/* Id of a header name (case-insensitive, compact forms included); SIP_HDR_OTHER if unknown. */
sip_hdr_id_t sip_hdr_lookup(const char *name, size_t len);
/* Canonical long name of a known id ("Call-ID"); "" for OTHER. */
const char *sip_hdr_name(sip_hdr_id_t id);

/* ---------------------------------------------------------------- methods */

typedef enum {
    SIP_METHOD_OTHER = 0,
    SIP_METHOD_INVITE,
    SIP_METHOD_ACK,
    SIP_METHOD_BYE,
    SIP_METHOD_CANCEL,
    SIP_METHOD_OPTIONS,
    SIP_METHOD_REGISTER,
    SIP_METHOD_PRACK,
    SIP_METHOD_SUBSCRIBE,
    SIP_METHOD_NOTIFY,
    SIP_METHOD_PUBLISH,
    SIP_METHOD_INFO,
    SIP_METHOD_REFER,
    SIP_METHOD_MESSAGE,
    SIP_METHOD_UPDATE,
    SIP_METHOD_SERVICE,  /* [MS-SIP] */
    SIP_METHOD_BENOTIFY, /* [MS-SIP] best-effort NOTIFY, never answered */
    SIP_METHOD_NEGOTIATE /* [MS-SIP] */
} sip_method_t;

/* Methods are case-sensitive (RFC 3261 7.1). */
sip_method_t sip_method_lookup(const char *p, size_t len);

/* ---------------------------------------------------------------- the message index */

/* One header line (possibly folded over several physical lines). */
typedef struct {
    sip_slice_t name;  /* as on the wire, without trailing white space */
    sip_slice_t value; /* leading/trailing white space trimmed; may contain CRLF+WSP folds */
    sip_slice_t raw;   /* whole header from the first byte of its name to its final CRLF */
    uint16_t id;       /* sip_hdr_id_t */
    uint16_t folded;   /* value spans more than one physical line */
} sip_hdr_t;

typedef enum {
    SIP_MSG_NONE = 0,
    SIP_MSG_REQUEST,
    SIP_MSG_RESPONSE,
    SIP_MSG_PING, /* CRLFCRLF keepalive (RFC 5626 4.4.1): answer with one CRLF */
    SIP_MSG_PONG  /* a single CRLF: keepalive pong, or an empty line between messages */
} sip_msg_kind_t;

#define SIP_ERROR      -1
#define SIP_INCOMPLETE -2

#define SIP_DEFAULT_MAX_SIZE 65536
#define SIP_DEFAULT_MAX_LINE 8192

typedef struct {
    /* Set by the caller (sip_msg_init fills them in). */
    sip_hdr_t *hdrs; /* caller-owned header array */
    size_t hdrs_cap; /* its capacity: more header lines than this is SIP_E_TOO_MANY_HEADERS */
    size_t max_size; /* whole message (headers + body) limit: SIP_E_TOO_LARGE */
    size_t max_line; /* one header (with folds) limit: SIP_E_LINE_TOO_LONG */

    /* Filled by sip_parse. */
    sip_msg_kind_t kind;
    sip_slice_t method; /* request */
    sip_method_t method_id;
    sip_slice_t ruri;
    sip_slice_t version;
    int status; /* response */
    sip_slice_t reason;
    size_t nhdrs;
    int16_t first[SIP_HDR__COUNT]; /* index of the first header with that id, -1 if none */
    uint8_t count[SIP_HDR__COUNT]; /* how many header lines carry that id (saturates at 255) */
    size_t hdr_len;                /* start line + headers + the empty line */
    size_t body_len;               /* Content-Length */
    sip_slice_t body;
    size_t msg_len; /* hdr_len + body_len: bytes to skip, even after a non-framing error */
    size_t need;    /* on SIP_INCOMPLETE: total bytes needed if known (0 = unknown) */
    sip_err_t err;
} sip_msg_t;

/* Prepare msg with a caller-owned header array and the default limits. */
void sip_msg_init(sip_msg_t *msg, sip_hdr_t *hdrs, size_t hdrs_cap);

/*
 * Frame and index one message at the start of buf[0..len).
 * Returns the bytes it occupies (> 0) with msg->kind set (keepalives included), SIP_INCOMPLETE
 * when more bytes are needed (msg->need says how many in all when the header section is
 * complete), or SIP_ERROR with msg->err set. After an error that is not a framing error
 * (sip_err_is_framing), msg->msg_len is the size of the bad message and the index is filled
 * in as far as it goes, so the caller can answer it and carry on after msg->msg_len bytes.
 * last_len is the buffer length at the previous call for this message (0 the first time), made
 * with the same msg: new bytes that end no line are checked without rescanning the header
 * section, and a body still short of msg->need is not re-parsed at all. Incremental calls give
 * the same answers as one call on the same bytes.
 */
int sip_parse(const char *buf, size_t len, sip_msg_t *msg, size_t last_len);

/* First header with that id, or NULL. */
const sip_hdr_t *sip_msg_header_find(const sip_msg_t *msg, sip_hdr_id_t id);
/* Next header after 'prev' with the same id (for unknown headers: the same name), or NULL. */
const sip_hdr_t *sip_msg_header_next(const sip_msg_t *msg, const sip_hdr_t *prev);
/* First header with that name (case-insensitive; known names resolve through their id). */
const sip_hdr_t *sip_msg_header_find_name(const sip_msg_t *msg, const char *name, size_t len);

/*
 * Iterate over the comma-separated values of a header value (Via, Route, Contact, Require...):
 * commas inside quoted strings and <...> do not split. *pos starts at 0. Returns 1 and sets
 * *out (trimmed) while there is a value, 0 at the end. An empty value (",,") is returned as an
 * empty slice so that validators can reject it.
 */
int sip_value_next(sip_slice_t value, size_t *pos, sip_slice_t *out);

/* ---------------------------------------------------------------- sub-parsers */

typedef enum {
    SIP_HOST_NAME = 1,
    SIP_HOST_IPV4,
    SIP_HOST_IPV6 /* slice includes the brackets when the wire form had them */
} sip_host_kind_t;

typedef struct {
    sip_slice_t host;
    int host_kind; /* sip_host_kind_t */
    int port;      /* 0 when absent */
} sip_hostport_t;

/* Parse host[:port] exactly covering s. Returns 0 or -1. */
int sip_hostport_parse(sip_slice_t s, sip_hostport_t *out);

/* Via (one value, as produced by sip_value_next). */
typedef struct {
    sip_slice_t transport; /* "UDP", "TLS", ... */
    sip_hostport_t sent_by;
    sip_slice_t branch; /* empty when absent */
    sip_slice_t received;
    sip_slice_t maddr;
    int rport;          /* -1 absent, 0 present without value, else the value */
    int ttl;            /* -1 absent */
    sip_slice_t params; /* all parameters, after the first ';' (for unknown ones) */
    int has_branch;
} sip_via_t;

/* Parse one Via value exactly covering value. Returns 0 or -1. */
int sip_via_parse(sip_slice_t value, sip_via_t *out);
/*
 * Parse the next via-parm of a Via header value in one pass (no separate comma split): *pos
 * starts at 0. Returns 1 with *out filled, 0 at the end of the list, -1 when malformed
 * (including an empty value between commas or after a trailing comma).
 */
int sip_via_next(sip_slice_t value, size_t *pos, sip_via_t *out);
/* The first Via value of the message (the top Via). Returns 0, or -1 if absent or malformed. */
int sip_msg_top_via(const sip_msg_t *msg, sip_via_t *out);

typedef enum { SIP_SCHEME_OTHER = 0, SIP_SCHEME_SIP, SIP_SCHEME_SIPS, SIP_SCHEME_TEL } sip_scheme_t;

typedef struct {
    int scheme; /* sip_scheme_t */
    sip_slice_t scheme_name;
    sip_slice_t user; /* sip/sips userinfo user part; tel: the subscriber number */
    sip_slice_t password;
    sip_hostport_t hostport; /* sip/sips only */
    sip_slice_t params;      /* from the first ';' after the host (or the number), no ';' */
    sip_slice_t headers;     /* after '?', without it */
    sip_slice_t opaque;      /* other schemes: everything after "scheme:" */
} sip_uri_t;

/* Parse a URI exactly covering s (RFC 3261 19.1, RFC 3966, RFC 5118 IPv6 references). */
int sip_uri_parse(sip_slice_t s, sip_uri_t *out);

/*
 * Find a ;name[=value] parameter in a parameter list slice (leading ';' optional, LWS around
 * ';' and '=' tolerated, names case-insensitive). Returns 1 if found (value empty when it has
 * none), 0 if not.
 */
int sip_param_find(sip_slice_t params, const char *name, sip_slice_t *value);

/* name-addr / addr-spec with header parameters: From, To, Contact, Route, Record-Route... */
typedef struct {
    sip_slice_t display; /* without quotes; escapes not decoded */
    int display_quoted;
    sip_slice_t uri;
    int bracketed;
    sip_slice_t params; /* header parameters after the address, without the leading ';' */
    sip_slice_t tag;    /* the tag parameter, empty when absent */
    int has_tag;
} sip_naddr_t;

int sip_naddr_parse(sip_slice_t value, sip_naddr_t *out);

typedef struct {
    uint32_t number;
    sip_slice_t method;
    sip_method_t method_id;
} sip_cseq_t;

int sip_cseq_parse(sip_slice_t value, sip_cseq_t *out);
/* Max-Forwards: 0-255. Returns the value, or -1. */
int sip_max_forwards_parse(sip_slice_t value);
/* Call-ID: word ["@" word]. Returns 0 or -1. */
int sip_call_id_check(sip_slice_t value);
/* Content-Length: decimal, no sign, no overflow. Returns 0 and *out, or -1. */
int sip_content_length_parse(sip_slice_t value, size_t *out);
/*
 * Option tags of every header with one id (Require, Proxy-Require, Supported, Unsupported),
 * across all its header lines and comma-separated values. Zero-initialise the iterator. Returns
 * 1 with *tag, 0 at the end, -1 when a value is not an option tag (a token).
 */
typedef struct {
    const sip_hdr_t *hdr;
    size_t pos;
    int started;
} sip_tag_iter_t;

int sip_msg_option_tag_next(const sip_msg_t *msg, sip_hdr_id_t id, sip_tag_iter_t *it,
                            sip_slice_t *tag);
/* Whether s is a token (RFC 3261 25.1). */
int sip_is_token(sip_slice_t s);

/* ---------------------------------------------------------------- proxy validation */

typedef enum {
    SIP_ACT_FORWARD = 1, /* request: relay it; response: relay it if it matches a transaction */
    SIP_ACT_REPLY,       /* request: answer with status/reason, do not forward */
    SIP_ACT_DROP,        /* response, or ACK: discard silently (neither is ever answered) */
    SIP_ACT_CLOSE        /* framing lost: close the connection (after an answer if possible) */
} sip_action_t;

typedef struct {
    sip_action_t action;
    int status;              /* SIP_ACT_REPLY, and the answer sent before SIP_ACT_CLOSE if any */
    sip_err_t err;           /* SIP_E_NONE for forward */
    sip_slice_t unsupported; /* SIP_E_BAD_EXTENSION: the first unsupported option tag (see
                                sip_check_option_supported for the whole list) */
} sip_verdict_t;

typedef struct {
    /* Option tags this proxy supports in Proxy-Require (exact, case-sensitive per RFC 3261). */
    const char *const *proxy_supported;
    size_t n_proxy_supported;
} sip_check_opts_t;

/*
 * What a stateful proxy must do with a message sip_parse accepted (RFC 3261 16.3, 8.2 and the
 * RFC 4475 guidance): mandatory and single-valued headers, Request-URI scheme and syntax,
 * CSeq, Max-Forwards, Via syntax, From/To syntax, Proxy-Require. Runs the lazy sub-parsers the
 * relay needs; a router calls it once per message, off nothing else.
 */
void sip_msg_check(const sip_msg_t *msg, const sip_check_opts_t *opts, sip_verdict_t *out);
/* The verdict for a sip_parse failure (framing errors close, others answer or drop). */
void sip_parse_verdict(const sip_msg_t *msg, sip_verdict_t *out);
/*
 * Whether opts lists tag as supported in Proxy-Require. A 420 answer lists in Unsupported every
 * Proxy-Require tag for which this is false (RFC 3261 16.3 item 5).
 */
int sip_check_option_supported(const sip_check_opts_t *opts, sip_slice_t tag);
/* "forward", "forward-response", "reply", "drop", "close" as the corpus INDEX.tsv spells them. */
const char *sip_action_name(sip_action_t a, int is_response);

/* ---------------------------------------------------------------- edit plans */

/*
 * An edit plan is a list of splices on the original message: "replace bytes [off, off+len)
 * with these new bytes". Dropping a header, inserting one, or rewriting a value are all
 * splices; rendering interleaves untouched original slices with the new bytes as an iovec.
 * New bytes are borrowed, not copied: they must live until the iovec has been written.
 */
typedef struct {
    uint32_t off; /* from the start of the message */
    uint32_t len; /* original bytes removed */
    sip_slice_t ins;
} sip_splice_t;

typedef struct {
    const sip_msg_t *msg;
    const char *base; /* start of the message in the buffer */
    sip_splice_t *ops;
    size_t nops;
    size_t cap;
    int overflow;      /* an op did not fit: render fails */
    char mf_digits[4]; /* storage for a rewritten Max-Forwards value */
} sip_edit_t;

void sip_edit_init(sip_edit_t *e, const sip_msg_t *msg, const char *base, sip_splice_t *ops,
                   size_t cap);
/* Remove header line i (all its folded lines). */
int sip_edit_drop(sip_edit_t *e, size_t i);
/* Replace header line i with 'line' (a complete "Name: value\r\n"). */
int sip_edit_replace(sip_edit_t *e, size_t i, const char *line, size_t len);
/* Insert 'line' before header i; i == nhdrs inserts after the last header. */
int sip_edit_insert(sip_edit_t *e, size_t i, const char *line, size_t len);
/*
 * Replace the bytes [at, at+len) of the header section (at points into the message) with ins:
 * for edits inside a value (a Via parameter, some of a Route list's values). -1 if out of range.
 */
int sip_edit_splice(sip_edit_t *e, const char *at, size_t len, const char *ins, size_t ins_len);
/* Remove the first comma-separated value of header i (the whole line if it has only one). */
int sip_edit_drop_first_value(sip_edit_t *e, size_t i);
/*
 * Max-Forwards handling of RFC 3261 16.6 step 3: decrement it, or insert "Max-Forwards: 70" when
 * absent. Returns the new value, or -1 when the header is malformed or already zero.
 */
int sip_edit_max_forwards(sip_edit_t *e);
/*
 * Render the plan into iov. Returns the number of entries used, or -1 if iovcnt is too small,
 * the ops overlap, or an earlier op overflowed. *total receives the byte count.
 */
int sip_edit_render(sip_edit_t *e, struct iovec *iov, size_t iovcnt, size_t *total);

#endif
