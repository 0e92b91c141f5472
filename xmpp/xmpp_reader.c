/*
 * xmpp_reader.c - the XMPP stream reader: one expat parser per stream, fed the bytes as they
 * arrive, turned into the few events a relay needs (header, first-level elements as byte
 * ranges, keepalives, close) and into RFC 6120 stream errors. It exists so that the relay never
 * re-serialises a stanza: expat checks the XML and tells where each element starts and ends,
 * the caller forwards its own bytes.
 *
 * Three things shape the code:
 * - Offsets: expat's XML_GetCurrentByteIndex/Count inside a handler give the exact bytes of the
 *   event; an element's range is its start tag's index to its end tag's index + count.
 * - Limits at fixed points: each slice handed to expat ends at or before the next point where a
 *   limit would be passed (header, stanza, pending token), and is parsed in full there. So a
 *   limit is raised without buffering, and the verdict never depends on how the input was split.
 * - Re-parse deferral: expat 2.6 (and Debian's 2.5 with the CVE-2023-52425 fix) waits for a
 *   partial token to double before re-scanning it. That bounds the work on a huge tag sent in
 *   tiny pieces, but it would hold back a complete stanza until more bytes come. We let expat
 *   defer only when the new bytes hold no '>' (nothing can complete) or when a re-parse budget
 *   earned from the bytes received is spent, so a relay never waits on a finished stanza and
 *   the re-scan work stays linear in the input.
 * - Recycling: expat keeps every distinct element and attribute name it has seen for the life
 *   of the parser, so a peer sending fresh names would grow the connection's memory without
 *   bound. After recycle_bytes of stream, at the next stanza end, the parser is replaced by a
 *   new one primed with a copy of the stream header (same namespace bindings, same state), and
 *   offsets carry on as if nothing happened.
 */
#include <expat.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xmpp.h"

/* Separates namespace URI, local name and prefix in the names expat hands us; U+0001 is not
 * an XML Char, so it cannot occur in either. */
#define NS_SEP '\x01'
/* Most bytes handed to expat at once: bounds expat's input buffer, which it keeps per stream
 * (2 KiB: about 4 KB less per connection than 4 KiB, for under 1% of throughput). */
#define CHUNK 2048
/* A pending partial token this small is always re-parsed when a '>' arrives. */
#define FREE_RESCAN 512
/* The stream's first bytes, held back for the encoding checks (see head_take). */
#define HEAD_BYTES 3

#define ST_LIVE(r)                                                                                 \
    ((r)->state == XMPP_STATE_PROLOG || (r)->state == XMPP_STATE_OPEN ||                           \
     (r)->state == XMPP_STATE_CLOSED)

struct xmpp_reader {
    XML_Parser p;
    xmpp_event_cb cb;
    void *ud;

    size_t max_stanza, max_header, max_attr_len, recycle_bytes;
    unsigned max_depth, max_attrs;
    const char *content_ns;

    xmpp_reader_state_t state;
    xmpp_err_t err;
    enum XML_Error xml_err; /* expat's code when expat found the error */
    uint64_t err_off;

    uint64_t base;     /* absolute offset of this stream's first byte */
    uint64_t fed;      /* absolute offset one past the last byte handed to expat */
    uint64_t last_pos; /* one past the last byte expat has turned into events */
    uint64_t stop_at;  /* end of the event the callback stopped on */
    uint64_t credit;   /* re-parse budget, see must_parse */
    int in_parse;      /* inside XML_Parse: stopping goes through XML_StopParser */
    int deferral;      /* expat's re-parse deferral as last set (-1 unknown) */

    unsigned level;    /* open elements inside the stream element */
    unsigned ns_decls; /* namespace declarations of the start tag being reported */
    int default_ns;    /* on the stream header: 0 none, 1 content_ns, 2 another */
    uint64_t el_start; /* start of the open first-level element */
    xmpp_elem_t el;    /* its attributes, kept for the ELEMENT event */
    int ka_pending;    /* a whitespace run not yet reported */
    uint64_t ka_start, ka_end;

    char *hdr; /* the stream header's start tag, to prime a recycled parser */
    size_t hdr_len;
    uint64_t primed_at;  /* where the current parser took over the stream */
    uint64_t recycle_at; /* end of the element after which the parser is being recycled */
    int priming;         /* the current parser is reading the copy of the header */
    int finishing;       /* inside xmpp_reader_finish: no recycling */

    unsigned char head[HEAD_BYTES]; /* the stream's first bytes, for the encoding checks */
    unsigned nhead;
    int head_done; /* they have been handed to expat */

    xmpp_reader_stats_t stats;
};

static void XMLCALL on_text(void *ud, const XML_Char *txt, int len);

/* ---------------------------------------------------------------- small helpers */

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int slice_is(xmpp_slice_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.p, lit, n) == 0;
}

