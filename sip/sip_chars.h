/*
 * sip_chars.h - character classes of the RFC 3261 grammar as one lookup table, shared by the
 * sip/ sources (private to the module). One table load per byte keeps the scanners branch-light.
 */
#ifndef EDGE_SIP_CHARS_H
#define EDGE_SIP_CHARS_H

#include <stdint.h>
#include <stddef.h>

#include "sip.h"

enum {
    SIPC_TOKEN = 1 << 0, /* token: alphanum - . ! % * _ + ` ' ~ */
    SIPC_WS = 1 << 1,    /* SP HT CR LF: LWS inside an already framed value */
    SIPC_DIGIT = 1 << 2,
    SIPC_HEX = 1 << 3,
    SIPC_USER = 1 << 4,   /* unreserved / user-unreserved (& = + $ , ; ? /), '%' for escapes */
    SIPC_PASS = 1 << 5,   /* unreserved / & = + $ , and '%' */
    SIPC_PARAM = 1 << 6,  /* paramchar: unreserved / [ ] / : & + $ and '%' */
    SIPC_WORD = 1 << 7,   /* Call-ID word */
    SIPC_HNAME = 1 << 8,  /* host name: alphanum - . */
    SIPC_HDRVAL = 1 << 9, /* URI header name/value chars: unreserved / [ ] / ? : + $ and '%' */
    SIPC_ALPHA = 1 << 10,
    SIPC_SCHEME = 1 << 11, /* alphanum + - . */
    SIPC_GVAL = 1 << 12,   /* gen-value without quotes: token / host (':' '[' ']') */
    SIPC_URIC = 1 << 13,   /* a URI byte inside <>: printable ASCII except < > */
    SIPC_ASPEC = 1 << 14,  /* a URI byte of an addr-spec without <>: URIC except , ? ; */
};

extern const uint16_t sip_ctab[256];

static inline int sip_c(unsigned char c, unsigned cls)
{
    return (sip_ctab[c] & cls) != 0;
}

static inline int sip_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Case-insensitive equality of a slice and a NUL-terminated ASCII string. */
int sip_slice_ieq(sip_slice_t s, const char *lit);
/* Exact equality of a slice and a NUL-terminated string. */
int sip_slice_eq(sip_slice_t s, const char *lit);

/* Skip LWS (SP, HT, and CRLF folds, which framing guarantees are followed by WSP). */
static inline size_t sip_skip_ws(const char *p, size_t i, size_t n)
{
    while (i < n && sip_c((unsigned char)p[i], SIPC_WS))
        i++;
    return i;
}

static inline sip_slice_t sip_trim(sip_slice_t s)
{
    while (s.len && sip_c((unsigned char)s.p[0], SIPC_WS)) {
        s.p++;
        s.len--;
    }
    while (s.len && sip_c((unsigned char)s.p[s.len - 1], SIPC_WS))
        s.len--;
    return s;
}

static inline sip_slice_t sip_sub(const char *p, size_t from, size_t to)
{
    return (sip_slice_t){p ? p + from : p, to - from}; /* an empty NULL slice stays NULL */
}

/* Case-insensitive equality of a slice with a lowercase all-letter literal of length n. */
static inline int sip_lit_ieq(sip_slice_t s, const char *lit, size_t n)
{
    if (s.len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s.p[i] | 0x20) != (unsigned char)lit[i])
            return 0;
    }
    return 1;
}

/* Parse 1*DIGIT into *out, refusing values above max. Returns 0 or -1. */
int sip_parse_uint(sip_slice_t s, uint64_t max, uint64_t *out);

/* Skip a quoted-string starting at p[i] == '"'; returns the index after the closing quote or
 * (size_t)-1 when unterminated. */
size_t sip_skip_quoted(const char *p, size_t i, size_t n);

#endif
