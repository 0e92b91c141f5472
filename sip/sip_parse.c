/*
 * sip_parse.c - framing of SIP on stream transports and the zero-copy header index.
 *
 * One pass over the header bytes: each physical line is found with a vectorised CR/LF scan, its
 * name is token-checked and mapped to an id, and the value is recorded as a slice. Folded lines
 * extend the previous header. Framing problems (bare CR/LF, Content-Length, size limits) end
 * the parse with a framing error; other defects (a bad start line, a line without a colon) are
 * remembered and reported once the whole message has been framed, so the caller can answer
 * that one message and carry on with the next.
 */
#define _GNU_SOURCE /* memrchr */
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "sip.h"
#include "sip_chars.h"

void sip_msg_init(sip_msg_t *msg, sip_hdr_t *hdrs, size_t hdrs_cap)
{
    memset(msg, 0, sizeof *msg);
    msg->hdrs = hdrs;
    msg->hdrs_cap = hdrs_cap;
    msg->max_size = SIP_DEFAULT_MAX_SIZE;
    msg->max_line = SIP_DEFAULT_MAX_LINE;
    memset(msg->first, 0xff, sizeof msg->first);
}

/* Index of the first CR or LF in p[i..n), or n. */
static size_t find_crlf(const char *p, size_t i, size_t n)
{
#ifdef __SSE2__
    const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
        if (m)
            return i + (size_t)__builtin_ctz((unsigned)m);
        i += 16;
    }
#endif
    for (; i < n; i++) {
        if (p[i] == '\r' || p[i] == '\n')
            return i;
    }
    return n;
}

/*
 * One header line: returns the index of its first CR or LF (or n) and sets *colon to the first
 * ':' before it (or to that index when there is none). One pass finds both, since the name and
 * its colon nearly always sit in the line's first sixteen bytes.
 */
static size_t find_line(const char *p, size_t i, size_t n, size_t *colon)
{
    size_t c = (size_t)-1;
#ifdef __SSE2__
    const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n'), co = _mm_set1_epi8(':');
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        unsigned m =
            (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
        if (c == (size_t)-1) {
            unsigned mc = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, co));
            if (m)
                mc &= (m & -m) - 1; /* only colons before the line end */
            if (mc)
                c = i + (size_t)__builtin_ctz(mc);
        }
        if (m) {
            size_t eol = i + (size_t)__builtin_ctz(m);
            *colon = c == (size_t)-1 ? eol : c;
            return eol;
        }
        i += 16;
    }
#endif
    for (; i < n; i++) {
        if (p[i] == '\r' || p[i] == '\n')
            break;
        if (p[i] == ':' && c == (size_t)-1)
            c = i;
    }
    *colon = c == (size_t)-1 ? i : c;
    return i;
}

/* "SIP/" 1*DIGIT "." 1*DIGIT, "SIP" case-insensitive. Returns 1 for 2.0, 0 other, -1 bad. */
static int version_check(sip_slice_t v)
{
    size_t i = 4, d1, d2;
    if (v.len < 7 || sip_lower((unsigned char)v.p[0]) != 's' ||
        sip_lower((unsigned char)v.p[1]) != 'i' || sip_lower((unsigned char)v.p[2]) != 'p' ||
        v.p[3] != '/')
        return -1;
    for (d1 = i; i < v.len && sip_c((unsigned char)v.p[i], SIPC_DIGIT); i++)
        ;
    if (i == d1 || i >= v.len || v.p[i] != '.')
        return -1;
    for (d2 = ++i; i < v.len && sip_c((unsigned char)v.p[i], SIPC_DIGIT); i++)
        ;
    if (i == d2 || i != v.len)
        return -1;
    return v.len == 7 && v.p[4] == '2' && v.p[6] == '0';
}

/* Bytes allowed in a start line besides printable ASCII and UTF-8: none but HT. */
static int has_ctl(const char *p, size_t n, int allow_ht)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && !(allow_ht && c == '\t')) || c == 0x7f)
            return 1;
    }
    return 0;
}

