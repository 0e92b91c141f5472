/*
 * fuzz/sip_diff_osip.c - differential fuzzing of the sip/ parser against libosip2. Every
 * message sip/ frames and would forward is also given to osip_message_parse; where both accept
 * it, they must agree on the facts a proxy relays and matches transactions on.
 *
 * osip is liberal and normalises, so only facts with one possible reading are compared:
 *  - always (aborting on any difference): request or response, the method, the status code,
 *    the Call-ID, the CSeq number and method. These decide transaction matching and framing;
 *    a difference is a real disagreement about the bytes.
 *  - only when the header is written in a plain subset of the grammar (no quoting, escaping,
 *    comments, commas or folding, where osip's tolerance and re-rendering differ from a strict
 *    reader): top Via transport, sent-by and branch, From and To tags, Request-URI scheme,
 *    user, host and port, and the number of Via values.
 * Inputs with NUL bytes in the header section are skipped: osip reads C strings.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osipparser2/osip_parser.h>

#include "osip_ref.h"
#include "sip.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__lsan_default_suppressions(void);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HDRS 256
#define MAX_MSGS 8

static const char *const proxy_supported[] = {"ms-benotify"};
static const sip_check_opts_t check_opts = {proxy_supported, 1};
static sip_hdr_t hdrs[MAX_HDRS];

_Noreturn static void disagree(const char *field, sip_slice_t ours, const char *theirs,
                               const char *msg, size_t len)
{
    fprintf(stderr,
            "sip/ and libosip2 disagree on %s: sip=[%.*s] osip=[%s]\n--- message ---\n"
            "%.*s\n---\n",
            field, (int)ours.len, ours.p ? ours.p : "", theirs ? theirs : "(absent)", (int)len,
            msg);
    abort();
}

static int slice_eq(sip_slice_t s, const char *z)
{
    if (z == NULL)
        return s.len == 0;
    return strlen(z) == s.len && memcmp(s.p, z, s.len) == 0;
}

/*
 * The plain subset: characters whose meaning is the same to a strict and a liberal reader.
 * Excluded are quotes and backslashes (quoted strings), '%' (osip unescapes), ',' (value
 * splitting), '(' (osip skips comments), '?' and '&' (URI headers), and all white space but
 * single spaces (osip splits some headers on SP only, and folding is re-joined differently).
 */
static int plain(sip_slice_t s, const char *extra)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            continue;
        if (strchr(".-_+!~*", c) != NULL || (c != 0 && strchr(extra, c) != NULL))
            continue;
        return 0;
    }
    return 1;
}

/*
 * osip unfolds header values by blanking each fold: CR, LF and the white space character
 * after them all become SP. Ours keeps the fold bytes in the value slice. Call-ID syntax has no
 * room for white space, but responses are relayed without checking it, so map ours the same
 * way before comparing.
 */
static sip_slice_t unfold(sip_slice_t s, char *out, size_t cap)
{
    if (s.len > cap)
        return s;
    for (size_t i = 0; i < s.len; i++) {
        out[i] = s.p[i];
        if (s.p[i] == '\r' && i + 2 < s.len && s.p[i + 1] == '\n' &&
            (s.p[i + 2] == ' ' || s.p[i + 2] == '\t')) {
            out[i] = out[i + 1] = out[i + 2] = ' ';
            i += 2;
        }
    }
    return (sip_slice_t){out, s.len};
}

typedef struct {
    const char *p; /* the message, for the report */
    size_t len;
} wire_t;

static void must_eq(const wire_t *w, const char *field, sip_slice_t ours, const char *theirs)
{
    if (!slice_eq(ours, theirs))
        disagree(field, ours, theirs, w->p, w->len);
}

static void must_eq_num(const wire_t *w, const char *field, long ours, long theirs)
{
    if (ours != theirs) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%ld", ours);
        snprintf(b, sizeof b, "%ld", theirs);
        disagree(field, (sip_slice_t){a, strlen(a)}, b, w->p, w->len);
    }
}

