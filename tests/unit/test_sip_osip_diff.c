/*
 * test_sip_osip_diff.c - differential test of the sip/ parser against libosip2 on every corpus
 * message. libosip2 is an independent, widely deployed parser: where both accept a message,
 * the facts a proxy routes on (method or status, Request-URI parts, Call-ID, CSeq, top Via,
 * tags, multi-valued header counts) must agree. Fields are compared after undoing osip's own
 * normalisation (it percent-decodes userinfo and strips IPv6 brackets), never as re-rendered
 * strings, so a difference printed here is a real disagreement about the wire bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osipparser2/osip_parser.h>

#include "osip_ref.h"
#include "sip.h"

#ifndef EDGE_CORPUS_DIR
#error "EDGE_CORPUS_DIR must name the tests/corpus directory"
#endif

/*
 * Both parsers accept fewer messages than the corpus holds (a third of it is invalid on
 * purpose). 44 are accepted by both at the time of writing; the floor leaves a little room for
 * the checker to tighten, but a broken loader or a parser that rejects everything fails.
 */
#define MIN_COMPARED 40

#define MAX_HDRS 512

typedef struct {
    const char *file; /* path relative to sip/ */
    int index;        /* message number within the file */
    int failures;
} diff_ctx_t;

static const char *const proxy_supported[] = {"ms-benotify"};

static void mismatch(diff_ctx_t *c, const char *field, const char *ours, size_t ours_len,
                     const char *theirs)
{
    c->failures++;
    print_error("MISMATCH %s msg#%d field %s: sip=[%.*s] osip=[%s]\n", c->file, c->index, field,
                ours ? (int)ours_len : 8, ours ? ours : "(absent)", theirs ? theirs : "(absent)");
}

static void mismatch_int(diff_ctx_t *c, const char *field, long ours, long theirs)
{
    c->failures++;
    print_error("MISMATCH %s msg#%d field %s: sip=%ld osip=%ld\n", c->file, c->index, field, ours,
                theirs);
}

/* A slice equals an osip string; an empty slice equals an absent (NULL) string. */
static int slice_eq(sip_slice_t s, const char *z)
{
    if (z == NULL)
        return s.len == 0;
    return strlen(z) == s.len && memcmp(s.p, z, s.len) == 0;
}

static void cmp_slice(diff_ctx_t *c, const char *field, sip_slice_t ours, const char *theirs)
{
    if (!slice_eq(ours, theirs))
        mismatch(c, field, ours.len ? ours.p : NULL, ours.len, theirs);
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/*
 * osip percent-decodes the user and password of a sip/sips URI; ours keeps the wire form.
 * Decode ours into out (same or smaller size) so the two can be compared byte for byte.
 */
static sip_slice_t pct_decode(sip_slice_t s, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len && n < cap; i++) {
        if (s.p[i] == '%' && i + 2 < s.len && hexval(s.p[i + 1]) >= 0 && hexval(s.p[i + 2]) >= 0) {
            out[n++] = (char)(hexval(s.p[i + 1]) * 16 + hexval(s.p[i + 2]));
            i += 2;
        } else {
            out[n++] = s.p[i];
        }
    }
    return (sip_slice_t){out, n};
}

/* Values of every header with that id, split the way a proxy splits them. */
static long count_values(const sip_msg_t *msg, sip_hdr_id_t id)
{
    long n = 0;
    for (const sip_hdr_t *h = sip_msg_header_find(msg, id); h; h = sip_msg_header_next(msg, h)) {
        size_t pos = 0;
        sip_slice_t v;
        while (sip_value_next(h->value, &pos, &v))
            n++;
    }
    return n;
}

/*
 * osip files a header it failed to parse as a known one under its generic list instead of
 * failing the message for some names; counting its typed list would then be unfair.
 */
static int osip_has_generic(osip_message_t *m, const char *name, const char *compact)
{
    for (int i = 0; i < osip_list_size(&m->headers); i++) {
        osip_header_t *h = osip_list_get(&m->headers, i);
        if (h && h->hname &&
            (osip_strcasecmp(h->hname, name) == 0 ||
             (compact && osip_strcasecmp(h->hname, compact) == 0)))
            return 1;
    }
    return 0;
}

static void cmp_count(diff_ctx_t *c, const sip_msg_t *msg, osip_message_t *m, sip_hdr_id_t id,
                      osip_list_t *list, const char *name, const char *compact)
{
    if (osip_has_generic(m, name, compact))
        return;
    long ours = count_values(msg, id);
    long theirs = osip_list_size(list);
    if (ours != theirs) {
        char field[64];
        snprintf(field, sizeof field, "count(%s)", name);
        mismatch_int(c, field, ours, theirs);
    }
}

