/*
 * xmpp.h - the XMPP wire-format module. This part is the stream reader: expat fed whatever bytes
 * a connection delivers, reporting the stream header, every first-level element as a byte range
 * of the input (so a relay forwards the peer's own bytes), whitespace keepalives and the stream
 * close, and enforcing RFC 6120's restricted XML, UTF-8 only, namespace rules and size limits.
 * Pure code: no I/O, no clock, no globals. The reader never copies or buffers stanzas; the
 * caller keeps the bytes (see xmpp_reader_consumed_upto) and the reader only tracks offsets.
 */
#ifndef EDGE_XMPP_H
#define EDGE_XMPP_H

#include <stddef.h>
#include <stdint.h>

/* A byte range in memory owned by someone else; never NUL-terminated. */
typedef struct {
    const char *p;
    size_t len;
} xmpp_slice_t;

#define XMPP_SLICE_NULL ((xmpp_slice_t){NULL, 0})

/* The namespaces the reader checks. */
#define XMPP_NS_STREAMS    "http://etherx.jabber.org/streams"
#define XMPP_NS_SERVER     "jabber:server"
#define XMPP_NS_CLIENT     "jabber:client"
#define XMPP_NS_DIALBACK   "jabber:server:dialback"
#define XMPP_NS_STREAM_ERR "urn:ietf:params:xml:ns:xmpp-streams"

/* ---------------------------------------------------------------- errors */

/*
 * One code per defect. Each row names the RFC 6120 section 4.9.3 condition a peer is sent for
 * it (NULL: not a stream error) and a one-line description. The reader's own defects come
 * first; then one generic row per RFC 6120 condition, for the layers above (negotiation,
 * routing) and for naming a condition received from a peer (xmpp_err_from_condition).
 */