/* ---------------------------------------------------------------- unambiguous facts */

static void framing_facts(const wire_t *w, const sip_msg_t *msg, osip_message_t *m)
{
    if (msg->kind == SIP_MSG_REQUEST) {
        if (!MSG_IS_REQUEST(m))
            disagree("kind", msg->method, "response", w->p, w->len);
        must_eq(w, "method", msg->method, m->sip_method);
    } else {
        if (!MSG_IS_RESPONSE(m))
            disagree("kind", (sip_slice_t){"response", 8}, "request", w->p, w->len);
        must_eq_num(w, "status", msg->status, m->status_code);
    }

    /* sip_msg_check forwarded it: Call-ID and CSeq exist once and parse. */
    const sip_hdr_t *cid = sip_msg_header_find(msg, SIP_HDR_CALL_ID);
    char *cid_str = NULL;
    if (m->call_id == NULL || osip_call_id_to_str(m->call_id, &cid_str) != 0)
        cid_str = NULL;
    char unfolded[SIP_DEFAULT_MAX_LINE];
    /*
     * Responses are relayed without a Call-ID syntax check; when the value is not a valid
     * Call-ID (white space, several '@'), osip trims around its '@' split, so there is no one
     * reading to compare. A valid one has no room for normalisation.
     */
    int comparable =
        cid == NULL || msg->kind == SIP_MSG_REQUEST || sip_call_id_check(cid->value) == 0;
    if (comparable &&
        (cid == NULL || !slice_eq(unfold(cid->value, unfolded, sizeof unfolded), cid_str)))
        disagree("Call-ID", cid ? cid->value : SIP_SLICE_NULL, cid_str, w->p, w->len);
    osip_free(cid_str);

    const sip_hdr_t *cs = sip_msg_header_find(msg, SIP_HDR_CSEQ);
    sip_cseq_t cseq;
    if (cs == NULL || sip_cseq_parse(cs->value, &cseq) != 0)
        disagree("CSeq (ours does not parse after a forward verdict)",
                 cs ? cs->value : SIP_SLICE_NULL, "", w->p, w->len);
    if (m->cseq == NULL)
        disagree("CSeq", cs->value, NULL, w->p, w->len);
    /* osip keeps the digits as written, leading zeros included: compare the numbers. */
    const char *num = m->cseq->number;
    char *end = NULL;
    unsigned long long n = num ? strtoull(num, &end, 10) : 0;
    if (num == NULL || end == num || *end != '\0' || n != cseq.number)
        disagree("CSeq number", cs->value, num, w->p, w->len);
    must_eq(w, "CSeq method", cseq.method, m->cseq->method);
}

/* ---------------------------------------------------------------- plain-subset facts */

static void via_facts(const wire_t *w, const sip_msg_t *msg, osip_message_t *m)
{
    const sip_hdr_t *h = sip_msg_header_find(msg, SIP_HDR_VIA);
    if (h == NULL || h->folded || !plain(h->value, " /:;=[]"))
        return;
    /* Every Via line plain too, or osip may split or merge values differently. */
    long values = 0;
    for (const sip_hdr_t *x = h; x; x = sip_msg_header_next(msg, x)) {
        if (x->folded || !plain(x->value, " /:;=[],"))
            return;
        size_t pos = 0;
        sip_slice_t v;
        while (sip_value_next(x->value, &pos, &v))
            values++;
    }
    must_eq_num(w, "number of Via values", values, osip_list_size(&m->vias));

    sip_via_t via;
    osip_via_t *ov = NULL;
    if (sip_msg_top_via(msg, &via) != 0 || osip_message_get_via(m, 0, &ov) < 0 || ov == NULL)
        return;
    must_eq(w, "Via transport", via.transport, ov->protocol);
    must_eq(w, "Via sent-by host", osip_ref_unbracket(via.sent_by.host), ov->host);
    must_eq_num(w, "Via sent-by port", via.sent_by.port, osip_ref_port(ov->port));
    const char *branch = osip_ref_param(&ov->via_params, "branch");
    if (via.has_branch && branch)
        must_eq(w, "Via branch", via.branch, branch);
    else if (via.has_branch != (branch != NULL))
        disagree("Via branch presence", via.branch, branch, w->p, w->len);
}