/* Splits expat's "uri SEP local [SEP prefix]" (or a bare "local") into its parts. */
static void split_name(const char *name, xmpp_slice_t *ns, xmpp_slice_t *local,
                       xmpp_slice_t *prefix)
{
    const char *a = strchr(name, NS_SEP);
    if (a == NULL) {
        *ns = (xmpp_slice_t){name, 0};
        *local = (xmpp_slice_t){name, strlen(name)};
        *prefix = (xmpp_slice_t){name, 0};
        return;
    }
    const char *b = strchr(a + 1, NS_SEP);
    *ns = (xmpp_slice_t){name, (size_t)(a - name)};
    if (b == NULL) {
        *local = (xmpp_slice_t){a + 1, strlen(a + 1)};
        *prefix = (xmpp_slice_t){a, 0};
    } else {
        *local = (xmpp_slice_t){a + 1, (size_t)(b - a - 1)};
        *prefix = (xmpp_slice_t){b + 1, strlen(b + 1)};
    }
}

/* Absolute offset of the event being reported (valid inside handlers only). */
static uint64_t ev_off(const xmpp_reader_t *r)
{
    return r->base + (uint64_t)XML_GetCurrentByteIndex(r->p);
}

static void fail(xmpp_reader_t *r, xmpp_err_t err, uint64_t off)
{
    if (!ST_LIVE(r))
        return;
    r->state = XMPP_STATE_ERROR;
    r->err = err;
    r->err_off = off;
    if (r->in_parse)
        XML_StopParser(r->p, XML_FALSE);
}

/* Delivers ev; a non-zero answer stops the reader right after it. */
static void emit(xmpp_reader_t *r, const xmpp_event_t *ev)
{
    if (r->cb(r->ud, ev) == 0)
        return;
    r->state = XMPP_STATE_STOPPED;
    r->stop_at = ev->end;
    if (r->in_parse)
        XML_StopParser(r->p, XML_FALSE);
}

static void emit_keepalive(xmpp_reader_t *r)
{
    if (!r->ka_pending)
        return;
    r->ka_pending = 0;
    r->stats.keepalives++;
    xmpp_event_t ev = {XMPP_EV_KEEPALIVE, r->ka_start, r->ka_end, NULL, NULL};
    emit(r, &ev);
}

/* ---------------------------------------------------------------- raw attributes */

typedef struct {
    const char *name;
    xmpp_attr_t *dst;
} want_t;

/*
 * Finds the wanted attributes in a start tag's raw bytes (t, n at absolute offset off). expat
 * has already checked the tag, so this only needs to step over names, '=' and quoted values.
 */
static void scan_tag(const char *t, size_t n, uint64_t off, const want_t *want, size_t nwant)
{
    size_t i = 1;
    while (i < n && !is_ws(t[i]) && t[i] != '/' && t[i] != '>')
        i++;
    for (;;) {
        while (i < n && is_ws(t[i]))
            i++;
        if (i >= n || t[i] == '/' || t[i] == '>')
            return;
        size_t name = i;
        while (i < n && !is_ws(t[i]) && t[i] != '=')
            i++;
        size_t name_len = i - name;
        while (i < n && is_ws(t[i]))
            i++;
        if (i >= n || t[i] != '=')
            return;
        i++;
        while (i < n && is_ws(t[i]))
            i++;
        if (i >= n || (t[i] != '\'' && t[i] != '"'))
            return;
        char q = t[i++];
        const char *end = memchr(t + i, q, n - i);
        if (end == NULL)
            return;
        size_t v = i, vlen = (size_t)(end - (t + i));
        i = v + vlen + 1;
        for (size_t k = 0; k < nwant; k++) {
            if (strlen(want[k].name) != name_len || memcmp(want[k].name, t + name, name_len) != 0)
                continue;
            xmpp_attr_t *a = want[k].dst;
            a->p = t + v;
            a->off = off + v;
            a->len = vlen;
            a->present = 1;
            a->escaped = 0;
            for (size_t j = v; j < v + vlen; j++) {
                if (t[j] == '&' || t[j] == '\t' || t[j] == '\r' || t[j] == '\n') {
                    a->escaped = 1;
                    break;
                }
            }
            break;
        }
    }
}

/* The raw bytes of the start tag being reported, from expat's buffer; NULL if unavailable. */
static const char *tag_bytes(const xmpp_reader_t *r, size_t count)
{
    int off = 0, size = 0;
    const char *ctx = XML_GetInputContext(r->p, &off, &size);
    if (ctx == NULL || off < 0 || size < off || (size_t)(size - off) < count)
        return NULL;
    return ctx + off;
}

/* ---------------------------------------------------------------- limits */

/* Attribute count and length of the start tag being reported; 0 if within the limits. */
static int attrs_ok(xmpp_reader_t *r, const char **atts)
{
    unsigned n = (unsigned)XML_GetSpecifiedAttributeCount(r->p) / 2 + r->ns_decls;
    r->ns_decls = 0;
    if (n > r->max_attrs) {
        fail(r, XMPP_E_ATTR_COUNT, ev_off(r));
        return 0;
    }
    /* No value can be longer than the tag: the common case costs one call. */
    if ((size_t)XML_GetCurrentByteCount(r->p) > r->max_attr_len) {
        for (size_t i = 1; atts[i - 1] != NULL; i += 2) {
            if (strlen(atts[i]) > r->max_attr_len) {
                fail(r, XMPP_E_ATTR_LEN, ev_off(r));
                return 0;
            }
        }
    }
    return 1;
}

