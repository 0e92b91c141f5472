/*
 * s2s_xml.c - walks the bytes of one first-level element (see s2s_xml.h). expat has checked
 * them, so this is a tokenizer, not a parser: tags, text and CDATA, with the namespace
 * declarations tracked so that <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'> and a
 * prefixed equivalent resolve alike. It stays inside the bytes it is given whatever they hold.
 */
#include <limits.h>
#include <string.h>

#include "s2s_xml.h"

static int ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int xw_is(xmpp_slice_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.p != NULL && s.len == n && memcmp(s.p, lit, n) == 0;
}

static xmpp_slice_t lit(const char *s)
{
    return (xmpp_slice_t){s, strlen(s)};
}

static void bind(xw_t *w, xmpp_slice_t pfx, xmpp_slice_t uri, unsigned depth)
{
    if (w->nns == XW_MAX_NS) {
        /* Too many to track: the oldest element-level binding would be wrong, so make the
         * walk end here; what was read so far stays valid. */
        w->done = 1;
        return;
    }
    w->ns[w->nns++] = (xw_ns_t){pfx, uri, depth};
}

void xw_init(xw_t *w, const char *p, size_t len, xmpp_slice_t db_ns)
{
    memset(w, 0, sizeof *w);
    w->p = p;
    w->len = len;
    bind(w, (xmpp_slice_t){"", 0}, lit(XMPP_NS_SERVER), UINT_MAX);
    bind(w, lit("stream"), lit(XMPP_NS_STREAMS), UINT_MAX);
    if (db_ns.p != NULL)
        bind(w, lit("db"), db_ns, UINT_MAX);
}

/* Steps over one attribute in a[*i, n): name, '=', quoted value. 0 at the end. */
static int attr_next(const char *a, size_t n, size_t *i, xmpp_slice_t *name, xmpp_slice_t *val)
{
    size_t k = *i;
    while (k < n && ws(a[k]))
        k++;
    if (k >= n || a[k] == '/' || a[k] == '>')
        return 0;
    size_t s = k;
    while (k < n && !ws(a[k]) && a[k] != '=')
        k++;
    *name = (xmpp_slice_t){a + s, k - s};
    while (k < n && ws(a[k]))
        k++;
    if (k >= n || a[k] != '=')
        return 0;
    k++;
    while (k < n && ws(a[k]))
        k++;
    if (k >= n || (a[k] != '\'' && a[k] != '"'))
        return 0;
    char q = a[k++];
    const char *e = memchr(a + k, q, n - k);
    if (e == NULL)
        return 0;
    *val = (xmpp_slice_t){a + k, (size_t)(e - (a + k))};
    *i = (size_t)(e - a) + 1;
    return 1;
}

xmpp_slice_t xw_attr(xmpp_slice_t attrs, const char *name)
{
    xmpp_slice_t n, v;
    size_t i = 0;
    while (attrs.p != NULL && attr_next(attrs.p, attrs.len, &i, &n, &v)) {
        if (xw_is(n, name))
            return v;
    }
    return XMPP_SLICE_NULL;
}

/* A namespace URI as XML reads it: references decoded (into nsbuf), else the raw bytes. */
static xmpp_slice_t ns_value(xw_t *w, xmpp_slice_t raw)
{
    if (memchr(raw.p, '&', raw.len) == NULL && memchr(raw.p, '\t', raw.len) == NULL &&
        memchr(raw.p, '\n', raw.len) == NULL && memchr(raw.p, '\r', raw.len) == NULL)
        return raw;
    size_t room = sizeof w->nsbuf - w->nsbuf_used;
    size_t n = xmpp_attr_unescape(raw, w->nsbuf + w->nsbuf_used, room);
    if (n == (size_t)-1)
        return (xmpp_slice_t){"\x01", 1}; /* matches no namespace we look for */
    xmpp_slice_t v = {w->nsbuf + w->nsbuf_used, n};
    w->nsbuf_used += n;
    return v;
}

static xmpp_slice_t resolve(const xw_t *w, xmpp_slice_t pfx)
{
    for (unsigned k = w->nns; k-- > 0;) {
        const xw_ns_t *b = &w->ns[k];
        if (b->pfx.len == pfx.len && memcmp(b->pfx.p, pfx.p, pfx.len) == 0)
            return b->uri;
    }
    return (xmpp_slice_t){"", 0};
}

static void unbind(xw_t *w, unsigned depth)
{
    while (w->nns > 0 && w->ns[w->nns - 1].depth == depth)
        w->nns--;
}

static void split_qname(xmpp_slice_t q, xmpp_slice_t *pfx, xmpp_slice_t *local)
{
    const char *c = memchr(q.p, ':', q.len);
    if (c == NULL) {
        *pfx = (xmpp_slice_t){q.p, 0};
        *local = q;
    } else {
        *pfx = (xmpp_slice_t){q.p, (size_t)(c - q.p)};
        *local = (xmpp_slice_t){c + 1, q.len - (size_t)(c - q.p) - 1};
    }
}

