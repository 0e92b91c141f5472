/*
 * s2s.c - XMPP server-to-server negotiation (see s2s.h, docs/xmpp-s2s.md). It owns the order in
 * which a stream is allowed to do things, modelled on Prosody's mod_s2s and mod_dialback:
 * header checks, STARTTLS before anything else when TLS is required, then SASL EXTERNAL or
 * dialback per domain pair, and no stanza routed unless its from/to domains are an
 * authenticated pair. Everything the proxy must do comes out as an action; everything the
 * proxy learns (reader events, TLS outcome, dialback verification) comes in through one call.
 * Output is rendered here, into one growing buffer that SEND actions point into.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "s2s.h"
#include "s2s_xml.h"

/* A JID is at most 3 x 1023 bytes plus separators (RFC 7622). */
#define MAX_JID 3071
/* Output buffered between two drains; a burst beyond this is a caller that does not drain. */
#define OUT_MAX (256 * 1024)

typedef enum {
    PH_INIT,       /* originating, not started */
    PH_HEADER,     /* waiting for the peer's stream header */
    PH_R_OPEN,     /* receiving: header answered, features sent */
    PH_R_SASL,     /* receiving: empty challenge sent, waiting for <response/> */
    PH_O_FEATURES, /* originating: waiting for <stream:features/> */
    PH_O_PROCEED,  /* originating: <starttls/> sent */
    PH_O_SASL,     /* originating: <auth/> sent */
    PH_O_OPEN,     /* originating: negotiated; pairs by dialback, verify requests */
    PH_TLS,        /* the TLS handshake is the caller's */
    PH_CLOSED,
} phase_t;

typedef struct {
    char *from, *to; /* sender, target */
    char *key, *sid; /* receiving: while being verified */
    xmpp_s2s_pair_state_t state;
    int sasl;
} pair_t;

typedef struct {
    char *from, *to, *id, *key;
    uint32_t tag;
    int sent;
} vreq_t;

typedef struct {
    xmpp_s2s_action_t a;
    size_t off; /* SEND: offset of the bytes in out */
} act_t;

/* First-level elements the negotiation knows. */
typedef enum {
    EL_OTHER,
    EL_STANZA,     /* message, presence, iq in jabber:server */
    EL_STANZA_NS,  /* message, presence, iq in another namespace */
    EL_STREAM_ERR, /* <stream:error/> */
    EL_FEATURES,
    EL_STARTTLS,
    EL_PROCEED,
    EL_TLS_FAILURE,
    EL_AUTH,
    EL_RESPONSE,
    EL_ABORT,
    EL_CHALLENGE,
    EL_SUCCESS,
    EL_SASL_FAILURE,
    EL_DB_RESULT,
    EL_DB_VERIFY,
} el_kind_t;

struct xmpp_s2s {
    const xmpp_s2s_config_t *cfg;
    xmpp_s2s_role_t role;
    phase_t phase;
    unsigned max_pairs, max_dialback, max_sasl_failures, max_verify;

    int direct_tls, tls_active, peer_verified;
    char **cert_names;
    size_t ncert_names;
    unsigned char seed[64];
    size_t seed_len;
    uint64_t nids;                       /* stream ids derived so far */
    char stream_id[XMPP_S2S_MAX_ID + 1]; /* ours (receiving) or the partner's (originating) */
    int header_sent;                     /* our header of the current stream */
    int legacy;                          /* the peer's header has no version */
    int db_declared;                     /* ... binds xmlns:db to jabber:server:dialback */
    int tls_required;                    /* for this partner */

    /* receiving */
    int local_idx; /* cfg->domains index of the header's 'to'; -1 none */
    char peer_from[XMPP_S2S_MAX_DOMAIN + 1];
    int has_peer_from;
    int external_offered, sasl_done;
    unsigned sasl_failures, dialback_count;

    /* originating */
    char *local, *remote;
    int sasl_external, verify_only;
    int feat_starttls, feat_external, feat_dialback;
    unsigned sasl_challenges;

    pair_t *pairs;
    unsigned npairs;
    vreq_t *vreqs;
    unsigned nvreqs;
    int cur_pair; /* the stanza between ELEMENT_START and ELEMENT */

    char *out;
    size_t out_len, out_cap;
    act_t *act;
    unsigned act_cap, act_head, act_n;
    int overflow;
};

/* ---------------------------------------------------------------- strings and domains */

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Domains compare ASCII case-insensitively (no IDNA mapping here: the proxy's job). */
static int dom_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        if (lower(*a) != lower(*b))
            return 0;
    }
    return *a == *b;
}

static void lower_copy(char *dst, const char *src, size_t cap)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = lower(src[i]);
    dst[i] = '\0';
}

/* A plausible domainpart: 1..255 bytes, no space, control or address delimiter. */
static int domain_ok(const char *d)
{
    size_t n = strlen(d);
    if (n == 0 || n > XMPP_S2S_MAX_DOMAIN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c < 0x21 || c == 0x7f || strchr("\"&'/<>@", c) != NULL)
            return 0;
    }
    return 1;
}

static int ours(const xmpp_s2s_t *s, const char *d)
{
    for (size_t i = 0; i < s->cfg->ndomains; i++) {
        if (dom_eq(s->cfg->domains[i], d))
            return (int)i;
    }
    return -1;
}

static int tls_optional_for(const xmpp_s2s_t *s, const char *d)
{
    if (s->cfg->tls_optional)
        return 1;
    for (size_t i = 0; d != NULL && i < s->cfg->ntls_optional_for; i++) {
        if (dom_eq(s->cfg->tls_optional_for[i], d))
            return 1;
    }
    return 0;
}

/* RFC 6125 6.4.3: '*' as the whole left-most label matches exactly one label. */
static int name_matches(const char *name, const char *d)
{
    if (dom_eq(name, d))
        return 1;
    if (name[0] != '*' || name[1] != '.')
        return 0;
    const char *dot = strchr(d, '.');
    return dot != NULL && dot != d && dom_eq(name + 1, dot);
}

static int cert_covers(const xmpp_s2s_t *s, const char *d)
{
    if (!s->tls_active || !s->peer_verified)
        return 0;
    for (size_t i = 0; i < s->ncert_names; i++) {
        if (name_matches(s->cert_names[i], d))
            return 1;
    }
    return 0;
}

static char *dup(const char *v)
{
    size_t n = strlen(v) + 1;
    char *c = malloc(n);
    if (c != NULL)
        memcpy(c, v, n);
    return c;
}

static xmpp_slice_t lit(const char *v)
{
    return (xmpp_slice_t){v, strlen(v)};
}

/*
 * The decoded value of attribute a into out (NUL-terminated). 1 if present, 0 if absent, -1 if
 * longer than cap - 1, not in the buffer, or undecodable. HEADER and ELEMENT_START events carry
 * the raw bytes; ELEMENT events are read from the caller's buffer.
 */
static int attr_get(const xmpp_attr_t *a, const char *buf, uint64_t buf_off, size_t buf_len,
                    char *out, size_t cap)
{
    if (!a->present)
        return 0;
    xmpp_slice_t raw =
        a->p != NULL ? (xmpp_slice_t){a->p, a->len} : xmpp_attr_slice(a, buf, buf_off, buf_len);
    if (raw.p == NULL || raw.len >= cap)
        return -1;
    size_t n = raw.len;
    if (a->escaped)
        n = xmpp_attr_unescape(raw, out, cap - 1);
    else
        memcpy(out, raw.p, n);
    if (n == (size_t)-1)
        return -1;
    out[n] = '\0';
    return memchr(out, '\0', n) == NULL ? 1 : -1;
}

/* The domainpart of a JID, in place: [local@]domain[/resource]. NULL if malformed. */
static char *jid_domain(char *jid)
{
    char *slash = strchr(jid, '/');
    if (slash != NULL)
        *slash = '\0';
    char *at = strchr(jid, '@');
    if (at == jid)
        return NULL;
    char *d = at != NULL ? at + 1 : jid;
    return domain_ok(d) ? d : NULL;
}

/* ---------------------------------------------------------------- output and actions */

static void out_put(xmpp_s2s_t *s, const char *p, size_t n)
{
    if (s->overflow)
        return;
    if (n > s->out_cap - s->out_len) {
        size_t cap = s->out_cap ? s->out_cap : 512;
        while (cap - s->out_len < n && cap < OUT_MAX)
            cap *= 2;
        char *o = cap - s->out_len >= n ? realloc(s->out, cap) : NULL;
        if (o == NULL) {
            s->overflow = 1;
            return;
        }
        s->out = o;
        s->out_cap = cap;
    }
    memcpy(s->out + s->out_len, p, n);
    s->out_len += n;
}

static void out_str(xmpp_s2s_t *s, const char *v)
{
    out_put(s, v, strlen(v));
}

/* Attribute values are written between single quotes; element text escapes the same set. */
static void out_esc(xmpp_s2s_t *s, const char *v)
{
    for (; *v; v++) {
        switch (*v) {
        case '&':
            out_str(s, "&amp;");
            break;
        case '<':
            out_str(s, "&lt;");
            break;
        case '>':
            out_str(s, "&gt;");
            break;
        case '\'':
            out_str(s, "&apos;");
            break;
        case '"':
            out_str(s, "&quot;");
            break;
        default:
            out_put(s, v, 1);
        }
    }
}