typedef enum {
#define XMPP_ERR_LIST(X)                                                                           \
    X(XMPP_E_NONE, NULL, "no error")                                                               \
    X(XMPP_E_STOPPED, NULL, "the event callback stopped the reader; reset it for a new stream")    \
    X(XMPP_E_FINISHED, NULL, "input after xmpp_reader_finish or after a stop; reset first")        \
    X(XMPP_E_NOMEM, "resource-constraint", "out of memory in the XML parser")                      \
    X(XMPP_E_DOCTYPE, "restricted-xml", "document type declaration (RFC 6120 11.1)")               \
    X(XMPP_E_COMMENT, "restricted-xml", "XML comment (RFC 6120 11.1)")                             \
    X(XMPP_E_PI, "restricted-xml", "processing instruction (RFC 6120 11.1)")                       \
    X(XMPP_E_ENTITY, "restricted-xml",                                                             \
      "entity reference other than the five predefined ones (RFC 6120 11.1)")                      \
    X(XMPP_E_ENCODING, "unsupported-encoding",                                                     \
      "input is not UTF-8: UTF-16/32 bytes or another encoding declared (RFC 6120 11.6)")          \
    X(XMPP_E_BOM, "not-well-formed",                                                               \
      "U+FEFF before the stream header: a character, never a byte order mark (RFC 6120 11.6)")     \
    X(XMPP_E_XML, "not-well-formed", "XML is not well-formed")                                     \
    X(XMPP_E_UNBOUND_PREFIX, "not-well-formed", "namespace prefix used but not declared")          \
    X(XMPP_E_TRUNCATED, "not-well-formed",                                                         \
      "input ended inside the stream header or inside a first-level element")                      \
    X(XMPP_E_STANZA_SIZE, "policy-violation", "first-level element larger than max_stanza")        \
    X(XMPP_E_HEADER_SIZE, "policy-violation", "stream header larger than max_header")              \
    X(XMPP_E_DEPTH, "policy-violation", "elements nested deeper than max_depth")                   \
    X(XMPP_E_ATTR_COUNT, "policy-violation", "more attributes on one element than max_attrs")      \
    X(XMPP_E_ATTR_LEN, "policy-violation", "attribute value longer than max_attr_len")             \
    X(XMPP_E_STREAM_NS, "invalid-namespace",                                                       \
      "root element is not <stream> in http://etherx.jabber.org/streams")                          \
    X(XMPP_E_STREAM_NAME, "bad-format",                                                            \
      "root element is in the streams namespace but is not <stream>")                              \
    X(XMPP_E_CONTENT_NS, "invalid-namespace",                                                      \
      "default namespace of the stream header is not the expected content namespace")              \
    X(XMPP_E_STREAM_PREFIX, "bad-namespace-prefix", "stream element prefix is not 'stream'")       \
    X(XMPP_E_VERSION, "unsupported-version", "stream version major number is above 1")             \
    X(XMPP_E_VERSION_SYNTAX, "unsupported-version",                                                \
      "stream version is not two integers major.minor")                                            \
    X(XMPP_E_TEXT, "bad-format",                                                                   \
      "text other than literal whitespace between first-level elements")                           \
    X(XMPP_E_BAD_FORMAT, "bad-format", "XML that cannot be processed")                             \
    X(XMPP_E_BAD_NAMESPACE_PREFIX, "bad-namespace-prefix", "unsupported namespace prefix")         \
    X(XMPP_E_CONFLICT, "conflict", "new stream conflicts with an existing one")                    \
    X(XMPP_E_CONNECTION_TIMEOUT, "connection-timeout", "no traffic for too long")                  \
    X(XMPP_E_HOST_GONE, "host-gone", "the 'to' domain is no longer served")                        \
    X(XMPP_E_HOST_UNKNOWN, "host-unknown", "the 'to' domain is not served here")                   \
    X(XMPP_E_IMPROPER_ADDRESSING, "improper-addressing", "stanza lacks a 'to' or 'from'")          \
    X(XMPP_E_INTERNAL_SERVER_ERROR, "internal-server-error", "internal error")                     \
    X(XMPP_E_INVALID_FROM, "invalid-from", "'from' does not match an authorized domain")           \
    X(XMPP_E_INVALID_NAMESPACE, "invalid-namespace", "unsupported namespace")                      \
    X(XMPP_E_INVALID_XML, "invalid-xml", "invalid XML (schema)")                                   \
    X(XMPP_E_NOT_AUTHORIZED, "not-authorized", "stanza before the stream was authenticated")       \
    X(XMPP_E_NOT_WELL_FORMED, "not-well-formed", "XML is not well-formed")                         \
    X(XMPP_E_POLICY_VIOLATION, "policy-violation", "local policy violated")                        \
    X(XMPP_E_REMOTE_CONNECTION_FAILED, "remote-connection-failed",                                 \
      "cannot reach the remote server")                                                            \
    X(XMPP_E_RESET, "reset", "stream must be renegotiated")                                        \
    X(XMPP_E_RESOURCE_CONSTRAINT, "resource-constraint", "out of resources")                       \
    X(XMPP_E_RESTRICTED_XML, "restricted-xml", "restricted XML feature")                           \
    X(XMPP_E_SEE_OTHER_HOST, "see-other-host", "use another host")                                 \
    X(XMPP_E_SYSTEM_SHUTDOWN, "system-shutdown", "server shutting down")                           \
    X(XMPP_E_UNDEFINED_CONDITION, "undefined-condition", "undefined condition")                    \
    X(XMPP_E_UNSUPPORTED_ENCODING, "unsupported-encoding", "encoding other than UTF-8")            \
    X(XMPP_E_UNSUPPORTED_FEATURE, "unsupported-feature", "mandatory feature not supported")        \
    X(XMPP_E_UNSUPPORTED_STANZA_TYPE, "unsupported-stanza-type",                                   \
      "first-level element not supported")                                                         \
    X(XMPP_E_UNSUPPORTED_VERSION, "unsupported-version", "XMPP version not supported")
#define XMPP_ERR_ENUM(name, cond, detail) name,
    XMPP_ERR_LIST(XMPP_ERR_ENUM)
#undef XMPP_ERR_ENUM
        XMPP_ERR__COUNT
} xmpp_err_t;