/* ---------------------------------------------------------------- the stream header */

/* version='major.minor' (RFC 6120 4.7.5): two non-negative integers, leading zeros ignored. */
static xmpp_err_t parse_version(const char *v, unsigned *major, unsigned *minor)
{
    unsigned long part[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        if (*v < '0' || *v > '9')
            return XMPP_E_VERSION_SYNTAX;
        while (*v >= '0' && *v <= '9') {
            if (part[k] < 1000000)
                part[k] = part[k] * 10 + (unsigned long)(*v - '0');
            v++;
        }
        if (k == 0 && *v++ != '.')
            return XMPP_E_VERSION_SYNTAX;
    }
    if (*v != '\0')
        return XMPP_E_VERSION_SYNTAX;
    *major = (unsigned)part[0];
    *minor = (unsigned)part[1];
    return part[0] > 1 ? XMPP_E_VERSION : XMPP_E_NONE;
}

static void on_header(xmpp_reader_t *r, const char *name, const char **atts)
{
    uint64_t s = ev_off(r);
    size_t count = (size_t)XML_GetCurrentByteCount(r->p);
    uint64_t e = s + count;
    xmpp_slice_t ns, local, prefix;

    r->last_pos = e;
    if (!attrs_ok(r, atts))
        return;
    split_name(name, &ns, &local, &prefix);
    if (!slice_is(ns, XMPP_NS_STREAMS)) {
        fail(r, XMPP_E_STREAM_NS, s);
        return;
    }
    if (!slice_is(local, "stream")) {
        fail(r, XMPP_E_STREAM_NAME, s);
        return;
    }
    if (!slice_is(prefix, "stream")) {
        fail(r, XMPP_E_STREAM_PREFIX, s);
        return;
    }
    if (r->default_ns != 1) {
        fail(r, XMPP_E_CONTENT_NS, s);
        return;
    }

    xmpp_header_t h;
    memset(&h, 0, sizeof h);
    h.ver_major = 0;
    h.ver_minor = 9;
    h.legacy = 1;
    for (size_t i = 0; atts[i] != NULL; i += 2) {
        if (strcmp(atts[i], "version") == 0) {
            xmpp_err_t verr = parse_version(atts[i + 1], &h.ver_major, &h.ver_minor);
            if (verr != XMPP_E_NONE) {
                fail(r, verr, s);
                return;
            }
            h.legacy = 0;
        }
    }
    const char *t = tag_bytes(r, count);
    if (t == NULL || (r->hdr = malloc(count)) == NULL) {
        fail(r, XMPP_E_NOMEM, s);
        return;
    }
    memcpy(r->hdr, t, count);
    r->hdr_len = count;
    r->primed_at = r->base;
    {
        const want_t want[] = {{"to", &h.to},
                               {"from", &h.from},
                               {"id", &h.id},
                               {"version", &h.version},
                               {"xml:lang", &h.lang},
                               {"xmlns", &h.xmlns},
                               {"xmlns:stream", &h.xmlns_stream},
                               {"xmlns:db", &h.xmlns_db}};
        scan_tag(t, count, s, want, sizeof want / sizeof want[0]);
    }
    r->state = XMPP_STATE_OPEN;
    r->level = 0;
    XML_SetCharacterDataHandler(r->p, on_text);
    xmpp_event_t ev = {XMPP_EV_HEADER, s, e, &h, NULL};
    emit(r, &ev);
}