static void out_attr(xmpp_s2s_t *s, const char *name, const char *v)
{
    if (v == NULL)
        return;
    out_str(s, " ");
    out_str(s, name);
    out_str(s, "='");
    out_esc(s, v);
    out_str(s, "'");
}

static act_t *push(xmpp_s2s_t *s, xmpp_s2s_action_kind_t kind)
{
    if (s->act_n == s->act_cap) {
        /* the slot past the ring takes the write; leave() then ends the stream */
        s->overflow = 1;
        return &s->act[s->act_cap];
    }
    act_t *a = &s->act[(s->act_head + s->act_n++) % s->act_cap];
    memset(a, 0, sizeof *a);
    a->a.kind = kind;
    a->a.pair = -1;
    return a;
}

/* The bytes written since mark become a SEND (joined to the previous SEND when adjacent). */
static void send_from(xmpp_s2s_t *s, size_t mark)
{
    if (s->overflow || s->out_len == mark)
        return;
    if (s->act_n > 0) {
        act_t *last = &s->act[(s->act_head + s->act_n - 1) % s->act_cap];
        if (last->a.kind == XMPP_S2S_SEND && last->off + last->a.data.len == mark) {
            last->a.data.len += s->out_len - mark;
            return;
        }
    }
    act_t *a = push(s, XMPP_S2S_SEND);
    a->off = mark;
    a->a.data.len = s->out_len - mark;
}

static void send_str(xmpp_s2s_t *s, const char *v)
{
    size_t m = s->out_len;
    out_str(s, v);
    send_from(s, m);
}

static void pair_action(xmpp_s2s_t *s, xmpp_s2s_action_kind_t kind, int i, const char *reason)
{
    act_t *a = push(s, kind);
    a->a.pair = i;
    a->a.from = s->pairs[i].from;
    a->a.to = s->pairs[i].to;
    a->a.reason = reason;
}

/* ---------------------------------------------------------------- stream ids and headers */

static void new_stream_id(xmpp_s2s_t *s)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char msg[20] = "xmpp-s2s-stream-id", mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    uint64_t n = s->nids++;
    for (int k = 0; k < 8; k++)
        msg[12 + k] ^= (unsigned char)(n >> (8 * k));
    if (HMAC(EVP_sha256(), s->seed, (int)s->seed_len, msg, sizeof msg, mac, &mlen) == NULL ||
        mlen < 16) {
        /* cannot happen; an id that no key will ever verify against */
        memset(mac, 0, sizeof mac);
        mac[0] = (unsigned char)n;
    }
    for (int k = 0; k < 16; k++) {
        s->stream_id[2 * k] = digits[mac[k] >> 4];
        s->stream_id[2 * k + 1] = digits[mac[k] & 15];
    }
    s->stream_id[32] = '\0';
}

static void out_header(xmpp_s2s_t *s, const char *from, const char *to, const char *id, int version)
{
    out_str(s, "<?xml version='1.0'?><stream:stream xmlns='" XMPP_NS_SERVER
               "' xmlns:stream='" XMPP_NS_STREAMS "' xmlns:db='" XMPP_NS_DIALBACK "'");
    out_attr(s, "from", from);
    out_attr(s, "to", to);
    out_attr(s, "id", id);
    if (version)
        out_str(s, " version='1.0'");
    out_str(s, ">");
}

/* Our response header (receiving): from = the domain asked for, to = the peer's domain. */
static void out_r_header(xmpp_s2s_t *s)
{
    if (s->stream_id[0] == '\0')
        new_stream_id(s);
    out_header(s, s->local_idx >= 0 ? s->cfg->domains[s->local_idx] : NULL,
               s->has_peer_from ? s->peer_from : NULL, s->stream_id, !s->legacy);
    s->header_sent = 1;
}

static void send_o_header(xmpp_s2s_t *s)
{
    size_t m = s->out_len;
    out_header(s, s->local, s->remote, NULL, 1);
    send_from(s, m);
    s->header_sent = 1;
}

/* ---------------------------------------------------------------- ending the stream */

static int any_pair(const xmpp_s2s_t *s, xmpp_s2s_pair_state_t st)
{
    for (unsigned i = 0; i < s->npairs; i++) {
        if (s->pairs[i].state == st)
            return 1;
    }
    return 0;
}

/* Originating: what was waiting on this stream fails with it. */
static void fail_pending(xmpp_s2s_t *s, const char *reason)
{
    if (s->role != XMPP_S2S_ORIGINATING)
        return;
    for (unsigned i = 0; i < s->npairs; i++) {
        pair_t *p = &s->pairs[i];
        if (p->state == XMPP_PAIR_QUEUED || p->state == XMPP_PAIR_PENDING) {
            p->state = XMPP_PAIR_FAILED;
            pair_action(s, XMPP_S2S_PAIR_FAILED, (int)i, reason);
        }
    }
    for (unsigned i = 0; i < s->nvreqs; i++) {
        act_t *a = push(s, XMPP_S2S_VERIFY_RESULT);
        a->a.result = XMPP_S2S_DB_ERROR;
        a->a.tag = s->vreqs[i].tag;
        a->a.from = s->vreqs[i].from;
        a->a.to = s->vreqs[i].to;
        a->a.reason = reason;
    }
}

/*
 * The end of the stream: our <stream:error/> when err is set (with our header first if this
 * stream has none yet: RFC 6120 4.9.1.2), else a plain </stream:stream>; then CLOSE. Nothing can
 * be written while the TLS handshake is the caller's.
 */
static void end_stream(xmpp_s2s_t *s, xmpp_err_t err, xmpp_err_t peer_err, const char *text)
{
    if (s->phase == PH_CLOSED)
        return;
    const char *reason = text ? text : xmpp_strerror(err != XMPP_E_NONE ? err : peer_err);
    if (s->phase != PH_TLS && s->phase != PH_INIT) {
        size_t m = s->out_len;
        if (!s->header_sent && s->role == XMPP_S2S_RECEIVING)
            out_r_header(s);
        if (err != XMPP_E_NONE && xmpp_err_condition(err) != NULL) {
            char tmp[512];
            size_t n = xmpp_stream_error_render(err, text, tmp, sizeof tmp);
            if (n > sizeof tmp)
                n = xmpp_stream_error_render(err, NULL, tmp, sizeof tmp);
            out_put(s, tmp, n);
        } else {
            err = XMPP_E_NONE;
            out_str(s, "</stream:stream>");
        }
        send_from(s, m);
    }
    fail_pending(s, reason);
    act_t *a = push(s, XMPP_S2S_CLOSE);
    a->a.err = err;
    a->a.peer_err = peer_err;
    a->a.reason = reason;
    s->phase = PH_CLOSED;
}

static int fail(xmpp_s2s_t *s, xmpp_err_t err, const char *text)
{
    end_stream(s, err, XMPP_E_NONE, text);
    return 1;
}

/* Every public entry point: a fresh output buffer once the caller has drained the last one. */
static void enter(xmpp_s2s_t *s)
{
    if (s->act_n == 0)
        s->out_len = 0;
}

/* ... and on the way out: a caller that does not drain loses the stream, not memory. */
static int leave(xmpp_s2s_t *s, int rc)
{
    if (!s->overflow)
        return rc;
    s->overflow = 0;
    s->act_n = 0;
    s->out_len = 0;
    if (s->phase == PH_CLOSED) {
        push(s, XMPP_S2S_CLOSE)->a.reason = "output overflow";
        return 1;
    }
    end_stream(s, XMPP_E_INTERNAL_SERVER_ERROR, XMPP_E_NONE, "output overflow");
    return 1;
}

/* ---------------------------------------------------------------- pairs */

static int find_pair(const xmpp_s2s_t *s, const char *from, const char *to)
{
    for (unsigned i = 0; i < s->npairs; i++) {
        if (dom_eq(s->pairs[i].from, from) && dom_eq(s->pairs[i].to, to))
            return (int)i;
    }
    return -1;
}

static int add_pair(xmpp_s2s_t *s, const char *from, const char *to, xmpp_s2s_pair_state_t st)
{
    if (s->npairs >= s->max_pairs)
        return -1;
    if (s->pairs == NULL && (s->pairs = calloc(s->max_pairs, sizeof *s->pairs)) == NULL)
        return -1;
    pair_t *p = &s->pairs[s->npairs];
    p->from = dup(from);
    p->to = dup(to);
    if (p->from == NULL || p->to == NULL) {
        free(p->from);
        free(p->to);
        p->from = p->to = NULL;
        return -1;
    }
    p->state = st;
    return (int)s->npairs++;
}

static void pair_forget_key(pair_t *p)
{
    free(p->key);
    free(p->sid);
    p->key = p->sid = NULL;
}

/* ---------------------------------------------------------------- element helpers */