static void cmp_ruri(diff_ctx_t *c, const sip_msg_t *msg, osip_message_t *m)
{
    sip_uri_t u;
    osip_uri_t *ou = m->req_uri;
    if (ou == NULL) {
        mismatch(c, "ruri", msg->ruri.p, msg->ruri.len, NULL);
        return;
    }
    if (sip_uri_parse(msg->ruri, &u) != 0) {
        /* The checker forwarded it, so its own URI parser must accept it. */
        mismatch(c, "ruri(sip_uri_parse failed)", msg->ruri.p, msg->ruri.len, ou->scheme);
        return;
    }
    cmp_slice(c, "ruri.scheme", u.scheme_name, osip_uri_get_scheme(ou));
    if (u.scheme == SIP_SCHEME_SIP || u.scheme == SIP_SCHEME_SIPS) {
        char buf[1024];
        cmp_slice(c, "ruri.user", pct_decode(u.user, buf, sizeof buf), osip_uri_get_username(ou));
        cmp_slice(c, "ruri.password", pct_decode(u.password, buf, sizeof buf),
                  osip_uri_get_password(ou));
        cmp_slice(c, "ruri.host", osip_ref_unbracket(u.hostport.host), osip_uri_get_host(ou));
        if (u.hostport.port != osip_ref_port(osip_uri_get_port(ou)))
            mismatch_int(c, "ruri.port", u.hostport.port, osip_ref_port(osip_uri_get_port(ou)));
    } else {
        /* osip keeps every other scheme (tel included) as opaque text after "scheme:". */
        sip_slice_t rest = {msg->ruri.p + u.scheme_name.len + 1,
                            msg->ruri.len - u.scheme_name.len - 1};
        cmp_slice(c, "ruri.opaque", rest, ou->string);
    }
}

static void cmp_via(diff_ctx_t *c, const sip_msg_t *msg, osip_message_t *m)
{
    sip_via_t v;
    osip_via_t *ov = NULL;
    int have_ours = sip_msg_top_via(msg, &v) == 0;
    int have_theirs = osip_message_get_via(m, 0, &ov) >= 0 && ov != NULL;
    if (!have_ours || !have_theirs) {
        if (have_ours != have_theirs)
            mismatch_int(c, "top Via present", have_ours, have_theirs);
        return;
    }
    cmp_slice(c, "via.transport", v.transport, ov->protocol);
    cmp_slice(c, "via.host", osip_ref_unbracket(v.sent_by.host), ov->host);
    if (v.sent_by.port != osip_ref_port(ov->port))
        mismatch_int(c, "via.port", v.sent_by.port, osip_ref_port(ov->port));
    const char *branch = osip_ref_param(&ov->via_params, "branch");
    if (v.has_branch != (branch != NULL))
        mismatch(c, "via.branch present", v.has_branch ? v.branch.p : NULL, v.branch.len, branch);
    else if (branch)
        cmp_slice(c, "via.branch", v.branch, branch);
}

static void cmp_tag(diff_ctx_t *c, const char *field, const sip_hdr_t *h, osip_from_t *of)
{
    sip_naddr_t na;
    if (h == NULL || of == NULL) {
        if ((h == NULL) != (of == NULL))
            mismatch_int(c, field, h != NULL, of != NULL);
        return;
    }
    if (sip_naddr_parse(h->value, &na) != 0) {
        mismatch(c, field, h->value.p, h->value.len, "(sip_naddr_parse failed)");
        return;
    }
    const char *tag = osip_ref_param(&of->gen_params, "tag");
    if (na.has_tag != (tag != NULL))
        mismatch(c, field, na.has_tag ? na.tag.p : NULL, na.tag.len, tag);
    else if (tag)
        cmp_slice(c, field, na.tag, tag);
}

static void compare(diff_ctx_t *c, const sip_msg_t *msg, osip_message_t *m)
{
    if (msg->kind == SIP_MSG_REQUEST) {
        if (!MSG_IS_REQUEST(m)) {
            mismatch(c, "kind", "request", 7, "response");
            return;
        }
        cmp_slice(c, "method", msg->method, m->sip_method);
        cmp_ruri(c, msg, m);
    } else {
        if (!MSG_IS_RESPONSE(m)) {
            mismatch(c, "kind", "response", 8, "request");
            return;
        }
        if (msg->status != m->status_code)
            mismatch_int(c, "status", msg->status, m->status_code);
    }

    const sip_hdr_t *cid = sip_msg_header_find(msg, SIP_HDR_CALL_ID);
    char *cid_str = NULL;
    if (m->call_id)
        osip_call_id_to_str(m->call_id, &cid_str);
    cmp_slice(c, "Call-ID", cid ? cid->value : SIP_SLICE_NULL, cid_str);
    osip_free(cid_str);

    const sip_hdr_t *cs = sip_msg_header_find(msg, SIP_HDR_CSEQ);
    sip_cseq_t cseq;
    if (cs == NULL || m->cseq == NULL || sip_cseq_parse(cs->value, &cseq) != 0) {
        mismatch(c, "CSeq", cs ? cs->value.p : NULL, cs ? cs->value.len : 0,
                 m->cseq ? m->cseq->number : NULL);
    } else {
        /* osip keeps the digits as written ("0009"); compare numbers. */
        const char *num = m->cseq->number;
        char *end = NULL;
        unsigned long long theirs = num ? strtoull(num, &end, 10) : 0;
        if (num == NULL || *end != '\0' || theirs != cseq.number)
            mismatch(c, "CSeq.number", cs->value.p, cs->value.len, num);
        cmp_slice(c, "CSeq.method", cseq.method, m->cseq->method);
    }

    cmp_via(c, msg, m);
    cmp_tag(c, "From.tag", sip_msg_header_find(msg, SIP_HDR_FROM), m->from);
    cmp_tag(c, "To.tag", sip_msg_header_find(msg, SIP_HDR_TO), m->to);

    cmp_count(c, msg, m, SIP_HDR_VIA, &m->vias, "via", "v");
    cmp_count(c, msg, m, SIP_HDR_CONTACT, &m->contacts, "contact", "m");
    cmp_count(c, msg, m, SIP_HDR_ROUTE, &m->routes, "route", NULL);
    cmp_count(c, msg, m, SIP_HDR_RECORD_ROUTE, &m->record_routes, "record-route", NULL);
}

