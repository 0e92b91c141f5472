/*
 * xmpp_err.c - the one table mapping each XMPP defect to the RFC 6120 stream error condition a
 * peer is sent for it, and the rendering of that <stream:error>. Nothing else in the code
 * spells a condition name.
 */
#include <string.h>

#include "xmpp.h"

static const struct {
    const char *cond;
    const char *detail;
    const char *name;
} err_table[XMPP_ERR__COUNT] = {
#define XMPP_ERR_ROW(id, c, d) [id] = {c, d, #id},
    XMPP_ERR_LIST(XMPP_ERR_ROW)
#undef XMPP_ERR_ROW
};

static int err_ok(xmpp_err_t err)
{
    return (unsigned)err < XMPP_ERR__COUNT;
}

const char *xmpp_err_condition(xmpp_err_t err)
{
    return err_ok(err) ? err_table[err].cond : "undefined-condition";
}

const char *xmpp_strerror(xmpp_err_t err)
{
    return err_ok(err) ? err_table[err].detail : "unknown error";
}

const char *xmpp_err_name(xmpp_err_t err)
{
    return err_ok(err) ? err_table[err].name + strlen("XMPP_E_") : "UNKNOWN";
}

xmpp_err_t xmpp_err_from_condition(const char *cond, size_t len)
{
    /* The generic rows start at BAD_FORMAT; the rows before are the reader's own defects. */
    for (int e = XMPP_E_BAD_FORMAT; e < XMPP_ERR__COUNT; e++) {
        const char *c = err_table[e].cond;
        if (strlen(c) == len && memcmp(c, cond, len) == 0)
            return (xmpp_err_t)e;
    }
    return XMPP_E_NONE;
}

/* Appends to buf while it fits; always counts, so the caller learns the full length. */
typedef struct {
    char *buf;
    size_t cap, len;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if (o->len < o->cap && n <= o->cap - o->len)
        memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void puts_(out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Character data escaping: enough for element content. */
static void put_escaped(out_t *o, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            puts_(o, "&lt;");
            break;
        case '>':
            puts_(o, "&gt;");
            break;
        case '&':
            puts_(o, "&amp;");
            break;
        default:
            put(o, s, 1);
        }
    }
}

static void render(out_t *o, xmpp_err_t err, const char *cond, const char *text)
{
    puts_(o, "<stream:error><");
    puts_(o, cond);
    puts_(o, " xmlns='" XMPP_NS_STREAM_ERR "'");
    if (err == XMPP_E_SEE_OTHER_HOST && text != NULL) {
        puts_(o, ">");
        put_escaped(o, text);
        puts_(o, "</see-other-host>");
    } else {
        puts_(o, "/>");
        if (text != NULL && *text != '\0') {
            puts_(o, "<text xmlns='" XMPP_NS_STREAM_ERR "'>");
            put_escaped(o, text);
            puts_(o, "</text>");
        }
    }
    puts_(o, "</stream:error></stream:stream>");
}

size_t xmpp_stream_error_render(xmpp_err_t err, const char *text, char *buf, size_t len)
{
    const char *cond = err_ok(err) ? err_table[err].cond : NULL;
    out_t count = {NULL, 0, 0};
    if (cond == NULL)
        return 0;
    /* Measure first: all or nothing, a truncated rendering would be worse than none. */
    render(&count, err, cond, text);
    if (count.len <= len) {
        out_t o = {buf, len, 0};
        render(&o, err, cond, text);
    }
    return count.len;
}