static el_kind_t classify(const xmpp_elem_t *el)
{
    xmpp_slice_t n = el->name, ns = el->ns;
    if (xw_is(n, "message") || xw_is(n, "presence") || xw_is(n, "iq"))
        return xw_is(ns, XMPP_NS_SERVER) ? EL_STANZA : EL_STANZA_NS;
    if (xw_is(ns, XMPP_NS_STREAMS))
        return xw_is(n, "error") ? EL_STREAM_ERR : xw_is(n, "features") ? EL_FEATURES : EL_OTHER;
    if (xw_is(ns, XMPP_NS_TLS)) {
        if (xw_is(n, "starttls"))
            return EL_STARTTLS;
        if (xw_is(n, "proceed"))
            return EL_PROCEED;
        return xw_is(n, "failure") ? EL_TLS_FAILURE : EL_OTHER;
    }
    if (xw_is(ns, XMPP_NS_SASL)) {
        static const struct {
            const char *name;
            el_kind_t kind;
        } sasl[] = {{"auth", EL_AUTH},       {"response", EL_RESPONSE},
                    {"abort", EL_ABORT},     {"challenge", EL_CHALLENGE},
                    {"success", EL_SUCCESS}, {"failure", EL_SASL_FAILURE}};
        for (size_t i = 0; i < sizeof sasl / sizeof sasl[0]; i++) {
            if (xw_is(n, sasl[i].name))
                return sasl[i].kind;
        }
        return EL_OTHER;
    }
    if (xw_is(ns, XMPP_NS_DIALBACK)) {
        if (xw_is(n, "result"))
            return EL_DB_RESULT;
        return xw_is(n, "verify") ? EL_DB_VERIFY : EL_OTHER;
    }
    return EL_OTHER;
}

/* The element's bytes in the caller's buffer; 0 if they are not all there. */
static int elem_bytes(const xmpp_event_t *ev, const char *buf, uint64_t buf_off, size_t buf_len,
                      const char **p, size_t *n)
{
    if (buf == NULL || ev->start < buf_off || ev->end < ev->start || ev->end - buf_off > buf_len)
        return 0;
    *p = buf + (ev->start - buf_off);
    *n = (size_t)(ev->end - ev->start);
    return 1;
}

static void walker(const xmpp_s2s_t *s, xw_t *w, const char *p, size_t n)
{
    xw_init(w, p, n, s->db_declared ? lit(XMPP_NS_DIALBACK) : XMPP_SLICE_NULL);
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The text directly inside the element, decoded and trimmed; -1 if longer than cap - 1. */
static long elem_text(const xmpp_s2s_t *s, const char *p, size_t n, char *out, size_t cap)
{
    xw_t w;
    xw_tok_t t;
    size_t len = 0;
    walker(s, &w, p, n);
    while (xw_next(&w, &t) != XW_EOF) {
        if (t.kind != XW_TEXT || t.depth != 0)
            continue;
        size_t room = cap - 1 - len, k;
        if (t.cdata) {
            if (t.text.len > room)
                return -1;
            memcpy(out + len, t.text.p, t.text.len);
            k = t.text.len;
        } else {
            k = xmpp_attr_unescape(t.text, out + len, room);
            if (k == (size_t)-1)
                return -1;
        }
        len += k;
    }
    size_t a = 0;
    while (a < len && is_ws(out[a]))
        a++;
    while (len > a && is_ws(out[len - 1]))
        len--;
    memmove(out, out + a, len - a);
    len -= a;
    out[len] = '\0';
    return memchr(out, '\0', len) ? -1 : (long)len;
}

/* The first child in namespace ns (other than <text/>): the name of an error condition. */
static xmpp_slice_t elem_condition(const xmpp_s2s_t *s, const char *p, size_t n, const char *ns,
                                   unsigned depth)
{
    xw_t w;
    xw_tok_t t;
    walker(s, &w, p, n);
    while (xw_next(&w, &t) != XW_EOF) {
        if (t.kind == XW_START && t.depth == depth && xw_is(t.ns, ns) && !xw_is(t.name, "text"))
            return t.name;
    }
    return XMPP_SLICE_NULL;
}

/* Condition names we may echo in a reason: static strings for the log. */
static const char *const known_conds[] = {"aborted",
                                          "account-disabled",
                                          "bad-request",
                                          "conflict",
                                          "credentials-expired",
                                          "encryption-required",
                                          "feature-not-implemented",
                                          "forbidden",
                                          "gone",
                                          "incorrect-encoding",
                                          "internal-server-error",
                                          "invalid-authzid",
                                          "invalid-mechanism",
                                          "item-not-found",
                                          "jid-malformed",
                                          "malformed-request",
                                          "mechanism-too-weak",
                                          "not-acceptable",
                                          "not-allowed",
                                          "not-authorized",
                                          "policy-violation",
                                          "recipient-unavailable",
                                          "redirect",
                                          "registration-required",
                                          "remote-connection-failed",
                                          "remote-server-not-found",
                                          "remote-server-timeout",
                                          "resource-constraint",
                                          "service-unavailable",
                                          "subscription-required",
                                          "temporary-auth-failure",
                                          "undefined-condition",
                                          "unexpected-request"};

static const char *cond_name(xmpp_slice_t c)
{
    for (size_t i = 0; i < sizeof known_conds / sizeof known_conds[0]; i++) {
        if (xw_is(c, known_conds[i]))
            return known_conds[i];
    }
    return "undefined-condition";
}

/* ---------------------------------------------------------------- dialback output */

/* XEP-0220 2.4 error types, as RFC 6120 8.3.3 suggests for each condition. */
static const char *db_error_type(const char *cond)
{
    if (strcmp(cond, "remote-server-timeout") == 0 || strcmp(cond, "resource-constraint") == 0)
        return "wait";
    if (strcmp(cond, "not-authorized") == 0 || strcmp(cond, "forbidden") == 0)
        return "auth";
    return "cancel";
}

/* <db:NAME from to [id] type='T'/>, or with an <error/> child for type 'error'. */
static void send_db(xmpp_s2s_t *s, const char *name, const char *from, const char *to,
                    const char *id, const char *type, const char *cond)
{
    size_t m = s->out_len;
    out_str(s, "<db:");
    out_str(s, name);
    out_attr(s, "from", from);
    out_attr(s, "to", to);
    out_attr(s, "id", id);
    out_attr(s, "type", type);
    if (cond == NULL) {
        out_str(s, "/>");
    } else {
        out_str(s, "><error type='");
        out_str(s, db_error_type(cond));
        out_str(s, "'><");
        out_str(s, cond);
        out_str(s, " xmlns='" XMPP_NS_STANZA_ERR "'/></error></db:");
        out_str(s, name);
        out_str(s, ">");
    }
    send_from(s, m);
}

/* Originating: our key for pair i on this stream, in <db:result/>. */
static void send_db_result(xmpp_s2s_t *s, int i)
{
    pair_t *p = &s->pairs[i];
    char rcv[XMPP_S2S_MAX_DOMAIN + 1], org[XMPP_S2S_MAX_DOMAIN + 1];
    char key[XMPP_DIALBACK_KEY_LEN + 1];
    if (s->stream_id[0] == '\0') {
        p->state = XMPP_PAIR_FAILED;
        pair_action(s, XMPP_S2S_PAIR_FAILED, i, "the partner's stream header has no id");
        return;
    }
    /* Domains in lower case: we are the only ones who ever check our keys, and the partner
     * may echo our domain in another case in db:verify. */
    lower_copy(rcv, p->to, sizeof rcv);
    lower_copy(org, p->from, sizeof org);
    if (xmpp_dialback_key(s->cfg->secret, s->cfg->secret_len, rcv, org, s->stream_id, key) != 0) {
        p->state = XMPP_PAIR_FAILED;
        pair_action(s, XMPP_S2S_PAIR_FAILED, i, "cannot compute the dialback key");
        return;
    }
    size_t m = s->out_len;
    out_str(s, "<db:result");
    out_attr(s, "from", p->from);
    out_attr(s, "to", p->to);
    out_str(s, ">");
    out_str(s, key);
    out_str(s, "</db:result>");
    send_from(s, m);
    p->state = XMPP_PAIR_PENDING;
    OPENSSL_cleanse(key, sizeof key);
}

static int dialback_usable(const xmpp_s2s_t *s)
{
    return !s->cfg->dialback_off && (s->feat_dialback || s->db_declared);
}

/* Originating, once negotiated: the keys of queued pairs and our db:verify requests. */
static void o_flush(xmpp_s2s_t *s)
{
    for (unsigned i = 0; i < s->npairs; i++) {
        if (s->pairs[i].state != XMPP_PAIR_QUEUED)
            continue;
        if (dialback_usable(s)) {
            send_db_result(s, (int)i);
        } else {
            s->pairs[i].state = XMPP_PAIR_FAILED;
            pair_action(s, XMPP_S2S_PAIR_FAILED, (int)i, "the partner offers no dialback");
        }
    }
    for (unsigned i = 0; i < s->nvreqs; i++) {
        vreq_t *v = &s->vreqs[i];
        if (v->sent)
            continue;
        size_t m = s->out_len;
        out_str(s, "<db:verify");
        out_attr(s, "from", v->from);
        out_attr(s, "to", v->to);
        out_attr(s, "id", v->id);
        out_str(s, ">");
        out_esc(s, v->key);
        out_str(s, "</db:verify>");
        send_from(s, m);
        v->sent = 1;
    }
}

/* Originating: a stream with nothing left to authenticate or verify is closed. */
static int o_maybe_done(xmpp_s2s_t *s)
{
    if (s->verify_only || any_pair(s, XMPP_PAIR_VALID) || any_pair(s, XMPP_PAIR_PENDING) ||
        any_pair(s, XMPP_PAIR_QUEUED) || s->nvreqs > 0)
        return 0;
    end_stream(s, XMPP_E_NONE, XMPP_E_NONE, "no domain pair left on the stream");
    return 1;
}

/* ---------------------------------------------------------------- receiving side */

static void out_r_features(xmpp_s2s_t *s)
{
    if (s->legacy)
        return;
    int before_tls = !s->tls_active && !s->direct_tls;
    out_str(s, "<stream:features>");
    if (before_tls) {
        out_str(s, s->tls_required ? "<starttls xmlns='" XMPP_NS_TLS "'><required/></starttls>"
                                   : "<starttls xmlns='" XMPP_NS_TLS "'/>");
    }
    /* RFC 6120 5.3.1: with TLS mandatory-to-negotiate, STARTTLS is all there is to offer. */
    if (!(before_tls && s->tls_required)) {
        if (s->external_offered)
            out_str(s, "<mechanisms xmlns='" XMPP_NS_SASL
                       "'><mechanism>EXTERNAL</mechanism></mechanisms>");
        if (!s->cfg->dialback_off)
            out_str(s, "<dialback xmlns='" XMPP_NS_DIALBACK_FEATURE "'><errors/></dialback>");
    }
    out_str(s, "</stream:features>");
}

static int r_header(xmpp_s2s_t *s, const xmpp_header_t *h)
{
    char to[XMPP_S2S_MAX_DOMAIN + 1], dbns[64];
    int has_to = attr_get(&h->to, NULL, 0, 0, to, sizeof to);
    int has_from = attr_get(&h->from, NULL, 0, 0, s->peer_from, sizeof s->peer_from);

    s->legacy = h->legacy;
    s->db_declared = attr_get(&h->xmlns_db, NULL, 0, 0, dbns, sizeof dbns) == 1 &&
                     strcmp(dbns, XMPP_NS_DIALBACK) == 0;
    s->local_idx = has_to == 1 ? ours(s, to) : -1;
    s->has_peer_from = has_from == 1 && domain_ok(s->peer_from);
    s->header_sent = 0;
    new_stream_id(s);

    if (s->legacy && !s->cfg->allow_legacy)
        return fail(s, XMPP_E_UNSUPPORTED_VERSION, "XMPP 1.0 is required (no version)");
    if (s->local_idx < 0)
        return fail(s, XMPP_E_HOST_UNKNOWN, NULL);
    if (has_from != 0 && !s->has_peer_from)
        return fail(s, XMPP_E_INVALID_FROM, "the stream header's from is not a domain");
    s->tls_required = !tls_optional_for(s, s->has_peer_from ? s->peer_from : NULL);
    if (s->legacy && s->tls_required && !s->tls_active)
        return fail(s, XMPP_E_UNSUPPORTED_VERSION,
                    "TLS is required, and a pre-1.0 stream cannot negotiate it");
    /* XEP-0178: EXTERNAL only where it can succeed: a verified certificate naming the domain
     * the header says the peer is (without a from, the authorization identity will say). */
    s->external_offered = !s->sasl_done && s->tls_active && s->peer_verified &&
                          s->ncert_names > 0 && (!s->has_peer_from || cert_covers(s, s->peer_from));

    size_t m = s->out_len;
    out_r_header(s);
    out_r_features(s);
    send_from(s, m);
    s->phase = PH_R_OPEN;
    return 0;
}

static void sasl_failure(xmpp_s2s_t *s, const char *cond)
{
    size_t m = s->out_len;
    out_str(s, "<failure xmlns='" XMPP_NS_SASL "'><");
    out_str(s, cond);
    out_str(s, "/></failure>");
    send_from(s, m);
}

/* A SASL failure the peer may retry (RFC 6120 6.4.5), up to max_sasl_failures. */
static int sasl_retry(xmpp_s2s_t *s, const char *cond)
{
    sasl_failure(s, cond);
    s->phase = PH_R_OPEN;
    if (++s->sasl_failures >= s->max_sasl_failures)
        return fail(s, XMPP_E_POLICY_VIOLATION, "too many SASL failures");
    return 0;
}

/* XEP-0178: a refused identity ends the stream after the failure. */
static int sasl_refuse(xmpp_s2s_t *s, const char *cond)
{
    sasl_failure(s, cond);
    end_stream(s, XMPP_E_NONE, XMPP_E_NONE,
               strcmp(cond, "not-authorized") == 0
                   ? "SASL EXTERNAL: the certificate does not name the domain"
                   : "SASL EXTERNAL: the authorization identity is not the stream's from");
    return 1;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Strict base64 (RFC 4648, padded, no whitespace: RFC 6120 6.4.2); -1 if not. */
static long b64_decode(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    if (n % 4 != 0)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            if (in[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad > 0 || (v[k] = b64val(in[i + k])) < 0) {
                return -1;
            }
        }
        unsigned long w = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) |
                          ((unsigned long)v[2] << 6) | (unsigned long)v[3];
        char b[3] = {(char)(w >> 16), (char)(w >> 8), (char)w};
        if ((pad == 2 && (w & 0xffff)) || (pad == 1 && (w & 0xff)))
            return -1;
        for (int k = 0; k < 3 - pad; k++) {
            if (o + 1 >= cap)
                return -1;
            out[o++] = b[k];
        }
    }
    out[o] = '\0';
    return (long)o;
}