/* ---------------------------------------------------------------- expat handlers */

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    xmpp_reader_t *r = ud;

    if (r->priming) {
        /* the copy of the header, checked when it first came */
        r->ns_decls = 0;
        return;
    }
    if (r->level > 0) {
        /* Inside a stanza: only the limits matter. */
        if (++r->level > r->max_depth) {
            fail(r, XMPP_E_DEPTH, ev_off(r));
            return;
        }
        attrs_ok(r, atts);
        return;
    }
    if (r->state == XMPP_STATE_PROLOG) {
        on_header(r, name, atts);
        return;
    }
    if (r->state != XMPP_STATE_OPEN)
        return;

    /* A first-level element. The whitespace before it ends here. */
    emit_keepalive(r);
    if (r->state != XMPP_STATE_OPEN)
        return;
    uint64_t s = ev_off(r);
    size_t count = (size_t)XML_GetCurrentByteCount(r->p);
    r->level = 1;
    r->el_start = s;
    if (r->max_depth < 1) {
        fail(r, XMPP_E_DEPTH, s);
        return;
    }
    if (count > r->max_stanza) { /* cannot happen: the slice ends at the limit */
        fail(r, XMPP_E_STANZA_SIZE, s + r->max_stanza);
        return;
    }
    if (!attrs_ok(r, atts))
        return;
    memset(&r->el, 0, sizeof r->el);
    const char *t = tag_bytes(r, count);
    if (t != NULL) {
        const want_t want[] = {
            {"to", &r->el.to}, {"from", &r->el.from}, {"type", &r->el.type}, {"id", &r->el.id}};
        scan_tag(t, count, s, want, sizeof want / sizeof want[0]);
    }
    split_name(name, &r->el.ns, &r->el.name, &r->el.prefix);
    /* Text inside a stanza is the stanza's business: expat need not call us for it. */
    XML_SetCharacterDataHandler(r->p, NULL);
    xmpp_event_t ev = {XMPP_EV_ELEMENT_START, s, s + count, NULL, &r->el};
    emit(r, &ev);
    /* The attribute bytes live in expat's buffer only during this call. */
    r->el.to.p = r->el.from.p = r->el.type.p = r->el.id.p = NULL;
    r->el.name = r->el.ns = r->el.prefix = XMPP_SLICE_NULL;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    xmpp_reader_t *r = ud;

    if (r->level > 1) {
        r->level--;
        return;
    }
    if (!ST_LIVE(r))
        return;
    uint64_t s = ev_off(r);
    uint64_t e = s + (uint64_t)XML_GetCurrentByteCount(r->p);
    r->last_pos = e;
    if (r->level == 0) {
        /* </stream:stream>: expat has matched it with the header. */
        emit_keepalive(r);
        if (r->state != XMPP_STATE_OPEN)
            return;
        r->state = XMPP_STATE_CLOSED;
        XML_SetCharacterDataHandler(r->p, NULL);
        xmpp_event_t ev = {XMPP_EV_CLOSE, s, e, NULL, NULL};
        emit(r, &ev);
        return;
    }
    r->level = 0;
    if (e - r->el_start > r->max_stanza) { /* cannot happen: the slice ends at the limit */
        fail(r, XMPP_E_STANZA_SIZE, r->el_start + r->max_stanza);
        return;
    }
    split_name(name, &r->el.ns, &r->el.name, &r->el.prefix);
    XML_SetCharacterDataHandler(r->p, on_text);
    r->stats.elements++;
    xmpp_event_t ev = {XMPP_EV_ELEMENT, r->el_start, e, NULL, &r->el};
    emit(r, &ev);
    r->el.name = r->el.ns = r->el.prefix = XMPP_SLICE_NULL;
    if (r->state == XMPP_STATE_OPEN && !r->finishing && e - r->primed_at >= r->recycle_bytes) {
        /* Nothing is open or pending here: a good place to swap parsers (see parse_slices). */
        r->recycle_at = e;
        XML_StopParser(r->p, XML_TRUE);
    }
}

/* Character data at stream level (the handler is unset inside stanzas). */
static void XMLCALL on_text(void *ud, const XML_Char *txt, int len)
{
    xmpp_reader_t *r = ud;
    if (r->state != XMPP_STATE_OPEN || r->level != 0)
        return;
    uint64_t s = ev_off(r);
    size_t count = (size_t)XML_GetCurrentByteCount(r->p);
    /* Only literal whitespace is a keepalive. expat hands a line end ("\n", "\r\n" or "\r") as
     * "\n"; otherwise UTF-8 text reaches us unchanged, so a length that differs from the raw
     * count means a character or entity reference. */
    int newline = len == 1 && txt[0] == '\n' && count >= 1 && count <= 2;
    if (!newline) {
        if ((size_t)len != count) {
            fail(r, XMPP_E_TEXT, s);
            return;
        }
        for (int i = 0; i < len; i++) {
            if (!is_ws(txt[i])) {
                fail(r, XMPP_E_TEXT, s + (uint64_t)i);
                return;
            }
        }
    }
    if (!r->ka_pending) {
        r->ka_pending = 1;
        r->ka_start = s;
    }
    r->ka_end = s + count;
    r->last_pos = r->ka_end;
    r->stats.keepalive_bytes += count;
}

static void XMLCALL on_cdata(void *ud)
{
    xmpp_reader_t *r = ud;
    if (r->state == XMPP_STATE_OPEN && r->level == 0)
        fail(r, XMPP_E_TEXT, ev_off(r));
}

static void XMLCALL on_ns_decl(void *ud, const XML_Char *prefix, const XML_Char *uri)
{
    xmpp_reader_t *r = ud;
    r->ns_decls++;
    if (uri != NULL && (size_t)XML_GetCurrentByteCount(r->p) > r->max_attr_len &&
        strlen(uri) > r->max_attr_len) {
        fail(r, XMPP_E_ATTR_LEN, ev_off(r));
        return;
    }
    if (r->state == XMPP_STATE_PROLOG && prefix == NULL)
        r->default_ns = (uri != NULL && strcmp(uri, r->content_ns) == 0) ? 1 : 2;
}