/* RFC 6120 4.9.3 condition sent for err ("restricted-xml"); NULL for NONE, STOPPED, FINISHED. */
const char *xmpp_err_condition(xmpp_err_t err);
/* One-line description of the defect for logs. */
const char *xmpp_strerror(xmpp_err_t err);
/* The enumerator's name without the XMPP_E_ prefix ("DOCTYPE"), for logs and tests. */
const char *xmpp_err_name(xmpp_err_t err);
/* The generic row for a condition name (e.g. read from a peer's <stream:error>); NONE if none. */
xmpp_err_t xmpp_err_from_condition(const char *cond, size_t len);

/*
 * Renders the end of a stream for err:
 *   <stream:error><COND xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>[<text ...>TEXT</text>]
 *   </stream:error></stream:stream>
 * (one line, no spaces between elements). text (NUL-terminated, may be NULL) is escaped; for
 * see-other-host it is the new host and becomes the condition element's content, as RFC 6120
 * 4.9.3.19 requires. The 'stream' prefix must be bound by the caller's own stream header: if no
 * header was sent yet on this stream (error in the peer's header or before it), the caller
 * sends its header first (RFC 6120 4.9.1.2). Returns the length of the rendering, and writes it
 * to buf only if it fits in len (no NUL is added); 0 if err has no condition.
 */
size_t xmpp_stream_error_render(xmpp_err_t err, const char *text, char *buf, size_t len);

/* ---------------------------------------------------------------- the stream reader */

/*
 * Limits; 0 in any field means its default. Exceeding one is a policy-violation stream error,
 * raised while the bytes arrive, never after buffering them.
 */
typedef struct {
    size_t max_stanza;      /* bytes of one first-level element, '<' to '>' (256 KiB) */
    size_t max_header;      /* bytes from the start of the stream to the header's '>' (8 KiB) */
    unsigned max_depth;     /* nesting inside the stream: a stanza is 1, its child 2 (64) */
    unsigned max_attrs;     /* attributes on one element, xmlns declarations included (64) */
    size_t max_attr_len;    /* bytes of one attribute value after decoding (8 KiB) */
    const char *content_ns; /* default namespace the stream header must declare (jabber:server) */
    size_t recycle_bytes;   /* replace the expat parser after this much stream (256 KiB) */
} xmpp_reader_opts_t;

#define XMPP_DEFAULT_MAX_STANZA   (256 * 1024)
#define XMPP_DEFAULT_MAX_HEADER   (8 * 1024)
#define XMPP_DEFAULT_MAX_DEPTH    64
#define XMPP_DEFAULT_MAX_ATTRS    64
#define XMPP_DEFAULT_MAX_ATTR_LEN (8 * 1024)
/*
 * expat keeps every distinct element and attribute name for the life of a parser: a peer
 * sending fresh names (about 15 bytes each) could grow a connection by about 160 bytes per name
 * forever. At the first stanza end after this many bytes, the reader swaps in a new parser
 * primed with a copy of the stream header; the events and offsets do not change.
 */
#define XMPP_DEFAULT_RECYCLE_BYTES (256 * 1024)

/*
 * An attribute as written in the input: the raw value between the quotes, at an absolute stream
 * offset. Raw, not decoded: 'escaped' says whether it holds an entity or character reference,
 * or a tab/CR/LF that XML turns into a space; decode with xmpp_attr_unescape only then.
 * 'p' points at the raw bytes while a HEADER or ELEMENT_START event is being delivered, and is
 * NULL in ELEMENT events, where the bytes are in the caller's buffer (see xmpp_attr_slice).
 */
typedef struct {
    const char *p;
    uint64_t off;
    size_t len;
    uint8_t present;
    uint8_t escaped;
} xmpp_attr_t;