/* The initial response or <response/> of SASL EXTERNAL: the authorization identity. */
static int r_sasl_response(xmpp_s2s_t *s, const char *text, size_t len)
{
    char authz[XMPP_S2S_MAX_DOMAIN + 2];
    long n = 0;
    if (!(len == 1 && text[0] == '=') && len > 0) {
        n = b64_decode(text, len, authz, sizeof authz);
        if (n < 0)
            return sasl_retry(s, "incorrect-encoding");
    }
    authz[n > 0 ? n : 0] = '\0';
    if (n > 0 && (memchr(authz, '\0', (size_t)n) != NULL || !domain_ok(authz)))
        return sasl_refuse(s, "invalid-authzid");
    /* the identity is the authorization identity, else the header's from; both must agree */
    const char *id = n > 0 ? authz : s->has_peer_from ? s->peer_from : NULL;
    if (id == NULL || (s->has_peer_from && !dom_eq(id, s->peer_from)))
        return sasl_refuse(s, "invalid-authzid");
    if (!cert_covers(s, id))
        return sasl_refuse(s, "not-authorized");
    const char *target = s->cfg->domains[s->local_idx];
    int i = find_pair(s, id, target);
    if (i < 0)
        i = add_pair(s, id, target, XMPP_PAIR_VALID);
    if (i < 0)
        return sasl_retry(s, "temporary-auth-failure");
    pair_forget_key(&s->pairs[i]);
    s->pairs[i].state = XMPP_PAIR_VALID;
    s->pairs[i].sasl = 1;
    send_str(s, "<success xmlns='" XMPP_NS_SASL "'/>");
    pair_action(s, XMPP_S2S_PAIR_READY, i, "SASL EXTERNAL");
    push(s, XMPP_S2S_RESTART);
    s->sasl_done = 1;
    s->phase = PH_HEADER;
    s->header_sent = 0;
    s->stream_id[0] = '\0';
    return 1;
}

static int r_auth(xmpp_s2s_t *s, const char *p, size_t n)
{
    char text[XMPP_S2S_MAX_KEY + 1];
    xw_t w;
    xw_tok_t t;
    if (s->tls_required && !s->tls_active)
        return fail(s, XMPP_E_POLICY_VIOLATION, "TLS is required before authentication");
    walker(s, &w, p, n);
    xw_next(&w, &t);
    xmpp_slice_t mech = xw_attr(t.attrs, "mechanism");
    if (!s->tls_active)
        return sasl_retry(s, "encryption-required");
    if (!s->external_offered || s->sasl_done || !xw_is(mech, "EXTERNAL"))
        return sasl_retry(s, "invalid-mechanism");
    /* Dialback answers must not fall between <success/> and the restarted stream. */
    if (any_pair(s, XMPP_PAIR_PENDING))
        return sasl_retry(s, "temporary-auth-failure");
    long len = elem_text(s, p, n, text, sizeof text);
    if (len < 0)
        return sasl_retry(s, "malformed-request");
    if (len == 0) {
        /* no initial response: an empty challenge asks for it (RFC 6120 6.4.3) */
        send_str(s, "<challenge xmlns='" XMPP_NS_SASL "'/>");
        s->phase = PH_R_SASL;
        return 0;
    }
    return r_sasl_response(s, text, (size_t)len);
}