static void XMLCALL on_xml_decl(void *ud, const XML_Char *version, const XML_Char *encoding,
                                int standalone)
{
    xmpp_reader_t *r = ud;
    (void)version;
    (void)standalone;
    /* The parser is told UTF-8 whatever the declaration says; a declaration of anything else
     * is the peer sending something else (RFC 6120 11.6). */
    if (encoding != NULL && strcasecmp(encoding, "UTF-8") != 0)
        fail(r, XMPP_E_ENCODING, ev_off(r));
}

static void XMLCALL on_comment(void *ud, const XML_Char *data)
{
    xmpp_reader_t *r = ud;
    (void)data;
    fail(r, XMPP_E_COMMENT, ev_off(r));
}

static void XMLCALL on_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
    xmpp_reader_t *r = ud;
    (void)target;
    (void)data;
    fail(r, XMPP_E_PI, ev_off(r));
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    xmpp_reader_t *r = ud;
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    fail(r, XMPP_E_DOCTYPE, ev_off(r));
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation)
{
    xmpp_reader_t *r = ud;
    (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid;
    (void)pubid, (void)notation;
    fail(r, XMPP_E_ENTITY, ev_off(r));
}

static void XMLCALL on_skipped_entity(void *ud, const XML_Char *name, int is_param)
{
    xmpp_reader_t *r = ud;
    (void)name;
    (void)is_param;
    fail(r, XMPP_E_ENTITY, ev_off(r));
}

/* ---------------------------------------------------------------- parser setup */

static void setup(xmpp_reader_t *r)
{
    XML_Parser p = r->p;
    XML_SetUserData(p, r);
    XML_SetReturnNSTriplet(p, 1);
    /* No DTD is ever read: parameter entities never, and no external entity handler. */
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, NULL); /* set once the header is in */
    XML_SetStartNamespaceDeclHandler(p, on_ns_decl);
    XML_SetXmlDeclHandler(p, on_xml_decl);
    XML_SetCommentHandler(p, on_comment);
    XML_SetProcessingInstructionHandler(p, on_pi);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    XML_SetEntityDeclHandler(p, on_entity_decl);
    XML_SetSkippedEntityHandler(p, on_skipped_entity);
    XML_SetStartCdataSectionHandler(p, on_cdata);
    r->deferral = -1;
}

static void clear_stream(xmpp_reader_t *r, uint64_t base)
{
    r->state = XMPP_STATE_PROLOG;
    r->err = XMPP_E_NONE;
    r->xml_err = XML_ERROR_NONE;
    r->err_off = 0;
    r->base = r->fed = r->last_pos = r->stop_at = base;
    r->credit = 0;
    r->in_parse = 0;
    r->level = 0;
    r->ns_decls = 0;
    r->default_ns = 0;
    r->el_start = base;
    memset(&r->el, 0, sizeof r->el);
    r->ka_pending = 0;
    r->ka_start = r->ka_end = base;
    r->nhead = 0;
    r->head_done = 0;
    free(r->hdr);
    r->hdr = NULL;
    r->hdr_len = 0;
    r->primed_at = base;
    r->priming = 0;
    r->finishing = 0;
}

static int have_context_bytes(void)
{
    for (const XML_Feature *f = XML_GetFeatureList(); f->feature != XML_FEATURE_END; f++) {
        if (f->feature == XML_FEATURE_CONTEXT_BYTES)
            return f->value > 0;
    }
    return 0;
}

/*
 * A fresh expat parser in place of the old one, which is freed with everything it interned.
 * Freeing and creating (rather than XML_ParserReset, which keeps its memory pools) is what gives
 * the memory back. The encoding is fixed: a declaration cannot switch it (RFC 6120 11.6).
 */
static int new_parser(xmpp_reader_t *r)
{
    if (r->p != NULL)
        XML_ParserFree(r->p);
    r->p = XML_ParserCreateNS("UTF-8", NS_SEP);
    if (r->p == NULL)
        return 0;
    setup(r);
    return 1;
}

xmpp_reader_t *xmpp_reader_new(const xmpp_reader_opts_t *opts, xmpp_event_cb cb, void *ud)
{
    /* The attribute ranges are read from expat's copy of the start tag. */
    if (cb == NULL || !have_context_bytes())
        return NULL;
    xmpp_reader_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    xmpp_reader_opts_t o = opts ? *opts : (xmpp_reader_opts_t){0};
    r->max_stanza = o.max_stanza ? o.max_stanza : XMPP_DEFAULT_MAX_STANZA;
    r->max_header = o.max_header ? o.max_header : XMPP_DEFAULT_MAX_HEADER;
    r->max_depth = o.max_depth ? o.max_depth : XMPP_DEFAULT_MAX_DEPTH;
    r->max_attrs = o.max_attrs ? o.max_attrs : XMPP_DEFAULT_MAX_ATTRS;
    r->max_attr_len = o.max_attr_len ? o.max_attr_len : XMPP_DEFAULT_MAX_ATTR_LEN;
    r->recycle_bytes = o.recycle_bytes ? o.recycle_bytes : XMPP_DEFAULT_RECYCLE_BYTES;
    r->content_ns = o.content_ns ? o.content_ns : XMPP_NS_SERVER;
    r->cb = cb;
    r->ud = ud;
    if (!new_parser(r)) {
        free(r);
        return NULL;
    }
    clear_stream(r, 0);
    return r;
}

