/*
 * xmpp_attr.c - attribute values as the reader reports them: raw ranges of the input. Routing
 * compares them as written in the common case; these helpers find them in the caller's buffer
 * and decode the rare value that holds a reference or a tab/CR/LF, without allocating.
 */
#include <string.h>

#include "xmpp.h"

xmpp_slice_t xmpp_attr_slice(const xmpp_attr_t *a, const char *buf, uint64_t buf_off,
                             size_t buf_len)
{
    if (a == NULL || !a->present || buf == NULL || a->off < buf_off)
        return XMPP_SLICE_NULL;
    uint64_t rel = a->off - buf_off;
    if (rel > buf_len || a->len > buf_len - rel)
        return XMPP_SLICE_NULL;
    return (xmpp_slice_t){buf + rel, a->len};
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* UTF-8 for a code point XML allows; 0 for one it does not. */
static size_t utf8_put(unsigned long cp, char *o)
{
    if (cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp < 0x80)) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp >= 0x80 && cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0x800 && cp <= 0xFFFD && !(cp >= 0xD800 && cp <= 0xDFFF)) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp >= 0x10000 && cp <= 0x10FFFF) {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
    }
    return 0;
}

/* Decodes the reference at s[0] == '&' into o; returns bytes of s used, 0 if malformed. */
static size_t unref(const char *s, size_t n, char *o, size_t *olen)
{
    static const struct {
        const char *name;
        char c;
    } predef[] = {{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"apos;", '\''}, {"quot;", '"'}};
    const char *semi = memchr(s, ';', n);
    if (semi == NULL)
        return 0;
    size_t used = (size_t)(semi - s) + 1;
    if (n >= 2 && s[1] == '#') {
        unsigned long cp = 0;
        size_t i = 2, digits = 0;
        int hex = used > 3 && s[2] == 'x';
        for (i += (size_t)hex; s + i < semi; i++, digits++) {
            int v = hex ? hexval(s[i]) : (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1);
            if (v < 0 || cp > 0x10FFFF)
                return 0;
            cp = cp * (hex ? 16 : 10) + (unsigned long)v;
        }
        size_t k = digits ? utf8_put(cp, o) : 0;
        *olen = k;
        return k ? used : 0;
    }
    for (size_t k = 0; k < sizeof predef / sizeof predef[0]; k++) {
        size_t l = strlen(predef[k].name);
        if (used == l + 1 && memcmp(s + 1, predef[k].name, l) == 0) {
            o[0] = predef[k].c;
            *olen = 1;
            return used;
        }
    }
    return 0;
}

size_t xmpp_attr_unescape(xmpp_slice_t raw, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < raw.len;) {
        char c = raw.p[i];
        char tmp[4];
        size_t n = 1, used = 1;
        if (c == '&') {
            used = unref(raw.p + i, raw.len - i, tmp, &n);
            if (used == 0)
                return (size_t)-1;
        } else if (c == '\r') {
            /* XML end-of-line handling first (CRLF and lone CR are one LF), then the LF is a
             * space in an attribute value. */
            tmp[0] = ' ';
            used = (i + 1 < raw.len && raw.p[i + 1] == '\n') ? 2 : 1;
        } else {
            tmp[0] = (c == '\t' || c == '\n') ? ' ' : c;
        }
        if (n > cap - o)
            return (size_t)-1;
        memcpy(out + o, tmp, n);
        o += n;
        i += used;
    }
    return o;
}