static int r_response(xmpp_s2s_t *s, const char *p, size_t n)
{
    char text[XMPP_S2S_MAX_KEY + 1];
    if (s->phase != PH_R_SASL)
        return sasl_retry(s, "malformed-request");
    long len = elem_text(s, p, n, text, sizeof text);
    if (len < 0)
        return sasl_retry(s, "malformed-request");
    return r_sasl_response(s, text, (size_t)len);
}

/* Internal outcome of a verification (also for keys refused without asking the caller). */
static int r_verified(xmpp_s2s_t *s, int i, xmpp_s2s_db_result_t r, const char *cond)
{
    pair_t *p = &s->pairs[i];
    pair_forget_key(p);
    if (r == XMPP_S2S_DB_VALID) {
        p->state = XMPP_PAIR_VALID;
        send_db(s, "result", p->to, p->from, NULL, "valid", NULL);
        pair_action(s, XMPP_S2S_PAIR_READY, i, "dialback");
        return 0;
    }
    p->state = XMPP_PAIR_FAILED;
    if (r == XMPP_S2S_DB_ERROR) {
        const char *c = cond != NULL ? cond_name(lit(cond)) : "remote-server-not-found";
        if (strcmp(c, "undefined-condition") == 0)
            c = "remote-server-not-found";
        send_db(s, "result", p->to, p->from, NULL, "error", c);
        pair_action(s, XMPP_S2S_PAIR_FAILED, i, c);
        return 0;
    }
    /* XEP-0220 2.2.1: an invalid key ends the stream; with other pairs authenticated on it,
     * 2.1.2 lets us answer <forbidden/> instead and keep them. */
    pair_action(s, XMPP_S2S_PAIR_FAILED, i, "dialback key invalid");
    if (any_pair(s, XMPP_PAIR_VALID)) {
        send_db(s, "result", p->to, p->from, NULL, "error", "forbidden");
        return 0;
    }
    send_db(s, "result", p->to, p->from, NULL, "invalid", NULL);
    return fail(s, XMPP_E_NOT_AUTHORIZED, "dialback key invalid");
}

/* The addressing attributes of a dialback element, checked: 0, or the stream ended. */
static int db_addressing(xmpp_s2s_t *s, const xmpp_elem_t *el, const char *buf, uint64_t off,
                         size_t len, char *from, char *to, char *id)
{
    int f = attr_get(&el->from, buf, off, len, from, XMPP_S2S_MAX_DOMAIN + 1);
    int t = attr_get(&el->to, buf, off, len, to, XMPP_S2S_MAX_DOMAIN + 1);
    int i = id ? attr_get(&el->id, buf, off, len, id, XMPP_S2S_MAX_ID + 1) : 1;
    if (f != 1 || t != 1 || i != 1 || !domain_ok(from) || !domain_ok(to) ||
        (id != NULL && id[0] == '\0'))
        return fail(s, XMPP_E_IMPROPER_ADDRESSING, "dialback element without proper from/to/id");
    return 0;
}

static int r_db_result(xmpp_s2s_t *s, const xmpp_elem_t *el, const char *p, size_t n,
                       const char *buf, uint64_t off, size_t len)
{
    char from[XMPP_S2S_MAX_DOMAIN + 1], to[XMPP_S2S_MAX_DOMAIN + 1], key[XMPP_S2S_MAX_KEY + 1];
    if (el->type.present)
        return 0; /* a result on an inbound stream: XEP-0288 only; dropped like Prosody does */
    if (s->tls_required && !s->tls_active)
        return fail(s, XMPP_E_POLICY_VIOLATION, "TLS is required before dialback");
    if (db_addressing(s, el, buf, off, len, from, to, NULL))
        return 1;
    if (++s->dialback_count > s->max_dialback)
        return fail(s, XMPP_E_POLICY_VIOLATION, "too many dialback requests");
    if (s->cfg->dialback_off) {
        send_db(s, "result", to, from, NULL, "error", "not-authorized");
        return 0;
    }
    if (ours(s, to) < 0) {
        /* XEP-0220 2.2.1: a dialback error, not a stream error: other pairs may be in use */
        send_db(s, "result", to, from, NULL, "error", "item-not-found");
        return 0;
    }
    int i = find_pair(s, from, to);
    if (i >= 0 && s->pairs[i].state == XMPP_PAIR_VALID) {
        send_db(s, "result", to, from, NULL, "valid", NULL);
        return 0;
    }
    if (i >= 0 && s->pairs[i].state == XMPP_PAIR_PENDING)
        return 0; /* the answer to the first request will do */
    if (i < 0 && (i = add_pair(s, from, to, XMPP_PAIR_PENDING)) < 0) {
        send_db(s, "result", to, from, NULL, "error", "resource-constraint");
        return 0;
    }
    pair_t *pr = &s->pairs[i];
    pr->state = XMPP_PAIR_PENDING;
    long klen = elem_text(s, p, n, key, sizeof key);
    if (klen <= 0) /* no key, or one no XEP-0185 server makes */
        return r_verified(s, i, XMPP_S2S_DB_INVALID, NULL);
    pr->key = dup(key);
    pr->sid = dup(s->stream_id);
    if (pr->key == NULL || pr->sid == NULL) {
        pair_forget_key(pr);
        pr->state = XMPP_PAIR_FAILED;
        send_db(s, "result", to, from, NULL, "error", "internal-server-error");
        return 0;
    }
    act_t *a = push(s, XMPP_S2S_VERIFY_DIALBACK);
    a->a.pair = i;
    a->a.from = pr->from;
    a->a.to = pr->to;
    a->a.stream_id = pr->sid;
    a->a.key = pr->key;
    a->a.cert_covers = cert_covers(s, pr->from);
    return 0;
}

/* The authoritative side (XEP-0220 2.2.2): is this our key? */
static int r_db_verify(xmpp_s2s_t *s, const xmpp_elem_t *el, const char *p, size_t n,
                       const char *buf, uint64_t off, size_t len)
{
    char from[XMPP_S2S_MAX_DOMAIN + 1], to[XMPP_S2S_MAX_DOMAIN + 1], id[XMPP_S2S_MAX_ID + 1];
    char key[XMPP_S2S_MAX_KEY + 1], want[XMPP_DIALBACK_KEY_LEN + 1];
    char rcv[XMPP_S2S_MAX_DOMAIN + 1], org[XMPP_S2S_MAX_DOMAIN + 1];
    if (el->type.present)
        return 0; /* an answer on an inbound stream: unsolicited, dropped (XEP-0220 3.1) */
    if (s->tls_required && !s->tls_active)
        return fail(s, XMPP_E_POLICY_VIOLATION, "TLS is required before dialback");
    if (db_addressing(s, el, buf, off, len, from, to, id))
        return 1;
    if (++s->dialback_count > s->max_dialback)
        return fail(s, XMPP_E_POLICY_VIOLATION, "too many dialback requests");
    if (ours(s, to) < 0) {
        send_db(s, "verify", to, from, id, "error", "item-not-found");
        return 0;
    }
    long klen = elem_text(s, p, n, key, sizeof key);
    int valid = 0;
    lower_copy(rcv, from, sizeof rcv);
    lower_copy(org, to, sizeof org);
    if (klen == XMPP_DIALBACK_KEY_LEN &&
        xmpp_dialback_key(s->cfg->secret, s->cfg->secret_len, rcv, org, id, want) == 0) {
        for (long k = 0; k < klen; k++)
            key[k] = lower(key[k]);
        valid = CRYPTO_memcmp(key, want, XMPP_DIALBACK_KEY_LEN) == 0;
    }
    OPENSSL_cleanse(want, sizeof want);
    send_db(s, "verify", to, from, id, valid ? "valid" : "invalid", NULL);
    return 0;
}

static int r_starttls(xmpp_s2s_t *s)
{
    if (!s->tls_active && !s->direct_tls && !s->legacy && s->npairs == 0 && !s->sasl_done) {
        send_str(s, "<proceed xmlns='" XMPP_NS_TLS "'/>");
        push(s, XMPP_S2S_START_TLS_SERVER);
        s->phase = PH_TLS;
        return 1;
    }
    /* RFC 6120 5.4.2.2: <failure/>, then the stream closes */
    send_str(s, "<failure xmlns='" XMPP_NS_TLS "'/>");
    end_stream(s, XMPP_E_NONE, XMPP_E_NONE, "STARTTLS not available on this stream");
    return 1;
}

/* ---------------------------------------------------------------- stanzas */

