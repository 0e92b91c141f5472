/*
 * sip_uri.c - the lazy sub-parsers for addresses: host[:port] (RFC 3261 19.1, RFC 5118 IPv6
 * references), SIP/SIPS/tel URIs, parameter lists, name-addr/addr-spec values (From, To,
 * Contact, Route...) and Via values. They run only when the router asks and never allocate:
 * every result is a slice of the value they were given.
 */
#include <string.h>

#include "sip.h"
#include "sip_chars.h"

/* %HH escapes are well formed and every other byte is in class cls. */
static int chars_ok(sip_slice_t s, unsigned cls)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '%') {
            if (i + 2 >= s.len || !sip_c((unsigned char)s.p[i + 1], SIPC_HEX) ||
                !sip_c((unsigned char)s.p[i + 2], SIPC_HEX))
                return 0;
            i += 2;
        } else if (!sip_c(c, cls)) {
            return 0;
        }
    }
    return 1;
}

static int ipv4_ok(sip_slice_t s)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        unsigned v = 0, digits = 0;
        while (i < s.len && sip_c((unsigned char)s.p[i], SIPC_DIGIT) && digits < 4) {
            v = v * 10 + (unsigned)(s.p[i] - '0');
            i++;
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255)
            return 0;
        if (part < 3) {
            if (i >= s.len || s.p[i] != '.')
                return 0;
            i++;
        }
    }
    return i == s.len;
}

/*
 * IPv6 reference contents. Tolerant on purpose (RFC 5118 4.10: the RFC 3261 ABNF admits a
 * three-colon form that implementations must accept): hex groups of at most four digits,
 * colons, and an optional trailing dotted IPv4 part.
 */
static int ipv6_ok(sip_slice_t s)
{
    size_t colons = 0, group = 0, i;
    if (s.len < 2)
        return 0;
    for (i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == ':') {
            colons++;
            group = 0;
        } else if (c == '.') {
            /* embedded IPv4: from the start of the current group to the end */
            size_t g = i;
            while (g > 0 && s.p[g - 1] != ':')
                g--;
            return colons >= 2 && ipv4_ok(sip_sub(s.p, g, s.len));
        } else if (sip_c(c, SIPC_HEX)) {
            if (++group > 4)
                return 0;
        } else {
            return 0;
        }
    }
    return colons >= 2 && colons <= 8;
}

static int hostname_ok(sip_slice_t s)
{
    size_t label = 0;
    if (s.len == 0 || s.len > 255)
        return 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '.') {
            if (label == 0 || s.p[i - 1] == '-')
                return 0;
            label = 0;
        } else if (sip_c(c, SIPC_HNAME)) {
            if (label == 0 && c == '-')
                return 0;
            label++;
        } else {
            return 0;
        }
    }
    if (s.p[s.len - 1] == '-')
        return 0;
    /* toplabel starts with a letter (RFC 3261 25.1): all-numeric names are bad IPv4 */
    size_t t = s.len;
    if (s.p[t - 1] == '.')
        t--;
    while (t > 0 && s.p[t - 1] != '.')
        t--;
    return sip_c((unsigned char)s.p[t], SIPC_ALPHA);
}

static int port_parse(sip_slice_t s, int *port)
{
    uint64_t v;
    if (sip_parse_uint(s, 65535, &v) < 0)
        return -1;
    *port = (int)v;
    return 0;
}

/* host alone (no port) */
static int host_parse(sip_slice_t h, sip_hostport_t *out)
{
    out->host = h;
    out->port = 0;
    if (h.len >= 2 && h.p[0] == '[') {
        if (h.p[h.len - 1] != ']' || !ipv6_ok(sip_sub(h.p, 1, h.len - 1)))
            return -1;
        out->host_kind = SIP_HOST_IPV6;
        return 0;
    }
    if (ipv4_ok(h)) {
        out->host_kind = SIP_HOST_IPV4;
        return 0;
    }
    if (!hostname_ok(h))
        return -1;
    out->host_kind = SIP_HOST_NAME;
    return 0;
}

int sip_hostport_parse(sip_slice_t s, sip_hostport_t *out)
{
    const char *colon;
    if (s.len == 0)
        return -1;
    if (s.p[0] == '[') {
        const char *rb = memchr(s.p, ']', s.len);
        if (!rb)
            return -1;
        size_t hl = (size_t)(rb - s.p) + 1;
        if (host_parse(sip_sub(s.p, 0, hl), out) < 0)
            return -1;
        if (hl == s.len)
            return 0;
        if (s.p[hl] != ':')
            return -1;
        return port_parse(sip_sub(s.p, hl + 1, s.len), &out->port);
    }
    colon = memchr(s.p, ':', s.len);
    if (!colon)
        return host_parse(s, out);
    if (host_parse(sip_sub(s.p, 0, (size_t)(colon - s.p)), out) < 0)
        return -1;
    return port_parse(sip_sub(s.p, (size_t)(colon - s.p) + 1, s.len), &out->port);
}