void xmpp_reader_free(xmpp_reader_t *r)
{
    if (r == NULL)
        return;
    XML_ParserFree(r->p);
    free(r->hdr);
    free(r);
}

int xmpp_reader_reset(xmpp_reader_t *r)
{
    uint64_t at = xmpp_reader_offset(r);
    clear_stream(r, at);
    if (!new_parser(r)) {
        r->state = XMPP_STATE_ERROR;
        r->err = XMPP_E_NOMEM;
        r->err_off = at;
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- feeding */

static xmpp_err_t map_expat(enum XML_Error xe)
{
    switch (xe) {
    case XML_ERROR_NO_MEMORY:
        return XMPP_E_NOMEM;
    case XML_ERROR_UNDEFINED_ENTITY:
    case XML_ERROR_RECURSIVE_ENTITY_REF:
    case XML_ERROR_BINARY_ENTITY_REF:
    case XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF:
    case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
    case XML_ERROR_NOT_STANDALONE:
    case XML_ERROR_ENTITY_DECLARED_IN_PE:
#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 4)
    case XML_ERROR_AMPLIFICATION_LIMIT_BREACH:
#endif
        return XMPP_E_ENTITY;
    case XML_ERROR_UNKNOWN_ENCODING:
    case XML_ERROR_INCORRECT_ENCODING:
        return XMPP_E_ENCODING;
    case XML_ERROR_UNBOUND_PREFIX:
        return XMPP_E_UNBOUND_PREFIX;
    default:
        return XMPP_E_XML;
    }
}

/*
 * expat's tokenizer turns a run of character data that ends in "]]>" into one invalid token, so
 * the text before the "]]>" is never reported: at stream level, a split feed reports that text
 * first (bad-format, at its first character) and a whole feed would say not-well-formed at the
 * '>'. To keep the verdict independent of the split, text other than whitespace between the
 * last event and the "]]>" is the verdict. Returns 1 and its offset, or 0.
 */
static int text_before_cdata_end(const xmpp_reader_t *r, XML_Index at, uint64_t *text_at)
{
    if (r->state != XMPP_STATE_OPEN || r->level != 0 || at < 0)
        return 0;
    uint64_t err = r->base + (uint64_t)at;
    if (err < r->last_pos + 2)
        return 0;
    uint64_t back = err - r->last_pos;
    int off = 0, size = 0;
    const char *ctx = XML_GetInputContext(r->p, &off, &size);
    if (ctx == NULL || off < 2 || size <= off || (uint64_t)off < back)
        return 0;
    const char *e = ctx + off;
    if (e[0] != '>' || e[-1] != ']' || e[-2] != ']')
        return 0;
    for (const char *c = e - back; c < e - 2; c++) {
        if (!is_ws(*c)) {
            *text_at = err - (uint64_t)(e - c);
            return 1;
        }
    }
    return 0;
}

/* After XML_Parse failed: our own stop, or an error expat found. */
static xmpp_err_t parse_failed(xmpp_reader_t *r)
{
    if (r->state == XMPP_STATE_STOPPED)
        return XMPP_E_STOPPED;
    if (r->state == XMPP_STATE_ERROR)
        return r->err;
    enum XML_Error xe = XML_GetErrorCode(r->p);
    XML_Index at = XML_GetCurrentByteIndex(r->p);
    uint64_t text_at;
    if (xe == XML_ERROR_INVALID_TOKEN && text_before_cdata_end(r, at, &text_at)) {
        r->state = XMPP_STATE_ERROR;
        r->err = XMPP_E_TEXT;
        r->err_off = text_at;
        return r->err;
    }
    r->state = XMPP_STATE_ERROR;
    r->xml_err = xe;
    r->err = map_expat(xe);
    r->err_off = at >= 0 ? r->base + (uint64_t)at : r->fed;
    return r->err;
}

/*
 * The stream's first bytes are held back until there are three (or the input ends) and checked
 * before expat sees any, so the verdict cannot depend on how they were split: UTF-16 and UTF-32
 * (with or without a byte order mark) start with FE or FF or have a 00 among their first bytes,
 * which UTF-8 XML never has; a UTF-8 byte order mark is a U+FEFF character where none may be
 * (RFC 6120 11.6), and expat would skip it silently.
 */
static int head_take(xmpp_reader_t *r, const char **buf, size_t *len)
{
    while (*len > 0 && r->nhead < HEAD_BYTES) {
        r->head[r->nhead++] = (unsigned char)**buf;
        (*buf)++;
        (*len)--;
    }
    const unsigned char *h = r->head;
    if (h[0] == 0xFE || h[0] == 0xFF || memchr(h, 0, r->nhead) != NULL) {
        fail(r, XMPP_E_ENCODING, r->base);
        return 0;
    }
    if (r->nhead >= 3 && h[0] == 0xEF && h[1] == 0xBB && h[2] == 0xBF) {
        fail(r, XMPP_E_BOM, r->base);
        return 0;
    }
    return 1;
}

/* Bytes taken from the caller but not yet handed to expat (the stream's first bytes). */
static size_t held(const xmpp_reader_t *r)
{
    return r->head_done ? 0 : r->nhead;
}

/*
 * The next point where a limit is passed if the input has not moved on by then: the header's
 * end, the open stanza's end, or the end of a stanza whose start tag is still pending.
 */
static uint64_t limit_point(const xmpp_reader_t *r)
{
    if (r->state == XMPP_STATE_PROLOG)
        return r->base + r->max_header;
    if (r->state == XMPP_STATE_OPEN)
        return (r->level > 0 ? r->el_start : r->last_pos) + r->max_stanza;
    return UINT64_MAX;
}

/* Checked after each slice, which ends at or before limit_point and was parsed in full. */
static void check_limits(xmpp_reader_t *r)
{
    uint64_t point = limit_point(r);
    if (r->fed < point)
        return;
    if (r->state == XMPP_STATE_PROLOG)
        fail(r, XMPP_E_HEADER_SIZE, point);
    else if (r->state == XMPP_STATE_OPEN)
        fail(r, XMPP_E_STANZA_SIZE, point);
}

static void set_deferral(xmpp_reader_t *r, int on)
{
#ifdef EDGE_XMPP_HAVE_REPARSE_DEFERRAL
    if (r->deferral != on) {
        XML_SetReparseDeferralEnabled(r->p, on ? XML_TRUE : XML_FALSE);
        r->deferral = on;
    }
#else
    (void)r;
    (void)on;
#endif
}

/*
 * Whether expat must parse this slice now rather than wait for a pending partial token to
 * grow. Every event ends with a '>', so a slice without one completes nothing we report. With
 * one, a small pending token is re-scanned for free; a large one costs its size from a budget
 * earned one unit per byte received, so a peer dribbling a huge tag with '>' in its values
 * cannot make the re-scans quadratic (once the budget is spent, expat's own doubling rule
 * applies). A slice that reaches a limit point is always parsed, so the check after it is exact.
 */
static int must_parse(xmpp_reader_t *r, const char *buf, size_t n, uint64_t point)
{
    uint64_t pending = r->fed - r->last_pos;
    r->credit += n;
    if (r->credit > r->max_stanza)
        r->credit = r->max_stanza;
    if (pending == 0 || r->fed + n >= point)
        return 1;
    if (memchr(buf, '>', n) == NULL)
        return 0;
    if (pending <= FREE_RESCAN)
        return 1;
    if (r->credit >= pending) {
        r->credit -= pending;
        return 1;
    }
    return 0;
}

/*
 * Replaces the parser between two stanzas: the new one reads the copy of the stream header, so
 * it is inside the stream element with the same namespace bindings, and base is set so that its
 * byte indices for what follows map to the same absolute offsets.
 */
static int recycle(xmpp_reader_t *r)
{
    if (!new_parser(r)) {
        r->state = XMPP_STATE_ERROR;
        r->err = XMPP_E_NOMEM;
        r->err_off = r->fed;
        return 0;
    }
    XML_SetCharacterDataHandler(r->p, on_text);
    r->base = r->fed - r->hdr_len;
    r->priming = 1;
    r->in_parse = 1;
    enum XML_Status st = XML_Parse(r->p, r->hdr, (int)r->hdr_len, 0);
    r->in_parse = 0;
    r->priming = 0;
    if (st != XML_STATUS_OK) {
        parse_failed(r); /* out of memory: the header was read once already */
        r->err_off = r->fed;
        return 0;
    }
    r->primed_at = r->fed;
    r->stats.recycles++;
    return 1;
}

/* Hands buf to expat in slices that each end at or before the next limit point. */
static xmpp_err_t parse_slices(xmpp_reader_t *r, const char *buf, size_t len)
{
    while (len > 0) {
        uint64_t point = limit_point(r);
        size_t n = len < CHUNK ? len : CHUNK;
        if (point - r->fed < n)
            n = (size_t)(point - r->fed);
        set_deferral(r, !must_parse(r, buf, n, point));
        r->in_parse = 1;
        enum XML_Status st = XML_Parse(r->p, buf, (int)n, 0);
        r->in_parse = 0;
        if (st == XML_STATUS_SUSPENDED) {
            /* Recycling: the bytes after the element go to the new parser. */
            size_t used = (size_t)(r->recycle_at - r->fed);
            r->fed = r->last_pos = r->recycle_at;
            if (!recycle(r))
                return r->err;
            buf += used;
            len -= used;
            continue;
        }
        r->fed += n;
        if (st != XML_STATUS_OK)
            return parse_failed(r);
        /* Outside handlers the index is just past the last event, or -1 after expat moved its
         * buffer without parsing (deferral); then nothing was consumed and last_pos holds. */
        XML_Index at = XML_GetCurrentByteIndex(r->p);
        if (at >= 0 && r->base + (uint64_t)at > r->last_pos)
            r->last_pos = r->base + (uint64_t)at;
        check_limits(r);
        if (r->state == XMPP_STATE_ERROR)
            return r->err;
        buf += n;
        len -= n;
    }
    return XMPP_E_NONE;
}

/* The held first bytes go to expat once checked (or at the end of input). */
static xmpp_err_t head_release(xmpp_reader_t *r)
{
    r->head_done = 1;
    return parse_slices(r, (const char *)r->head, r->nhead);
}

xmpp_err_t xmpp_reader_feed(xmpp_reader_t *r, const char *buf, size_t len)
{
    if (r->state == XMPP_STATE_ERROR)
        return r->err;
    if (r->state == XMPP_STATE_STOPPED || r->state == XMPP_STATE_DONE)
        return XMPP_E_FINISHED;
    if (!r->head_done && len > 0) {
        if (!head_take(r, &buf, &len))
            return r->err;
        if (r->nhead < HEAD_BYTES)
            return XMPP_E_NONE;
        xmpp_err_t e = head_release(r);
        if (e != XMPP_E_NONE)
            return e;
    }
    return parse_slices(r, buf, len);
}

xmpp_err_t xmpp_reader_finish(xmpp_reader_t *r)
{
    switch (r->state) {
    case XMPP_STATE_ERROR:
        return r->err;
    case XMPP_STATE_DONE:
        return XMPP_E_NONE;
    case XMPP_STATE_STOPPED:
        return XMPP_E_FINISHED;
    default:
        break;
    }
    if (!r->head_done && r->nhead > 0) {
        xmpp_err_t e = head_release(r);
        if (e != XMPP_E_NONE)
            return e;
    }
    /* The final parse ignores deferral, so whatever was held back is delivered first. */
    r->finishing = 1;
    r->in_parse = 1;
    enum XML_Status st = XML_Parse(r->p, "", 0, 1);
    r->in_parse = 0;
    if (st != XML_STATUS_OK) {
        if (r->state == XMPP_STATE_STOPPED)
            return XMPP_E_STOPPED;
        if (r->state == XMPP_STATE_ERROR)
            return r->err;
        enum XML_Error xe = XML_GetErrorCode(r->p);
        int between = r->state == XMPP_STATE_OPEN && r->level == 0;
        int nothing = r->state == XMPP_STATE_PROLOG && r->fed == r->base;
        if (xe == XML_ERROR_NO_ELEMENTS && (between || nothing)) {
            /* The peer hung up between stanzas (or before a byte): nothing is lost. */
        } else if (xe == XML_ERROR_NO_ELEMENTS || xe == XML_ERROR_UNCLOSED_TOKEN ||
                   xe == XML_ERROR_PARTIAL_CHAR || xe == XML_ERROR_UNCLOSED_CDATA_SECTION) {
            r->state = XMPP_STATE_ERROR;
            r->xml_err = xe;
            r->err = XMPP_E_TRUNCATED;
            r->err_off = r->fed;
            return r->err;
        } else {
            return parse_failed(r);
        }
    }
    if (r->state == XMPP_STATE_OPEN)
        emit_keepalive(r);
    if (r->state == XMPP_STATE_STOPPED)
        return XMPP_E_STOPPED;
    r->state = XMPP_STATE_DONE;
    return XMPP_E_NONE;
}

/* ---------------------------------------------------------------- accessors */

uint64_t xmpp_reader_consumed_upto(const xmpp_reader_t *r)
{
    uint64_t at = r->level > 0 ? r->el_start : r->last_pos;
    if (r->state == XMPP_STATE_STOPPED && at > r->stop_at)
        at = r->stop_at;
    return at;
}

uint64_t xmpp_reader_offset(const xmpp_reader_t *r)
{
    return r->state == XMPP_STATE_STOPPED ? r->stop_at : r->fed + held(r);
}

xmpp_reader_state_t xmpp_reader_state(const xmpp_reader_t *r)
{
    return r->state;
}

xmpp_err_t xmpp_reader_error(const xmpp_reader_t *r)
{
    return r->state == XMPP_STATE_ERROR ? r->err : XMPP_E_NONE;
}

uint64_t xmpp_reader_error_offset(const xmpp_reader_t *r)
{
    return r->err_off;
}

const char *xmpp_reader_error_detail(const xmpp_reader_t *r)
{
    if (r->xml_err != XML_ERROR_NONE)
        return XML_ErrorString(r->xml_err);
    return xmpp_strerror(r->err);
}

const xmpp_reader_stats_t *xmpp_reader_stats(const xmpp_reader_t *r)
{
    return &r->stats;
}