/* Whether a stanza's from/to match an authenticated pair; the stream error if not. */
static xmpp_err_t route(xmpp_s2s_t *s, const xmpp_elem_t *el, int *pair)
{
    char to[MAX_JID + 1], from[MAX_JID + 1];
    if (!any_pair(s, XMPP_PAIR_VALID))
        return XMPP_E_NOT_AUTHORIZED;
    if (attr_get(&el->to, NULL, 0, 0, to, sizeof to) != 1 ||
        attr_get(&el->from, NULL, 0, 0, from, sizeof from) != 1)
        return XMPP_E_IMPROPER_ADDRESSING;
    const char *tod = jid_domain(to), *fromd = jid_domain(from);
    if (tod == NULL || fromd == NULL)
        return XMPP_E_IMPROPER_ADDRESSING;
    if (ours(s, tod) < 0)
        return XMPP_E_HOST_UNKNOWN;
    /* A pair is (sender, target) as negotiated: on an inbound stream the peer is the sender,
     * on our outbound stream (stanzas the other way) the peer is the target. */
    int in = s->role == XMPP_S2S_RECEIVING;
    for (unsigned i = 0; i < s->npairs; i++) {
        const pair_t *p = &s->pairs[i];
        if (p->state == XMPP_PAIR_VALID && dom_eq(fromd, in ? p->from : p->to) &&
            dom_eq(tod, in ? p->to : p->from)) {
            *pair = (int)i;
            return XMPP_E_NONE;
        }
    }
    return XMPP_E_INVALID_FROM;
}

/* What may come in each phase; anything else is refused as soon as its start tag is in. */
static int allowed(const xmpp_s2s_t *s, el_kind_t k)
{
    if (k == EL_STREAM_ERR)
        return 1;
    switch (s->phase) {
    case PH_R_OPEN:
        return k == EL_STANZA || k == EL_STARTTLS || k == EL_AUTH || k == EL_RESPONSE ||
               k == EL_ABORT || k == EL_DB_RESULT || k == EL_DB_VERIFY;
    case PH_R_SASL:
        return k == EL_RESPONSE || k == EL_ABORT;
    case PH_O_FEATURES:
        return k == EL_FEATURES;
    case PH_O_PROCEED:
        return k == EL_PROCEED || k == EL_TLS_FAILURE;
    case PH_O_SASL:
        return k == EL_SUCCESS || k == EL_SASL_FAILURE || k == EL_CHALLENGE;
    case PH_O_OPEN:
        return k == EL_STANZA || k == EL_DB_RESULT || k == EL_DB_VERIFY;
    default:
        return 0;
    }
}

static int on_element_start(xmpp_s2s_t *s, const xmpp_event_t *ev)
{
    el_kind_t k = classify(ev->elem);
    s->cur_pair = -1;
    if (!allowed(s, k)) {
        if (s->phase == PH_R_SASL)
            return fail(s, XMPP_E_POLICY_VIOLATION, "SASL exchange in progress");
        if ((k == EL_STANZA || k == EL_STANZA_NS || k == EL_OTHER) && !any_pair(s, XMPP_PAIR_VALID))
            return fail(s, XMPP_E_NOT_AUTHORIZED, NULL);
        if (k == EL_STANZA_NS)
            return fail(s, XMPP_E_INVALID_NAMESPACE, "stanza outside jabber:server");
        return fail(s, XMPP_E_UNSUPPORTED_STANZA_TYPE, NULL);
    }
    if (k == EL_STANZA) {
        /* Decided on the start tag, so a refused stanza is never read to its end. */
        xmpp_err_t e = route(s, ev->elem, &s->cur_pair);
        if (e != XMPP_E_NONE)
            return fail(s, e, NULL);
    }
    return 0;
}

/* ---------------------------------------------------------------- originating side */

static int o_authenticate(xmpp_s2s_t *s)
{
    if (s->verify_only) {
        s->phase = PH_O_OPEN;
        o_flush(s);
        return 0;
    }
    if (s->sasl_done) {
        /* the stream restarted after <success/> */
        s->pairs[0].state = XMPP_PAIR_VALID;
        s->pairs[0].sasl = 1;
        pair_action(s, XMPP_S2S_PAIR_READY, 0, "SASL EXTERNAL");
        s->phase = PH_O_OPEN;
        o_flush(s);
        return 0;
    }
    if (s->feat_external && s->tls_active && s->sasl_external) {
        /* XEP-0178: the authorization identity is the header's from, as Prosody sends it */
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const unsigned char *v = (const unsigned char *)s->local;
        size_t n = strlen(s->local), m = s->out_len;
        out_str(s, "<auth xmlns='" XMPP_NS_SASL "' mechanism='EXTERNAL'>");
        for (size_t i = 0; i < n; i += 3) {
            unsigned long w = (unsigned long)v[i] << 16;
            if (i + 1 < n)
                w |= (unsigned long)v[i + 1] << 8;
            if (i + 2 < n)
                w |= v[i + 2];
            char q[4] = {b64[(w >> 18) & 63], b64[(w >> 12) & 63],
                         i + 1 < n ? b64[(w >> 6) & 63] : '=', i + 2 < n ? b64[w & 63] : '='};
            out_put(s, q, 4);
        }
        out_str(s, "</auth>");
        send_from(s, m);
        s->phase = PH_O_SASL;
        return 0;
    }
    if (dialback_usable(s)) {
        s->phase = PH_O_OPEN;
        o_flush(s);
        return o_maybe_done(s);
    }
    return fail(s, XMPP_E_POLICY_VIOLATION, "no authentication method in common with the partner");
}

static int o_header(xmpp_s2s_t *s, const xmpp_header_t *h)
{
    char dbns[64];
    if (attr_get(&h->id, NULL, 0, 0, s->stream_id, sizeof s->stream_id) != 1)
        s->stream_id[0] = '\0';
    s->legacy = h->legacy;
    s->db_declared = attr_get(&h->xmlns_db, NULL, 0, 0, dbns, sizeof dbns) == 1 &&
                     strcmp(dbns, XMPP_NS_DIALBACK) == 0;
    if (!s->legacy) {
        s->phase = PH_O_FEATURES;
        return 0;
    }
    if (s->tls_required && !s->tls_active)
        return fail(s, XMPP_E_UNSUPPORTED_VERSION,
                    "TLS is required, and the partner is pre-1.0 (no STARTTLS)");
    s->feat_starttls = s->feat_external = s->feat_dialback = 0;
    return o_authenticate(s);
}

static int o_features(xmpp_s2s_t *s, const char *p, size_t n)
{
    xw_t w;
    xw_tok_t t;
    int in_mechs = 0, in_mech = 0;
    s->feat_starttls = s->feat_external = s->feat_dialback = 0;
    walker(s, &w, p, n);
    while (xw_next(&w, &t) != XW_EOF) {
        if (t.kind == XW_START && t.depth == 1) {
            if (xw_is(t.ns, XMPP_NS_TLS) && xw_is(t.name, "starttls"))
                s->feat_starttls = 1;
            else if (xw_is(t.ns, XMPP_NS_DIALBACK_FEATURE) && xw_is(t.name, "dialback"))
                s->feat_dialback = 1;
            in_mechs = xw_is(t.ns, XMPP_NS_SASL) && xw_is(t.name, "mechanisms");
        } else if (t.kind == XW_START && t.depth == 2) {
            in_mech = in_mechs && xw_is(t.ns, XMPP_NS_SASL) && xw_is(t.name, "mechanism");
        } else if (t.kind == XW_END && t.depth <= 2) {
            in_mech = 0;
            if (t.depth == 1)
                in_mechs = 0;
        } else if (t.kind == XW_TEXT && t.depth == 2 && in_mech) {
            xmpp_slice_t v = t.text;
            while (v.len > 0 && is_ws(v.p[0]))
                v.p++, v.len--;
            while (v.len > 0 && is_ws(v.p[v.len - 1]))
                v.len--;
            if (xw_is(v, "EXTERNAL"))
                s->feat_external = 1;
        }
    }
    if (!s->tls_active) {
        if (s->feat_starttls) {
            send_str(s, "<starttls xmlns='" XMPP_NS_TLS "'/>");
            s->phase = PH_O_PROCEED;
            return 0;
        }
        if (s->tls_required)
            return fail(s, XMPP_E_POLICY_VIOLATION,
                        "TLS is required, and the partner does not offer STARTTLS");
    }
    return o_authenticate(s);
}

static int o_sasl_outcome(xmpp_s2s_t *s, el_kind_t k, const char *p, size_t n)
{
    if (k == EL_SUCCESS) {
        s->sasl_done = 1;
        push(s, XMPP_S2S_RESTART);
        send_o_header(s);
        s->phase = PH_HEADER;
        return 1;
    }
    if (k == EL_CHALLENGE) {
        /* EXTERNAL has nothing more to say than the initial response */
        if (s->sasl_challenges++ > 0)
            return fail(s, XMPP_E_POLICY_VIOLATION, "SASL EXTERNAL: repeated challenge");
        send_str(s, "<response xmlns='" XMPP_NS_SASL "'/>");
        return 0;
    }
    (void)p;
    (void)n;
    if (dialback_usable(s)) {
        s->phase = PH_O_OPEN;
        o_flush(s);
        return o_maybe_done(s);
    }
    return fail(s, XMPP_E_POLICY_VIOLATION, "SASL EXTERNAL refused, and no dialback offered");
}