static char *load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

typedef struct {
    int messages; /* framed by sip_parse */
    int ours_ok;  /* forwarded by sip_msg_check */
    int osip_ok;  /* accepted by osip_message_parse */
    int compared; /* both */
    int failures;
} totals_t;

static void diff_file(const char *rel, totals_t *t)
{
    char path[4096];
    int plen = snprintf(path, sizeof path, "%s/sip/%s", EDGE_CORPUS_DIR, rel);
    if (plen < 0 || (size_t)plen >= sizeof path)
        fail_msg("corpus path too long: %s", rel);
    size_t len = 0;
    char *buf = load(path, &len);
    if (buf == NULL)
        fail_msg("cannot read corpus file %s", path);

    static sip_hdr_t hdrs[MAX_HDRS];
    sip_check_opts_t opts = {proxy_supported, 1};
    diff_ctx_t c = {rel, 0, 0};
    size_t off = 0;
    /* dblreq.dat holds two messages: walk the file as a stream, as a connection would. */
    while (off < len) {
        sip_msg_t msg;
        sip_msg_init(&msg, hdrs, MAX_HDRS);
        int rc = sip_parse(buf + off, len - off, &msg, 0);
        if (rc <= 0) {
            print_message("%-52s #%d sip=%s\n", rel, c.index + 1,
                          rc == SIP_INCOMPLETE ? "incomplete" : sip_err_name(msg.err));
            break;
        }
        size_t mlen = (size_t)rc;
        if (msg.kind == SIP_MSG_REQUEST || msg.kind == SIP_MSG_RESPONSE) {
            c.index++;
            t->messages++;
            sip_verdict_t v;
            sip_msg_check(&msg, &opts, &v);
            osip_message_t *m = NULL;
            if (osip_message_init(&m) != 0)
                fail_msg("osip_message_init failed");
            int osip_rc = osip_message_parse(m, buf + off, mlen);
            int ours = v.action == SIP_ACT_FORWARD;
            t->ours_ok += ours;
            t->osip_ok += osip_rc == 0;
            print_message("%-52s #%d sip=%-8s osip=%s\n", rel, c.index,
                          sip_action_name(v.action, msg.kind == SIP_MSG_RESPONSE),
                          osip_rc == 0 ? "ok" : "reject");
            if (ours && osip_rc == 0) {
                t->compared++;
                compare(&c, &msg, m);
            }
            osip_message_free(m);
        }
        off += mlen;
    }
    t->failures += c.failures;
    free(buf);
}

static void test_corpus_vs_osip(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/sip/INDEX.tsv", EDGE_CORPUS_DIR);
    FILE *f = fopen(path, "r");
    assert_non_null(f);

    totals_t t = {0};
    int files = 0;
    char line[1024]; /* an INDEX.tsv row; only the path column is used */
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        if (first) { /* column names */
            first = 0;
            continue;
        }
        char *tab = strchr(line, '\t');
        if (tab == NULL)
            continue;
        *tab = '\0';
        files++;
        diff_file(line, &t);
    }
    fclose(f);

    print_message("%d files, %d messages: sip forwards %d, osip accepts %d, both %d, "
                  "%d mismatches\n",
                  files, t.messages, t.ours_ok, t.osip_ok, t.compared, t.failures);
    assert_true(files > 0);
    if (t.failures)
        fail_msg("%d field mismatches between sip_parse and libosip2 (see above)", t.failures);
    if (t.compared < MIN_COMPARED)
        fail_msg("only %d messages accepted by both parsers (expected at least %d)", t.compared,
                 MIN_COMPARED);
}

static int setup(void **state)
{
    (void)state;
    return osip_ref_init();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_vs_osip),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