static xw_kind_t eof(xw_t *w, xw_tok_t *t)
{
    w->done = 1;
    t->kind = XW_EOF;
    return XW_EOF;
}

/* An end tag at p[i] == '<', p[i+1] == '/'. */
static xw_kind_t end_tag(xw_t *w, xw_tok_t *t)
{
    const char *p = w->p;
    size_t i = w->i + 2, s = i;
    while (i < w->len && !ws(p[i]) && p[i] != '>')
        i++;
    const char *gt = memchr(p + i, '>', w->len - i);
    if (gt == NULL || w->depth == 0)
        return eof(w, t);
    xmpp_slice_t pfx;
    split_qname((xmpp_slice_t){p + s, i - s}, &pfx, &t->name);
    w->i = (size_t)(gt - p) + 1;
    w->depth--;
    unbind(w, w->depth);
    t->kind = XW_END;
    t->depth = w->depth;
    return XW_END;
}

/* A start tag at p[i] == '<'; '>' may occur inside quoted values. */
static xw_kind_t start_tag(xw_t *w, xw_tok_t *t)
{
    const char *p = w->p;
    size_t i = w->i + 1, s = i;
    while (i < w->len && !ws(p[i]) && p[i] != '/' && p[i] != '>')
        i++;
    xmpp_slice_t qname = {p + s, i - s};
    size_t a = i;
    char q = 0;
    for (; i < w->len; i++) {
        if (q != 0) {
            if (p[i] == q)
                q = 0;
        } else if (p[i] == '\'' || p[i] == '"') {
            q = p[i];
        } else if (p[i] == '>') {
            break;
        }
    }
    if (i >= w->len || qname.len == 0)
        return eof(w, t);
    int empty = p[i - 1] == '/';
    xmpp_slice_t attrs = {p + a, i - a - (size_t)empty};
    w->i = i + 1;

    /* this element's declarations first: they apply to its own name */
    xmpp_slice_t n, v;
    size_t k = 0;
    while (attr_next(attrs.p, attrs.len, &k, &n, &v)) {
        if (xw_is(n, "xmlns"))
            bind(w, (xmpp_slice_t){n.p, 0}, ns_value(w, v), w->depth);
        else if (n.len > 6 && memcmp(n.p, "xmlns:", 6) == 0)
            bind(w, (xmpp_slice_t){n.p + 6, n.len - 6}, ns_value(w, v), w->depth);
    }
    if (w->done)
        return eof(w, t);
    xmpp_slice_t pfx;
    split_qname(qname, &pfx, &t->name);
    t->ns = resolve(w, pfx);
    t->attrs = attrs;
    t->kind = XW_START;
    t->depth = w->depth;
    w->depth++;
    if (empty) {
        w->pending_end = 1;
        w->pending_name = t->name;
    }
    return XW_START;
}

xw_kind_t xw_next(xw_t *w, xw_tok_t *t)
{
    memset(t, 0, sizeof *t);
    if (w->pending_end) {
        w->pending_end = 0;
        w->depth--;
        unbind(w, w->depth);
        t->kind = XW_END;
        t->depth = w->depth;
        t->name = w->pending_name;
        return XW_END;
    }
    if (w->done || w->i >= w->len)
        return eof(w, t);
    const char *p = w->p + w->i;
    size_t left = w->len - w->i;
    if (p[0] != '<') {
        const char *lt = memchr(p, '<', left);
        size_t n = lt ? (size_t)(lt - p) : left;
        w->i += n;
        if (w->depth == 0) /* outside the element: cannot happen for the reader's ranges */
            return xw_next(w, t);
        t->kind = XW_TEXT;
        t->depth = w->depth - 1;
        t->text = (xmpp_slice_t){p, n};
        return XW_TEXT;
    }
    if (left >= 2 && p[1] == '/')
        return end_tag(w, t);
    if (left >= 9 && memcmp(p, "<![CDATA[", 9) == 0) {
        const char *e = NULL;
        for (size_t k = 9; k + 3 <= left; k++) {
            if (memcmp(p + k, "]]>", 3) == 0) {
                e = p + k;
                break;
            }
        }
        if (e == NULL || w->depth == 0)
            return eof(w, t);
        w->i += (size_t)(e - p) + 3;
        t->kind = XW_TEXT;
        t->depth = w->depth - 1;
        t->text = (xmpp_slice_t){p + 9, (size_t)(e - p) - 9};
        t->cdata = 1;
        return XW_TEXT;
    }
    if (left >= 2 && (p[1] == '!' || p[1] == '?')) /* the reader refuses these */
        return eof(w, t);
    if (w->depth == 0 && w->i > 0) /* a second element: not ours to read */
        return eof(w, t);
    return start_tag(w, t);
}