/* A typed db:result (answer to our key) or db:verify (answer to our request). */
static int o_db(xmpp_s2s_t *s, el_kind_t k, const xmpp_elem_t *el, const char *p, size_t n,
                const char *buf, uint64_t off, size_t len)
{
    char from[XMPP_S2S_MAX_DOMAIN + 1], to[XMPP_S2S_MAX_DOMAIN + 1], id[XMPP_S2S_MAX_ID + 1];
    char type[16];
    if (!el->type.present)
        return fail(s, XMPP_E_UNSUPPORTED_STANZA_TYPE, "dialback request on an outbound stream");
    if (attr_get(&el->type, buf, off, len, type, sizeof type) != 1)
        return 0;
    xmpp_s2s_db_result_t r;
    if (strcmp(type, "valid") == 0)
        r = XMPP_S2S_DB_VALID;
    else if (strcmp(type, "invalid") == 0)
        r = XMPP_S2S_DB_INVALID;
    else if (strcmp(type, "error") == 0)
        r = XMPP_S2S_DB_ERROR;
    else
        return 0;
    if (attr_get(&el->from, buf, off, len, from, sizeof from) != 1 ||
        attr_get(&el->to, buf, off, len, to, sizeof to) != 1)
        return 0;
    const char *reason = r == XMPP_S2S_DB_VALID ? "valid"
                         : r == XMPP_S2S_DB_INVALID
                             ? "invalid"
                             : cond_name(elem_condition(s, p, n, XMPP_NS_STANZA_ERR, 2));
    if (k == EL_DB_VERIFY) {
        if (attr_get(&el->id, buf, off, len, id, sizeof id) != 1)
            return 0;
        for (unsigned i = 0; i < s->nvreqs; i++) {
            vreq_t *v = &s->vreqs[i];
            if (!v->sent || !dom_eq(v->from, to) || !dom_eq(v->to, from) || strcmp(v->id, id) != 0)
                continue;
            act_t *a = push(s, XMPP_S2S_VERIFY_RESULT);
            a->a.result = r;
            a->a.tag = v->tag;
            a->a.reason = reason;
            free(v->from);
            free(v->to);
            free(v->id);
            free(v->key);
            s->vreqs[i] = s->vreqs[--s->nvreqs];
            return 0;
        }
        return 0; /* unsolicited: dropped (XEP-0220 2.1.2, 3.1) */
    }
    for (unsigned i = 0; i < s->npairs; i++) {
        pair_t *pr = &s->pairs[i];
        if (pr->state != XMPP_PAIR_PENDING || !dom_eq(pr->from, to) || !dom_eq(pr->to, from))
            continue;
        if (r == XMPP_S2S_DB_VALID) {
            pr->state = XMPP_PAIR_VALID;
            pair_action(s, XMPP_S2S_PAIR_READY, (int)i, "dialback");
            return 0;
        }
        pr->state = XMPP_PAIR_FAILED;
        pair_action(s, XMPP_S2S_PAIR_FAILED, (int)i, reason);
        return o_maybe_done(s);
    }
    return 0; /* unsolicited: dropped */
}

/* ---------------------------------------------------------------- feeding */

static int on_element(xmpp_s2s_t *s, const xmpp_event_t *ev, const char *buf, uint64_t off,
                      size_t len)
{
    el_kind_t k = classify(ev->elem);
    const char *p = NULL;
    size_t n = 0;
    if (k == EL_STANZA) {
        if (s->cur_pair < 0 || s->pairs[s->cur_pair].state != XMPP_PAIR_VALID)
            return fail(s, XMPP_E_INTERNAL_SERVER_ERROR, "stanza end without its start");
        act_t *a = push(s, XMPP_S2S_DELIVER);
        a->a.start = ev->start;
        a->a.end = ev->end;
        pair_t *pr = &s->pairs[s->cur_pair];
        a->a.pair = s->cur_pair;
        a->a.from = pr->from;
        a->a.to = pr->to;
        s->cur_pair = -1;
        return 0;
    }
    if (!allowed(s, k))
        return fail(s, XMPP_E_INTERNAL_SERVER_ERROR, "element end without its start");
    if (!elem_bytes(ev, buf, off, len, &p, &n))
        return fail(s, XMPP_E_INTERNAL_SERVER_ERROR, "element not in the buffer");
    switch (k) {
    case EL_STREAM_ERR: {
        xmpp_slice_t c = elem_condition(s, p, n, XMPP_NS_STREAM_ERR, 1);
        xmpp_err_t pe = c.p ? xmpp_err_from_condition(c.p, c.len) : XMPP_E_NONE;
        end_stream(s, XMPP_E_NONE, pe != XMPP_E_NONE ? pe : XMPP_E_UNDEFINED_CONDITION,
                   "the peer sent a stream error");
        return 1;
    }
    case EL_STARTTLS:
        return r_starttls(s);
    case EL_AUTH:
        return r_auth(s, p, n);
    case EL_RESPONSE:
        return r_response(s, p, n);
    case EL_ABORT:
        return sasl_retry(s, "aborted");
    case EL_DB_RESULT:
    case EL_DB_VERIFY:
        if (s->role == XMPP_S2S_ORIGINATING)
            return o_db(s, k, ev->elem, p, n, buf, off, len);
        return k == EL_DB_RESULT ? r_db_result(s, ev->elem, p, n, buf, off, len)
                                 : r_db_verify(s, ev->elem, p, n, buf, off, len);
    case EL_FEATURES:
        return o_features(s, p, n);
    case EL_PROCEED:
        push(s, XMPP_S2S_START_TLS_CLIENT)->a.to = s->remote;
        s->phase = PH_TLS;
        return 1;
    case EL_TLS_FAILURE:
        end_stream(s, XMPP_E_NONE, XMPP_E_NONE, "the partner refused STARTTLS");
        return 1;
    case EL_SUCCESS:
    case EL_SASL_FAILURE:
    case EL_CHALLENGE:
        return o_sasl_outcome(s, k, p, n);
    default:
        return fail(s, XMPP_E_UNSUPPORTED_STANZA_TYPE, NULL);
    }
}

int xmpp_s2s_feed(xmpp_s2s_t *s, const xmpp_event_t *ev, const char *buf, uint64_t buf_off,
                  size_t buf_len)
{
    if (s->phase == PH_CLOSED)
        return 1;
    enter(s);
    int rc = 0;
    switch (ev->kind) {
    case XMPP_EV_HEADER:
        if (s->phase != PH_HEADER)
            rc = fail(s, XMPP_E_INTERNAL_SERVER_ERROR, "stream header out of order");
        else if (s->role == XMPP_S2S_RECEIVING)
            rc = r_header(s, ev->header);
        else
            rc = o_header(s, ev->header);
        break;
    case XMPP_EV_ELEMENT_START:
    case XMPP_EV_ELEMENT:
        if (s->phase == PH_HEADER || s->phase == PH_TLS || s->phase == PH_INIT)
            rc = fail(s, XMPP_E_INTERNAL_SERVER_ERROR, "element before the stream header");
        else if (ev->kind == XMPP_EV_ELEMENT_START)
            rc = on_element_start(s, ev);
        else
            rc = on_element(s, ev, buf, buf_off, buf_len);
        break;
    case XMPP_EV_KEEPALIVE:
        break;
    case XMPP_EV_CLOSE:
        end_stream(s, XMPP_E_NONE, XMPP_E_NONE, "the peer closed the stream");
        rc = 1;
        break;
    }
    return leave(s, rc);
}

/* ---------------------------------------------------------------- the other inputs */

int xmpp_s2s_start(xmpp_s2s_t *s)
{
    if (s->role != XMPP_S2S_ORIGINATING || s->phase != PH_INIT || (s->direct_tls && !s->tls_active))
        return -1;
    enter(s);
    s->phase = PH_HEADER;
    send_o_header(s);
    return leave(s, 0) ? -1 : 0;
}

int xmpp_s2s_tls_done(xmpp_s2s_t *s, const xmpp_s2s_tls_t *tls)
{
    int direct_first = s->direct_tls && !s->tls_active &&
                       (s->role == XMPP_S2S_ORIGINATING ? s->phase == PH_INIT
                                                        : s->phase == PH_HEADER && s->nids == 0);
    if (s->phase != PH_TLS && !direct_first)
        return -1;
    enter(s);
    s->tls_active = 1;
    s->peer_verified = tls != NULL && tls->verified;
    for (size_t i = 0; tls != NULL && i < tls->nnames && s->ncert_names < 32; i++) {
        if (tls->names[i] == NULL || strlen(tls->names[i]) > XMPP_S2S_MAX_DOMAIN)
            continue;
        char **names = realloc(s->cert_names, (s->ncert_names + 1) * sizeof *names);
        if (names == NULL)
            break;
        s->cert_names = names;
        if ((names[s->ncert_names] = dup(tls->names[i])) != NULL)
            s->ncert_names++;
    }
    if (direct_first)
        return leave(s, 0);
    /* RFC 6120 5.4.3.3: everything learnt before TLS is forgotten; the initiator restarts */
    s->phase = PH_HEADER;
    s->header_sent = 0;
    s->stream_id[0] = '\0';
    if (s->role == XMPP_S2S_ORIGINATING)
        send_o_header(s);
    return leave(s, 0) ? -1 : 0;
}