/* Index of the next unquoted c in p[i..n), or n. */
static size_t find_unquoted(const char *p, size_t i, size_t n, char c)
{
    for (; i < n; i++) {
        if (p[i] == '"') {
            size_t j = sip_skip_quoted(p, i, n);
            if (j == (size_t)-1)
                return n;
            i = j - 1;
        } else if (p[i] == c) {
            return i;
        }
    }
    return n;
}

/* Split "name[=value]" with LWS around '='. */
static void param_split(sip_slice_t seg, sip_slice_t *name, sip_slice_t *value)
{
    size_t eq = find_unquoted(seg.p, 0, seg.len, '=');
    *name = sip_trim(sip_sub(seg.p, 0, eq));
    *value = eq < seg.len ? sip_trim(sip_sub(seg.p, eq + 1, seg.len)) : (sip_slice_t){NULL, 0};
}

int sip_param_find(sip_slice_t params, const char *name, sip_slice_t *value)
{
    size_t i = 0, n = params.len;
    if (!params.p)
        return 0;
    while (i <= n) {
        size_t e = find_unquoted(params.p, i, n, ';');
        sip_slice_t pn, pv;
        param_split(sip_sub(params.p, i, e), &pn, &pv);
        if (pn.len && sip_slice_ieq(pn, name)) {
            *value = pv.p ? pv : (sip_slice_t){pn.p + pn.len, 0};
            return 1;
        }
        i = e + 1;
    }
    return 0;
}

/* URI parameters: ;pname[=pvalue] with paramchar (quoted values tolerated: [MS-SIPRE] ms-fe). */
static int uri_params_ok(sip_slice_t s)
{
    size_t i = 0;
    while (i <= s.len) {
        size_t e = find_unquoted(s.p, i, s.len, ';');
        sip_slice_t seg = sip_sub(s.p, i, e);
        size_t eq = find_unquoted(seg.p, 0, seg.len, '=');
        sip_slice_t pn = sip_sub(seg.p, 0, eq);
        if (pn.len == 0 || !chars_ok(pn, SIPC_PARAM))
            return 0;
        if (eq < seg.len) {
            sip_slice_t pv = sip_sub(seg.p, eq + 1, seg.len);
            if (pv.len >= 2 && pv.p[0] == '"') {
                if (sip_skip_quoted(pv.p, 0, pv.len) != pv.len)
                    return 0;
            } else if (pv.len == 0 || !chars_ok(pv, SIPC_PARAM)) {
                return 0;
            }
        }
        i = e + 1;
    }
    return 1;
}

/* hname "=" hvalue *( "&" hname "=" hvalue ), checked by character class only */
static int uri_headers_ok(sip_slice_t s)
{
    return s.len > 0 && chars_ok(s, SIPC_HDRVAL | SIPC_PASS);
}

static int no_space_or_ctl(sip_slice_t s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        /* '"' is tolerated for quoted URI parameter values ([MS-SIPRE] ms-fe="...") */
        if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>')
            return 0;
    }
    return 1;
}

static int sip_uri_parse_sip(sip_slice_t r, sip_uri_t *out)
{
    size_t i, n = r.len, at = n, hend;

    /* userinfo runs to an '@' reached through userinfo characters only */
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)r.p[i];
        if (c == '@') {
            at = i;
            break;
        }
        if (!sip_c(c, SIPC_USER | SIPC_PASS) && c != ':')
            break;
    }
    i = 0;
    if (at < n) {
        sip_slice_t ui = sip_sub(r.p, 0, at);
        const char *colon = memchr(ui.p, ':', ui.len);
        out->user = colon ? sip_sub(ui.p, 0, (size_t)(colon - ui.p)) : ui;
        if (colon)
            out->password = sip_sub(ui.p, (size_t)(colon - ui.p) + 1, ui.len);
        if (out->user.len == 0 || !chars_ok(out->user, SIPC_USER) ||
            !chars_ok(out->password, SIPC_PASS))
            return -1;
        i = at + 1;
    }
    if (i < n && r.p[i] == '[') {
        const char *rb = memchr(r.p + i, ']', n - i);
        if (!rb)
            return -1;
        hend = (size_t)(rb - r.p) + 1;
    } else {
        hend = i;
    }
    while (hend < n && r.p[hend] != ';' && r.p[hend] != '?')
        hend++;
    if (sip_hostport_parse(sip_sub(r.p, i, hend), &out->hostport) < 0)
        return -1;
    if (hend < n && r.p[hend] == ';') {
        size_t q = find_unquoted(r.p, hend + 1, n, '?');
        out->params = sip_sub(r.p, hend + 1, q);
        if (!uri_params_ok(out->params))
            return -1;
        hend = q;
    }
    if (hend < n) {
        out->headers = sip_sub(r.p, hend + 1, n);
        if (!uri_headers_ok(out->headers))
            return -1;
    }
    return 0;
}