static void tag_facts(const wire_t *w, const char *field, const sip_hdr_t *h, osip_from_t *of)
{
    sip_naddr_t na;
    if (h == NULL || of == NULL || h->folded || !plain(h->value, " <>@:;=[]"))
        return;
    if (sip_naddr_parse(h->value, &na) != 0)
        return;
    const char *tag = osip_ref_param(&of->gen_params, "tag");
    if (na.has_tag && tag)
        must_eq(w, field, na.tag, tag);
    else if (na.has_tag != (tag != NULL))
        disagree(field, na.tag, tag, w->p, w->len);
}

static void ruri_facts(const wire_t *w, const sip_msg_t *msg, osip_message_t *m)
{
    sip_uri_t u;
    osip_uri_t *ou = m->req_uri;
    if (ou == NULL || !plain(msg->ruri, ":@;=[]") || sip_uri_parse(msg->ruri, &u) != 0)
        return;
    if (u.scheme != SIP_SCHEME_SIP && u.scheme != SIP_SCHEME_SIPS)
        return;
    must_eq(w, "Request-URI scheme", u.scheme_name, ou->scheme);
    must_eq(w, "Request-URI user", u.user, ou->username);
    must_eq(w, "Request-URI host", osip_ref_unbracket(u.hostport.host), ou->host);
    must_eq_num(w, "Request-URI port", u.hostport.port, osip_ref_port(ou->port));
}

/* ---------------------------------------------------------------- driver */

static void diff_one(const char *p, size_t len, const sip_msg_t *msg)
{
    /* osip stops at a NUL; a body may hold them (osip copies it by length). */
    if (memchr(p, '\0', msg->hdr_len) != NULL)
        return;
    osip_message_t *m = NULL;
    if (osip_message_init(&m) != 0)
        return;
    if (osip_message_parse(m, p, len) == 0) {
        wire_t w = {p, len};
        framing_facts(&w, msg, m);
        via_facts(&w, msg, m);
        tag_facts(&w, "From tag", sip_msg_header_find(msg, SIP_HDR_FROM), m->from);
        tag_facts(&w, "To tag", sip_msg_header_find(msg, SIP_HDR_TO), m->to);
        if (msg->kind == SIP_MSG_REQUEST)
            ruri_facts(&w, msg, m);
    }
    osip_message_free(m);
}

/*
 * libosip2 5.3 leaks on some inputs it rejects or half-accepts (a duplicated Content-Type, for
 * one). Those are osip's leaks, not ours: LeakSanitizer reads this list at exit. sip/ does not
 * allocate, so nothing of ours can hide behind it.
 */
const char *__lsan_default_suppressions(void)
{
    return "leak:libosipparser2.so\n";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    osip_ref_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t off = 0;
    for (int k = 0; k < MAX_MSGS && off < size; k++) {
        sip_msg_t msg;
        sip_msg_init(&msg, hdrs, MAX_HDRS);
        int rc = sip_parse(buf + off, size - off, &msg, 0);
        if (rc <= 0) {
            if (rc == SIP_ERROR && !sip_err_is_framing(msg.err) && msg.msg_len > 0 &&
                msg.msg_len <= size - off) {
                off += msg.msg_len;
                continue;
            }
            break;
        }
        if (msg.kind == SIP_MSG_REQUEST || msg.kind == SIP_MSG_RESPONSE) {
            sip_verdict_t v;
            sip_msg_check(&msg, &check_opts, &v);
            if (v.action == SIP_ACT_FORWARD)
                diff_one(buf + off, (size_t)rc, &msg);
        }
        off += (size_t)rc;
    }
    return 0;
}