int xmpp_s2s_dialback_verified(xmpp_s2s_t *s, int pair, xmpp_s2s_db_result_t r, const char *cond)
{
    if (s->role != XMPP_S2S_RECEIVING || s->phase == PH_CLOSED || pair < 0 ||
        (unsigned)pair >= s->npairs || s->pairs[pair].state != XMPP_PAIR_PENDING)
        return -1;
    enter(s);
    r_verified(s, pair, r, cond);
    leave(s, 0);
    return 0;
}

int xmpp_s2s_add_pair(xmpp_s2s_t *s, const char *local)
{
    if (s->role != XMPP_S2S_ORIGINATING || s->verify_only || s->phase == PH_CLOSED ||
        local == NULL || ours(s, local) < 0 || find_pair(s, local, s->remote) >= 0)
        return -1;
    enter(s);
    int i = add_pair(s, local, s->remote, XMPP_PAIR_QUEUED);
    if (i >= 0 && s->phase == PH_O_OPEN)
        o_flush(s);
    leave(s, 0);
    return s->phase == PH_CLOSED ? -1 : i;
}

int xmpp_s2s_verify_request(xmpp_s2s_t *s, const char *from, const char *to, const char *id,
                            const char *key, uint32_t tag)
{
    if (s->role != XMPP_S2S_ORIGINATING || s->phase == PH_CLOSED || s->nvreqs >= s->max_verify ||
        from == NULL || to == NULL || id == NULL || key == NULL || ours(s, from) < 0 ||
        !domain_ok(to) || id[0] == '\0' || strlen(id) > XMPP_S2S_MAX_ID ||
        strlen(key) > XMPP_S2S_MAX_KEY)
        return -1;
    if (s->vreqs == NULL && (s->vreqs = calloc(s->max_verify, sizeof *s->vreqs)) == NULL)
        return -1;
    vreq_t *v = &s->vreqs[s->nvreqs];
    memset(v, 0, sizeof *v);
    v->from = dup(from);
    v->to = dup(to);
    v->id = dup(id);
    v->key = dup(key);
    v->tag = tag;
    if (v->from == NULL || v->to == NULL || v->id == NULL || v->key == NULL) {
        free(v->from);
        free(v->to);
        free(v->id);
        free(v->key);
        return -1;
    }
    s->nvreqs++;
    enter(s);
    if (s->phase == PH_O_OPEN)
        o_flush(s);
    leave(s, 0);
    return 0;
}

void xmpp_s2s_fail(xmpp_s2s_t *s, xmpp_err_t err, const char *text)
{
    if (s->phase == PH_CLOSED)
        return;
    enter(s);
    if (err == XMPP_E_NONE || xmpp_err_condition(err) == NULL)
        err = XMPP_E_INTERNAL_SERVER_ERROR;
    end_stream(s, err, XMPP_E_NONE, text);
    leave(s, 1);
}

void xmpp_s2s_timeout(xmpp_s2s_t *s)
{
    xmpp_s2s_fail(s, XMPP_E_CONNECTION_TIMEOUT, NULL);
}

void xmpp_s2s_close(xmpp_s2s_t *s)
{
    if (s->phase == PH_CLOSED)
        return;
    enter(s);
    end_stream(s, XMPP_E_NONE, XMPP_E_NONE, "closed by us");
    leave(s, 1);
}

int xmpp_s2s_next_action(xmpp_s2s_t *s, xmpp_s2s_action_t *a)
{
    if (s->act_n == 0)
        return 0;
    act_t *x = &s->act[s->act_head];
    s->act_head = (s->act_head + 1) % s->act_cap;
    s->act_n--;
    *a = x->a;
    if (a->kind == XMPP_S2S_SEND)
        a->data.p = s->out + x->off;
    return 1;
}

/* ---------------------------------------------------------------- life cycle, accessors */

xmpp_s2s_t *xmpp_s2s_new(const xmpp_s2s_config_t *cfg, const xmpp_s2s_params_t *p)
{
    if (cfg == NULL || p == NULL || cfg->ndomains == 0 || cfg->domains == NULL ||
        cfg->secret == NULL || cfg->secret_len == 0 || p->seed == NULL || p->seed_len < 16)
        return NULL;
    for (size_t i = 0; i < cfg->ndomains; i++) {
        if (cfg->domains[i] == NULL || !domain_ok(cfg->domains[i]))
            return NULL;
    }
    xmpp_s2s_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->cfg = cfg;
    s->role = p->role;
    s->direct_tls = p->direct_tls != 0;
    s->max_pairs = cfg->max_pairs ? cfg->max_pairs : XMPP_S2S_DEFAULT_MAX_PAIRS;
    s->max_dialback = cfg->max_dialback ? cfg->max_dialback : XMPP_S2S_DEFAULT_MAX_DIALBACK;
    s->max_sasl_failures =
        cfg->max_sasl_failures ? cfg->max_sasl_failures : XMPP_S2S_DEFAULT_MAX_SASL_FAILURES;
    s->max_verify = cfg->max_verify ? cfg->max_verify : XMPP_S2S_DEFAULT_MAX_VERIFY;
    s->seed_len = p->seed_len < sizeof s->seed ? p->seed_len : sizeof s->seed;
    memcpy(s->seed, p->seed, s->seed_len);
    s->local_idx = -1;
    s->cur_pair = -1;
    s->act_cap = 16 + s->max_pairs + s->max_verify;
    s->act = calloc(s->act_cap + 1, sizeof *s->act);
    if (s->act == NULL)
        goto bad;
    if (p->role == XMPP_S2S_ORIGINATING) {
        if (p->local == NULL || p->remote == NULL || ours(s, p->local) < 0 || !domain_ok(p->remote))
            goto bad;
        s->local = dup(p->local);
        s->remote = dup(p->remote);
        if (s->local == NULL || s->remote == NULL)
            goto bad;
        s->sasl_external = p->sasl_external != 0;
        s->verify_only = p->verify_only != 0;
        s->tls_required = !tls_optional_for(s, s->remote);
        s->phase = PH_INIT;
        if (!s->verify_only && add_pair(s, s->local, s->remote, XMPP_PAIR_QUEUED) != 0)
            goto bad;
    } else if (p->role == XMPP_S2S_RECEIVING) {
        s->phase = PH_HEADER;
    } else {
        goto bad;
    }
    return s;
bad:
    xmpp_s2s_free(s);
    return NULL;
}

void xmpp_s2s_free(xmpp_s2s_t *s)
{
    if (s == NULL)
        return;
    for (unsigned i = 0; i < s->npairs; i++) {
        free(s->pairs[i].from);
        free(s->pairs[i].to);
        pair_forget_key(&s->pairs[i]);
    }
    free(s->pairs);
    for (unsigned i = 0; i < s->nvreqs; i++) {
        free(s->vreqs[i].from);
        free(s->vreqs[i].to);
        free(s->vreqs[i].id);
        free(s->vreqs[i].key);
    }
    free(s->vreqs);
    for (size_t i = 0; i < s->ncert_names; i++)
        free(s->cert_names[i]);
    free(s->cert_names);
    free(s->local);
    free(s->remote);
    free(s->out);
    free(s->act);
    OPENSSL_cleanse(s->seed, sizeof s->seed);
    free(s);
}

xmpp_s2s_state_t xmpp_s2s_state(const xmpp_s2s_t *s)
{
    switch (s->phase) {
    case PH_INIT:
        return XMPP_S2S_ST_INIT;
    case PH_HEADER:
        return XMPP_S2S_ST_HEADER;
    case PH_TLS:
        return XMPP_S2S_ST_TLS;
    case PH_CLOSED:
        return XMPP_S2S_ST_CLOSED;
    default:
        if (any_pair(s, XMPP_PAIR_VALID) || (s->verify_only && s->phase == PH_O_OPEN))
            return XMPP_S2S_ST_OPEN;
        return XMPP_S2S_ST_NEGOTIATE;
    }
}

const char *xmpp_s2s_stream_id(const xmpp_s2s_t *s)
{
    return s->stream_id;
}

int xmpp_s2s_tls_active(const xmpp_s2s_t *s)
{
    return s->tls_active;
}

size_t xmpp_s2s_npairs(const xmpp_s2s_t *s)
{
    return s->npairs;
}

int xmpp_s2s_pair(const xmpp_s2s_t *s, int i, xmpp_s2s_pair_t *out)
{
    if (i < 0 || (unsigned)i >= s->npairs)
        return -1;
    out->from = s->pairs[i].from;
    out->to = s->pairs[i].to;
    out->state = s->pairs[i].state;
    out->sasl = s->pairs[i].sasl;
    return 0;
}

const char *xmpp_s2s_action_name(xmpp_s2s_action_kind_t k)
{
    static const char *const names[] = {"SEND",
                                        "DELIVER",
                                        "START_TLS_SERVER",
                                        "START_TLS_CLIENT",
                                        "RESTART",
                                        "VERIFY_DIALBACK",
                                        "VERIFY_RESULT",
                                        "PAIR_READY",
                                        "PAIR_FAILED",
                                        "CLOSE"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "UNKNOWN";
}