static int sip_uri_parse_tel(sip_slice_t r, sip_uri_t *out)
{
    size_t i = 0;
    while (i < r.len && r.p[i] != ';') {
        unsigned char c = (unsigned char)r.p[i];
        if (!sip_c(c, SIPC_HEX) && !strchr("+*#-.()pPwW", c))
            return -1;
        i++;
    }
    out->user = sip_sub(r.p, 0, i);
    if (out->user.len == 0)
        return -1;
    if (i < r.len) {
        out->params = sip_sub(r.p, i + 1, r.len);
        if (!uri_params_ok(out->params))
            return -1;
    }
    return 0;
}

int sip_uri_parse(sip_slice_t s, sip_uri_t *out)
{
    size_t i;
    out->scheme = SIP_SCHEME_OTHER;
    out->scheme_name = out->user = out->password = out->params = out->headers = out->opaque =
        out->hostport.host = SIP_SLICE_NULL;
    out->hostport.host_kind = out->hostport.port = 0;
    if (s.len < 2 || !sip_c((unsigned char)s.p[0], SIPC_ALPHA))
        return -1;
    for (i = 1; i < s.len && sip_c((unsigned char)s.p[i], SIPC_SCHEME); i++)
        ;
    if (i >= s.len || s.p[i] != ':')
        return -1;
    out->scheme_name = sip_sub(s.p, 0, i);
    sip_slice_t rest = sip_sub(s.p, i + 1, s.len);
    if (rest.len == 0 || !no_space_or_ctl(rest))
        return -1;
    if (sip_slice_ieq(out->scheme_name, "sip"))
        out->scheme = SIP_SCHEME_SIP;
    else if (sip_slice_ieq(out->scheme_name, "sips"))
        out->scheme = SIP_SCHEME_SIPS;
    else if (sip_slice_ieq(out->scheme_name, "tel"))
        out->scheme = SIP_SCHEME_TEL;
    else
        out->scheme = SIP_SCHEME_OTHER;

    switch (out->scheme) {
    case SIP_SCHEME_SIP:
    case SIP_SCHEME_SIPS:
        return sip_uri_parse_sip(rest, out);
    case SIP_SCHEME_TEL:
        return sip_uri_parse_tel(rest, out);
    default:
        out->opaque = rest;
        return 0;
    }
}

/*
 * One generic-param (RFC 3261 25.1) at p[*i], just after its ';': LWS, token name, optionally
 * LWS "=" LWS and a token / host / quoted-string value, trailing LWS. One pass, no look-ahead.
 * Returns -1 when malformed, else 1 when the value is absent or a token and 0 when it is not
 * (quoted, or host characters), so callers that need a token do not rescan it. value.p is NULL
 * when the parameter has no value.
 */
static int gen_param(const char *p, size_t n, size_t *i, sip_slice_t *name, sip_slice_t *value)
{
    unsigned all = SIPC_TOKEN;
    size_t k = sip_skip_ws(p, *i, n), s;
    for (s = k; k < n && sip_c((unsigned char)p[k], SIPC_TOKEN); k++)
        ;
    if (k == s)
        return -1;
    *name = sip_sub(p, s, k);
    *value = (sip_slice_t){NULL, 0};
    k = sip_skip_ws(p, k, n);
    if (k < n && p[k] == '=') {
        k = sip_skip_ws(p, k + 1, n);
        s = k;
        if (k < n && p[k] == '"') {
            k = sip_skip_quoted(p, k, n);
            if (k == (size_t)-1)
                return -1;
            all = 0;
        } else {
            while (k < n && sip_c((unsigned char)p[k], SIPC_GVAL))
                all &= sip_ctab[(unsigned char)p[k++]];
            if (k == s)
                return -1;
        }
        *value = sip_sub(p, s, k);
        k = sip_skip_ws(p, k, n);
    }
    *i = k;
    return (all & SIPC_TOKEN) != 0;
}