static sip_err_t parse_start_line(sip_msg_t *msg, const char *p, size_t n)
{
    const char *sp1, *sp2;

    /* a method is a token and '/' is not a token character: "SIP/" (any case) means status */
    if (n >= 4 && (p[0] | 0x20) == 's' && (p[1] | 0x20) == 'i' && (p[2] | 0x20) == 'p' &&
        p[3] == '/') {
        msg->kind = SIP_MSG_RESPONSE;
        sp1 = memchr(p, ' ', n);
        if (!sp1)
            return SIP_E_START_LINE;
        msg->version = (sip_slice_t){p, (size_t)(sp1 - p)};
        int v = version_check(msg->version);
        if (v < 0)
            return SIP_E_START_LINE;
        size_t rest = n - (size_t)(sp1 + 1 - p);
        const char *c = sp1 + 1;
        if (rest < 4 || c[3] != ' ' || !sip_c((unsigned char)c[0], SIPC_DIGIT) ||
            !sip_c((unsigned char)c[1], SIPC_DIGIT) || !sip_c((unsigned char)c[2], SIPC_DIGIT))
            return SIP_E_STATUS_CODE;
        msg->status = (c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0');
        msg->reason = (sip_slice_t){c + 4, rest - 4};
        if (msg->status < 100 || msg->status > 699)
            return SIP_E_STATUS_CODE;
        if (has_ctl(msg->reason.p, msg->reason.len, 1))
            return SIP_E_REASON;
        return v ? SIP_E_NONE : SIP_E_VERSION;
    }

    msg->kind = SIP_MSG_REQUEST;
    sp1 = memchr(p, ' ', n);
    if (!sp1)
        return SIP_E_START_LINE;
    msg->method = (sip_slice_t){p, (size_t)(sp1 - p)};
    if (!sip_is_token(msg->method))
        return msg->method.len ? SIP_E_METHOD : SIP_E_REQUEST_LINE;
    msg->method_id = sip_method_lookup(msg->method.p, msg->method.len);
    sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - p));
    if (!sp2)
        return SIP_E_REQUEST_LINE;
    msg->ruri = (sip_slice_t){sp1 + 1, (size_t)(sp2 - sp1 - 1)};
    msg->version = (sip_slice_t){sp2 + 1, n - (size_t)(sp2 + 1 - p)};
    /* exactly METHOD SP URI SP VERSION: extra spaces anywhere are a malformed request line */
    if (msg->ruri.len == 0 || has_ctl(msg->ruri.p, msg->ruri.len, 0) ||
        memchr(msg->version.p, ' ', msg->version.len) || memchr(msg->ruri.p, '\t', msg->ruri.len))
        return SIP_E_REQUEST_LINE;
    int v = version_check(msg->version);
    if (v < 0)
        return SIP_E_REQUEST_LINE;
    return v ? SIP_E_NONE : SIP_E_VERSION;
}

static int fail(sip_msg_t *msg, sip_err_t err)
{
    msg->err = err;
    return SIP_ERROR;
}

/* The header section is unfinished: wait, unless the limits are already exceeded. line_start is
 * where the unfinished line begins. */
static int incomplete(sip_msg_t *msg, const char *buf, size_t len, size_t line_start)
{
    size_t line = len - line_start - (buf[len - 1] == '\r'); /* a final CR may start CRLF */
    if (len > msg->max_size)
        return fail(msg, SIP_E_TOO_LARGE);
    if (line > msg->max_line)
        return fail(msg, SIP_E_LINE_TOO_LONG);
    return SIP_INCOMPLETE;
}

/* Keepalives at a message boundary (RFC 5626 4.4.1): CRLFCRLF ping, single CRLF pong. */
static int parse_keepalive(const char *buf, size_t len, sip_msg_t *msg)
{
    if (len < 2)
        return SIP_INCOMPLETE;
    if (buf[1] != '\n')
        return fail(msg, SIP_E_BARE_CRLF);
    if (len >= 3 && buf[2] == '\r') {
        if (len < 4)
            return SIP_INCOMPLETE;
        if (buf[3] != '\n')
            return fail(msg, SIP_E_BARE_CRLF);
        msg->kind = SIP_MSG_PING;
        msg->msg_len = 4;
        return 4;
    }
    /* A lone CRLF is a pong (or an empty line before a message, RFC 3261 7.5). A ping split
     * after its first CRLF reads as two pongs; pings are written in one record in practice. */
    msg->kind = SIP_MSG_PONG;
    msg->msg_len = 2;
    return 2;
}