/* The stream header's attributes and namespace declarations (raw, see xmpp_attr_t). */
typedef struct {
    xmpp_attr_t to, from, id, version, lang;   /* lang is xml:lang */
    xmpp_attr_t xmlns, xmlns_stream, xmlns_db; /* namespace declarations */
    unsigned ver_major, ver_minor;             /* 0.9 when version is absent */
    int legacy;                                /* no version attribute: a pre-1.0 peer */
} xmpp_header_t;

/*
 * A first-level element. name, ns and prefix are decoded by expat and valid only during the
 * callback; prefix is empty for an element in the default namespace, ns is empty for none.
 */
typedef struct {
    xmpp_slice_t name, ns, prefix;
    xmpp_attr_t to, from, type, id;
} xmpp_elem_t;

typedef enum {
    XMPP_EV_HEADER,        /* the stream header is complete: [start, end) is its start tag */
    XMPP_EV_ELEMENT_START, /* a first-level element's start tag is complete: [start, end) */
    XMPP_EV_ELEMENT,       /* a first-level element is complete: [start, end) is all of it */
    XMPP_EV_KEEPALIVE,     /* a run of whitespace between first-level elements: [start, end) */
    XMPP_EV_CLOSE,         /* </stream:stream>: [start, end) (empty for <stream:stream/>) */
} xmpp_event_kind_t;

/*
 * One event. start and end are absolute offsets in the stream: 0 is the first byte fed after
 * xmpp_reader_new (offsets keep counting across xmpp_reader_reset); end is one past the last
 * byte, so an element's bytes are exactly input[start, end). Pointers are valid only during the
 * callback. A keepalive is reported once, when the run ends (the next element, the close, or
 * finish), so the same input gives the same events however it is split.
 */
typedef struct {
    xmpp_event_kind_t kind;
    uint64_t start, end;
    const xmpp_header_t *header; /* HEADER */
    const xmpp_elem_t *elem;     /* ELEMENT_START, ELEMENT */
} xmpp_event_t;

/*
 * Called synchronously from xmpp_reader_feed/finish. Return 0 to go on; non-zero stops the
 * reader right after this event: feed returns XMPP_E_STOPPED, the bytes after ev->end were not
 * taken (xmpp_reader_offset == ev->end) and the reader takes nothing more until
 * xmpp_reader_reset. That is how a stream restart is done at the exact byte: stop on
 * <starttls/> (discard what follows) or on the SASL <success/> exchange (reset, then feed the
 * bytes after ev->end as the new stream).
 */
typedef int (*xmpp_event_cb)(void *ud, const xmpp_event_t *ev);

typedef enum {
    XMPP_STATE_PROLOG,  /* before the stream header is complete */
    XMPP_STATE_OPEN,    /* header seen, stream open */
    XMPP_STATE_CLOSED,  /* </stream:stream> seen */
    XMPP_STATE_ERROR,   /* a stream error was reported; xmpp_reader_error says which */
    XMPP_STATE_STOPPED, /* the callback stopped the reader */
    XMPP_STATE_DONE,    /* xmpp_reader_finish was called */
} xmpp_reader_state_t;

typedef struct {
    uint64_t elements;        /* first-level elements completed */
    uint64_t keepalives;      /* whitespace runs between first-level elements */
    uint64_t keepalive_bytes; /* counted as the bytes arrive */
    uint64_t recycles;        /* parsers replaced (see XMPP_DEFAULT_RECYCLE_BYTES) */
} xmpp_reader_stats_t;

typedef struct xmpp_reader xmpp_reader_t;

/*
 * A reader for one stream of one connection. opts may be NULL (defaults); content_ns is not
 * copied and must outlive the reader. Returns NULL when out of memory, or when expat was built
 * without XML_CONTEXT_BYTES (the attribute ranges are read from its copy of each start tag).
 * Memory: the reader (456 bytes), a copy of the stream header, and one expat parser (about
 * 12 KB once the header is in, about 16 KB after large reads: its input buffer holds a 2 KiB
 * slice of input, a partial token and 1 KiB of context, and is kept). No allocation per stanza.
 */