static int is_tag(sip_slice_t name)
{
    return sip_lit_ieq(name, "tag", 3);
}

/* Header parameters after an address, up to the end of the value. p[i] is just after ';'. */
static int naddr_params(const char *p, size_t n, size_t i, sip_naddr_t *out)
{
    out->params = sip_sub(p, i, n);
    for (;;) {
        sip_slice_t pn, pv;
        int tok = gen_param(p, n, &i, &pn, &pv);
        if (tok < 0)
            return -1;
        if (is_tag(pn)) {
            if (out->has_tag || !pv.p || !tok)
                return -1;
            out->tag = pv;
            out->has_tag = 1;
        }
        if (i == n)
            return 0;
        if (p[i] != ';')
            return -1;
        i++;
    }
}

int sip_naddr_parse(sip_slice_t v, sip_naddr_t *out)
{
    size_t i = 0, n;
    const char *p;
    /* field by field: a memset of the struct compiles to rep stos, slow at this size */
    out->display = out->uri = out->params = out->tag = SIP_SLICE_NULL;
    out->display_quoted = out->bracketed = out->has_tag = 0;
    v = sip_trim(v);
    p = v.p;
    n = v.len;
    if (n == 0)
        return -1;

    if (p[0] == '"') {
        size_t q = sip_skip_quoted(p, 0, n);
        if (q == (size_t)-1)
            return -1;
        out->display = sip_sub(p, 1, q - 1);
        out->display_quoted = 1;
        i = sip_skip_ws(p, q, n);
        if (i >= n || p[i] != '<')
            return -1;
    } else {
        while (i < n && sip_c((unsigned char)p[i], SIPC_TOKEN | SIPC_WS))
            i++;
        if (i < n && p[i] == '<') {
            /* RFC 4475 3.1.1.6: a token display name directly followed by '<' is accepted */
            out->display = sip_trim(sip_sub(p, 0, i));
        } else {
            /* addr-spec: the URI ends at the first ';' and parameters after it belong to the
             * header (RFC 3261 20.10); such a URI cannot hold ',', '?' or ';' itself */
            for (i = 0; i < n && sip_c((unsigned char)p[i], SIPC_ASPEC); i++)
                ;
            out->uri = sip_sub(p, 0, i);
            i = sip_skip_ws(p, i, n);
            if (out->uri.len == 0 || (i < n && p[i] != ';'))
                return -1;
            return i < n ? naddr_params(p, n, i + 1, out) : 0;
        }
    }

    /* p[i] == '<' */
    size_t u = ++i;
    while (i < n && sip_c((unsigned char)p[i], SIPC_URIC))
        i++;
    if (i == n || i == u || p[i] != '>')
        return -1;
    out->bracketed = 1;
    out->uri = sip_sub(p, u, i);
    i = sip_skip_ws(p, i + 1, n);
    if (i == n)
        return 0;
    if (p[i] != ';')
        return -1;
    return naddr_params(p, n, i + 1, out);
}

static int via_received_ok(sip_slice_t r)
{
    if (r.len >= 2 && r.p[0] == '[' && r.p[r.len - 1] == ']')
        return ipv6_ok(sip_sub(r.p, 1, r.len - 1));
    return ipv4_ok(r) || ipv6_ok(r);
}

/* token at p[i..], returns its end */
static size_t token_end(const char *p, size_t i, size_t n)
{
    while (i < n && sip_c((unsigned char)p[i], SIPC_TOKEN))
        i++;
    return i;
}

/* sent-protocol: "SIP" SLASH "2.0" SLASH transport, LWS allowed around the slashes. */
static int via_protocol(const char *p, size_t n, size_t *ip, sip_via_t *out)
{
    size_t i = *ip, e;
    sip_slice_t proto, ver;

    if (n - i > 8 && memcmp(p + i, "SIP/2.0/", 8) == 0) {
        i += 8; /* the common spelling */
    } else {
        e = token_end(p, i, n);
        proto = sip_sub(p, i, e);
        i = sip_skip_ws(p, e, n);
        if (i >= n || p[i] != '/')
            return -1;
        i = sip_skip_ws(p, i + 1, n);
        e = token_end(p, i, n);
        ver = sip_sub(p, i, e);
        i = sip_skip_ws(p, e, n);
        if (i >= n || p[i] != '/' || !sip_slice_ieq(proto, "SIP") || !sip_slice_eq(ver, "2.0"))
            return -1;
        i = sip_skip_ws(p, i + 1, n);
    }
    e = token_end(p, i, n);
    out->transport = sip_sub(p, i, e);
    if (e == i)
        return -1;
    *ip = e;
    return 0;
}