int sip_parse(const char *buf, size_t len, sip_msg_t *msg, size_t last_len)
{
    size_t pos, eol, start_eol;
    sip_err_t soft = SIP_E_NONE;
    sip_hdr_t *cur = NULL;
    size_t prev_need = last_len > 0 ? msg->need : 0;

    /* Same message, body still short of what the header section announced: nothing to redo. */
    if (prev_need > 0 && len < prev_need)
        return SIP_INCOMPLETE;

    msg->kind = SIP_MSG_NONE;
    msg->nhdrs = 0;
    msg->err = SIP_E_NONE;
    msg->need = 0;
    msg->msg_len = 0;
    msg->hdr_len = 0;
    msg->body_len = 0;
    msg->status = 0;
    msg->method_id = SIP_METHOD_OTHER;
    msg->method = msg->ruri = msg->version = msg->reason = msg->body = SIP_SLICE_NULL;
    memset(msg->first, 0xff, sizeof msg->first);
    memset(msg->count, 0, sizeof msg->count);

    if (len == 0)
        return SIP_INCOMPLETE;
    if (buf[0] == '\r')
        return parse_keepalive(buf, len, msg);
    if (buf[0] == '\n')
        return fail(msg, SIP_E_BARE_CRLF);

    /*
     * Recheck of a header section that was incomplete last time. New bytes without any CR or LF
     * only lengthen the last line, so the answer is the one a full parse would give for an
     * unfinished line; anything else (a line end, a bare CR/LF) gets the full parse.
     */
    if (last_len > 0 && last_len < len && prev_need == 0 &&
        find_crlf(buf, last_len - 1, len) == len) {
        const char *nl = memrchr(buf, '\n', last_len - 1);
        return incomplete(msg, buf, len, nl ? (size_t)(nl - buf) + 1 : 0);
    }

    /* start line */
    start_eol = find_crlf(buf, 0, len);
    if (start_eol >= len - 1) {
        if (start_eol < len && buf[start_eol] == '\n')
            return fail(msg, SIP_E_BARE_CRLF);
        return incomplete(msg, buf, len, 0);
    }
    if (buf[start_eol] != '\r' || buf[start_eol + 1] != '\n')
        return fail(msg, SIP_E_BARE_CRLF);
    if (start_eol > msg->max_line)
        return fail(msg, SIP_E_LINE_TOO_LONG);
    /* parsed before framing completes so that even a framing error knows request vs response */
    soft = parse_start_line(msg, buf, start_eol);
    pos = start_eol + 2;

    /* header lines */
    for (;;) {
        if (pos >= len)
            goto incomplete;
        unsigned char c = (unsigned char)buf[pos];
        if (c == '\r') {
            if (pos + 1 >= len)
                goto incomplete;
            if (buf[pos + 1] != '\n')
                return fail(msg, SIP_E_BARE_CRLF);
            pos += 2;
            break;
        }
        size_t colon_at;
        eol = find_line(buf, pos, len, &colon_at);
        if (eol + 1 >= len) {
            if (eol < len && buf[eol] == '\n')
                return fail(msg, SIP_E_BARE_CRLF);
            goto incomplete;
        }
        if (buf[eol] != '\r' || buf[eol + 1] != '\n')
            return fail(msg, SIP_E_BARE_CRLF);

        if (c == ' ' || c == '\t') {
            /* folded continuation of the previous header */
            if (!cur) {
                if (soft == SIP_E_NONE)
                    soft = SIP_E_LEADING_FOLD;
            } else {
                const char *vend = buf + eol;
                if ((size_t)(buf + eol + 2 - cur->raw.p) > msg->max_line)
                    return fail(msg, SIP_E_LINE_TOO_LONG);
                if (cur->value.len == 0) {
                    size_t v = pos;
                    while (v < eol && (buf[v] == ' ' || buf[v] == '\t'))
                        v++;
                    cur->value.p = buf + v;
                }
                /* a blank continuation line adds nothing: trim back over it and its fold */
                while (vend > cur->value.p && sip_c((unsigned char)vend[-1], SIPC_WS))
                    vend--;
                if (vend > cur->value.p) {
                    cur->value.len = (size_t)(vend - cur->value.p);
                    cur->folded = 1;
                }
                cur->raw.len = (size_t)(buf + eol + 2 - cur->raw.p);
            }
            pos = eol + 2;
            continue;
        }

        if (eol - pos > msg->max_line)
            return fail(msg, SIP_E_LINE_TOO_LONG);

        /* name: up to the colon, minus white space before it; a known name needs no
         * character check (it matched the table), an unknown one must be a token */
        const char *colon = colon_at < eol ? buf + colon_at : NULL;
        size_t name_end = colon_at, i;
        while (name_end > pos && (buf[name_end - 1] == ' ' || buf[name_end - 1] == '\t'))
            name_end--;
        sip_hdr_id_t id = sip_hdr_lookup(buf + pos, name_end - pos);
        if (!colon || name_end == pos ||
            (id == SIP_HDR_OTHER && !sip_is_token(sip_sub(buf, pos, name_end)))) {
            if (soft == SIP_E_NONE)
                soft = colon ? SIP_E_HEADER_NAME : SIP_E_HEADER_COLON;
            cur = NULL;
            pos = eol + 2;
            continue;
        }
        i = (size_t)(colon - buf);
        if (msg->nhdrs >= msg->hdrs_cap || msg->nhdrs >= INT16_MAX)
            return fail(msg, SIP_E_TOO_MANY_HEADERS);
        i++;
        while (i < eol && (buf[i] == ' ' || buf[i] == '\t'))
            i++;
        size_t vend = eol;
        while (vend > i && (buf[vend - 1] == ' ' || buf[vend - 1] == '\t'))
            vend--;

        cur = &msg->hdrs[msg->nhdrs];
        cur->name = sip_sub(buf, pos, name_end);
        cur->value = sip_sub(buf, i, vend);
        cur->raw = sip_sub(buf, pos, eol + 2);
        cur->folded = 0;
        cur->id = (uint16_t)id;
        if (msg->first[cur->id] < 0)
            msg->first[cur->id] = (int16_t)msg->nhdrs;
        if (msg->count[cur->id] < 255)
            msg->count[cur->id]++;
        msg->nhdrs++;
        pos = eol + 2;
        if (pos > msg->max_size)
            return fail(msg, SIP_E_TOO_LARGE);
    }

    /* framing: Content-Length is mandatory and unique on a stream (RFC 3261 18.3, 20.14) */
    msg->hdr_len = pos;
    if (msg->count[SIP_HDR_CONTENT_LENGTH] == 0)
        return fail(msg, SIP_E_CL_MISSING);
    if (msg->count[SIP_HDR_CONTENT_LENGTH] > 1)
        return fail(msg, SIP_E_CL_MULTIPLE);
    sip_slice_t cl = msg->hdrs[msg->first[SIP_HDR_CONTENT_LENGTH]].value;
    if (sip_content_length_parse(cl, &msg->body_len) < 0) {
        /* all digits but beyond any size we would buffer: too large, not malformed */
        size_t d = 0;
        while (d < cl.len && sip_c((unsigned char)cl.p[d], SIPC_DIGIT))
            d++;
        return fail(msg, d == cl.len && d > 0 ? SIP_E_TOO_LARGE : SIP_E_CL_BAD);
    }
    if (msg->body_len > msg->max_size || msg->hdr_len + msg->body_len > msg->max_size)
        return fail(msg, SIP_E_TOO_LARGE);
    msg->msg_len = msg->hdr_len + msg->body_len;
    if (len < msg->msg_len) {
        msg->need = msg->msg_len;
        msg->msg_len = 0;
        return SIP_INCOMPLETE;
    }
    msg->body = (sip_slice_t){buf + msg->hdr_len, msg->body_len};

    if (soft != SIP_E_NONE)
        return fail(msg, soft);
    return (int)msg->msg_len;

incomplete:
    return incomplete(msg, buf, len, pos);
}