xmpp_reader_t *xmpp_reader_new(const xmpp_reader_opts_t *opts, xmpp_event_cb cb, void *ud);
void xmpp_reader_free(xmpp_reader_t *r);

/*
 * Feeds the next len bytes of the stream, split anywhere. Events are delivered from inside
 * this call. Returns XMPP_E_NONE when all bytes were taken, XMPP_E_STOPPED (see xmpp_event_cb),
 * or a stream error; once an error is returned every later feed returns the same error.
 */
xmpp_err_t xmpp_reader_feed(xmpp_reader_t *r, const char *buf, size_t len);

/*
 * End of input (the peer closed its side). Delivers what was still pending and returns
 * XMPP_E_TRUNCATED if the input ended inside the stream header, a first-level element or any
 * markup; XMPP_E_NONE if it ended between first-level elements (whether the stream was closed
 * with </stream:stream> is xmpp_reader_state == CLOSED before the call) or before any byte; or
 * the earlier error. Afterwards the state is DONE (or ERROR) and feeds return XMPP_E_FINISHED.
 */
xmpp_err_t xmpp_reader_finish(xmpp_reader_t *r);

/*
 * Starts a new stream on the same connection (after STARTTLS, or SASL success): the parser is
 * reset (interned names freed), limits and callback kept, the state goes back to PROLOG. The
 * new stream begins at the current xmpp_reader_offset, so offsets never go backwards. Works in
 * any state. Returns 0, or -1 when out of memory (the reader is then unusable: free it).
 */
int xmpp_reader_reset(xmpp_reader_t *r);

/*
 * The relay buffer's low-water mark: every byte before this absolute offset belongs to events
 * already delivered (or to nothing worth keeping: prolog, whitespace), so the caller may drop
 * it. While a first-level element is incomplete this is its start, so the buffer always holds
 * the whole element when its ELEMENT event comes; it never moves backwards and never passes the
 * start of an element not yet reported.
 */
uint64_t xmpp_reader_consumed_upto(const xmpp_reader_t *r);
/* Absolute offset one past the last byte taken (all fed bytes, unless stopped). */
uint64_t xmpp_reader_offset(const xmpp_reader_t *r);

xmpp_reader_state_t xmpp_reader_state(const xmpp_reader_t *r);
xmpp_err_t xmpp_reader_error(const xmpp_reader_t *r);
/*
 * Where the error is: the offset of the offending markup or character, for a size limit the
 * first byte beyond it, for XMPP_E_TRUNCATED the end of input. The same whatever the input's
 * split, except for errors expat finds (then xmpp_reader_error_detail is expat's message):
 * expat's position can move by a token with the split.
 */
uint64_t xmpp_reader_error_offset(const xmpp_reader_t *r);
/* expat's message for XMPP_E_XML and other parser-detected errors, else xmpp_strerror. */
const char *xmpp_reader_error_detail(const xmpp_reader_t *r);
const xmpp_reader_stats_t *xmpp_reader_stats(const xmpp_reader_t *r);

/* ---------------------------------------------------------------- attribute values */

/*
 * The raw bytes of a in a buffer that holds the stream from absolute offset buf_off on
 * (buf_len bytes); XMPP_SLICE_NULL if a is absent or not inside the buffer.
 */
xmpp_slice_t xmpp_attr_slice(const xmpp_attr_t *a, const char *buf, uint64_t buf_off,
                             size_t buf_len);

/*
 * Decodes a raw attribute value as XML does: the five predefined entities, character
 * references, and tab/CR/LF (CRLF as one) to a space. The result is never longer than the raw
 * value, so out needs raw.len bytes. Returns the decoded length, or (size_t)-1 if raw holds a
 * malformed reference (cannot happen for values the reader reported) or out is too small.
 */
size_t xmpp_attr_unescape(xmpp_slice_t raw, char *out, size_t cap);

#endif
