/*
 * s2s_xml.h - internal to xmpp/: a walker over the bytes of one first-level element that the
 * stream reader has already checked (well-formed, restricted XML), for the negotiation elements
 * whose children and text matter (stream features, SASL, dialback keys, stream errors). The
 * reader reports only a first-level element's own name and attributes; stanzas never come here.
 */
#ifndef EDGE_XMPP_S2S_XML_H
#define EDGE_XMPP_S2S_XML_H

#include <stddef.h>

#include "xmpp.h"

#define XW_MAX_NS 16

typedef enum { XW_EOF, XW_START, XW_END, XW_TEXT } xw_kind_t;

typedef struct {
    xw_kind_t kind;
    unsigned depth;     /* START, END: the element's depth (the first-level element is 0);
                           TEXT: the depth of the element holding it */
    xmpp_slice_t name;  /* START, END: local name */
    xmpp_slice_t ns;    /* START: namespace URI ("" if unbound or undecodable) */
    xmpp_slice_t attrs; /* START: the raw attribute bytes of the start tag */
    xmpp_slice_t text;  /* TEXT: raw character data (references not decoded) or CDATA */
    int cdata;
} xw_tok_t;

typedef struct {
    xmpp_slice_t pfx, uri;
    unsigned depth; /* of the element declaring it; UINT_MAX for the stream header's */
} xw_ns_t;

typedef struct {
    const char *p;
    size_t len, i;
    unsigned depth;
    xw_ns_t ns[XW_MAX_NS];
    unsigned nns;
    char nsbuf[256]; /* decoded namespace URIs that held references */
    size_t nsbuf_used;
    int pending_end; /* an empty-element tag: its END comes next */
    xmpp_slice_t pending_name;
    int done;
} xw_t;

/*
 * Starts a walk over p[0, len), the bytes of one first-level element. The namespaces bound on
 * the stream header are known: the default (jabber:server), 'stream', and 'db' when db_ns is
 * not NULL (the header's raw xmlns:db value).
 */
void xw_init(xw_t *w, const char *p, size_t len, xmpp_slice_t db_ns);
xw_kind_t xw_next(xw_t *w, xw_tok_t *t);

/* The raw value of attribute 'name' (qualified name as written) in a START's attrs; p is NULL
 * if absent. */
xmpp_slice_t xw_attr(xmpp_slice_t attrs, const char *name);

/* Whether s holds exactly the NUL-terminated lit. */
int xw_is(xmpp_slice_t s, const char *lit);

#endif