/* One known Via parameter, validated; unknown ones pass as they are. */
static int via_param(sip_slice_t pn, sip_slice_t pv, int tok, sip_via_t *out)
{
    uint64_t num;
    sip_hostport_t hp;

    switch (pn.len) {
    case 6:
        if (sip_lit_ieq(pn, "branch", 6)) {
            if (!pv.p || !tok || out->has_branch)
                return -1;
            out->branch = pv;
            out->has_branch = 1;
        }
        return 0;
    case 8:
        if (sip_lit_ieq(pn, "received", 8)) {
            if (!pv.p || !via_received_ok(pv))
                return -1;
            out->received = pv;
        }
        return 0;
    case 5:
        if (sip_lit_ieq(pn, "rport", 5)) {
            if (!pv.p) {
                out->rport = 0;
                return 0;
            }
            if (sip_parse_uint(pv, 65535, &num) < 0)
                return -1;
            out->rport = (int)num;
        } else if (sip_lit_ieq(pn, "maddr", 5)) {
            if (!pv.p || host_parse(pv, &hp) < 0)
                return -1;
            out->maddr = pv;
        }
        return 0;
    case 3:
        if (sip_lit_ieq(pn, "ttl", 3)) {
            if (!pv.p || sip_parse_uint(pv, 255, &num) < 0)
                return -1;
            out->ttl = (int)num;
        }
        return 0;
    default:
        return 0;
    }
}

int sip_via_next(sip_slice_t value, size_t *pos, sip_via_t *out)
{
    const char *p = value.p;
    size_t n = value.len, i = *pos, hs;

    out->transport = out->branch = out->received = out->maddr = out->params = SIP_SLICE_NULL;
    out->sent_by.host = SIP_SLICE_NULL;
    out->sent_by.host_kind = out->sent_by.port = out->has_branch = 0;
    out->rport = -1;
    out->ttl = -1;
    if (i > n)
        return 0;
    i = sip_skip_ws(p, i, n);
    if (i == n)
        return *pos == 0 ? 0 : -1; /* empty value, or nothing after a comma */
    if (via_protocol(p, n, &i, out) < 0)
        return -1;
    hs = sip_skip_ws(p, i, n);
    if (hs == i)
        return -1; /* LWS required before sent-by */

    /* sent-by: host [ COLON port ] with LWS allowed around the colon */
    i = hs;
    if (p[i] == '[') {
        const char *rb = memchr(p + i, ']', n - i);
        if (!rb)
            return -1;
        i = (size_t)(rb - p) + 1;
    } else {
        while (i < n && sip_c((unsigned char)p[i], SIPC_HNAME))
            i++;
    }
    if (host_parse(sip_sub(p, hs, i), &out->sent_by) < 0)
        return -1;
    i = sip_skip_ws(p, i, n);
    if (i < n && p[i] == ':') {
        size_t ps = i = sip_skip_ws(p, i + 1, n);
        while (i < n && sip_c((unsigned char)p[i], SIPC_DIGIT))
            i++;
        if (port_parse(sip_sub(p, ps, i), &out->sent_by.port) < 0)
            return -1;
        i = sip_skip_ws(p, i, n);
    }
    if (i < n && p[i] == ';') {
        out->params.p = p + i + 1;
        do {
            sip_slice_t pn, pv;
            i++;
            int tok = gen_param(p, n, &i, &pn, &pv);
            if (tok < 0 || via_param(pn, pv, tok, out) < 0)
                return -1;
        } while (i < n && p[i] == ';');
        out->params.len = (size_t)(p + i - out->params.p);
    }
    if (i < n && p[i] != ',')
        return -1;
    *pos = i + 1;
    return 1;
}

int sip_via_parse(sip_slice_t v, sip_via_t *out)
{
    size_t pos = 0;
    if (sip_via_next(v, &pos, out) != 1 || pos <= v.len)
        return -1;
    return 0;
}

int sip_msg_top_via(const sip_msg_t *msg, sip_via_t *out)
{
    const sip_hdr_t *h = sip_msg_header_find(msg, SIP_HDR_VIA);
    size_t pos = 0;
    if (!h || sip_via_next(h->value, &pos, out) != 1)
        return -1;
    return 0;
}
