/*
 * check_sip.c - `edgeproxy --check-sip`: the same framing, parsing and proxy checks the relay
 * runs, applied to captured messages, so an operator can see what the edge would do with what
 * a partner sends, in the vocabulary of the test corpus.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_sip.h"

#define CHECK_MAX_HEADERS 256
#define CHECK_MAX_INPUT   (64u << 20)

static const char *const default_supported[] = {"ms-benotify"};

const sip_check_opts_t edge_check_default_opts = {
    default_supported, sizeof default_supported / sizeof default_supported[0]};

size_t edge_check_sip_buf(const char *buf, size_t len, const sip_check_opts_t *opts,
                          edge_check_cb cb, void *ud)
{
    sip_hdr_t hdrs[CHECK_MAX_HEADERS];
    sip_msg_t msg;
    size_t off = 0, reported = 0;

    sip_msg_init(&msg, hdrs, CHECK_MAX_HEADERS);
    while (off < len) {
        edge_check_result_t r;
        int n = sip_parse(buf + off, len - off, &msg, 0);

        memset(&r, 0, sizeof r);
        r.offset = off;
        r.msg = &msg;
        r.opts = opts;
        if (n > 0 && (msg.kind == SIP_MSG_PING || msg.kind == SIP_MSG_PONG)) {
            off += (size_t)n;
            continue;
        }
        r.kind = msg.kind;
        r.method = msg.method;
        r.status = msg.status;
        if (n == SIP_INCOMPLETE) {
            /* the stream ended inside a message: a connection would time out and close */
            r.truncated = 1;
            r.length = len - off;
            r.verdict.action = SIP_ACT_CLOSE;
            cb(ud, &r);
            return reported + 1;
        }
        if (n == SIP_ERROR) {
            sip_parse_verdict(&msg, &r.verdict);
            r.length = msg.msg_len;
            cb(ud, &r);
            reported++;
            if (r.verdict.action == SIP_ACT_CLOSE || msg.msg_len == 0)
                return reported;
            off += msg.msg_len;
            continue;
        }
        sip_msg_check(&msg, opts, &r.verdict);
        r.length = (size_t)n;
        cb(ud, &r);
        reported++;
        off += (size_t)n;
    }
    return reported;
}

const char *edge_check_action(const edge_check_result_t *r, char *buf, size_t size)
{
    if (r->verdict.action == SIP_ACT_REPLY) {
        snprintf(buf, size, "reply-%d", r->verdict.status);
        return buf;
    }
    return sip_action_name(r->verdict.action, r->kind == SIP_MSG_RESPONSE);
}

/* The Unsupported list a 420 carries: every Proxy-Require tag the edge does not support. */
static void print_unsupported(FILE *out, const edge_check_result_t *r)
{
    const char *sep = "; Unsupported: ";
    sip_tag_iter_t it = {0};
    sip_slice_t tag;
    while (sip_msg_option_tag_next(r->msg, SIP_HDR_PROXY_REQUIRE, &it, &tag) > 0) {
        if (!sip_check_option_supported(r->opts, tag)) {
            fprintf(out, "%s%.*s", sep, (int)tag.len, tag.p);
            sep = ", ";
        }
    }
}

void edge_check_print(FILE *out, const char *name, const edge_check_result_t *r)
{
    char act[24];
    const sip_verdict_t *v = &r->verdict;

    fprintf(out, "%s: %s ", name, edge_check_action(r, act, sizeof act));
    if (r->kind == SIP_MSG_RESPONSE && r->status)
        fprintf(out, "%d", r->status);
    else if (r->kind == SIP_MSG_REQUEST && r->method.len)
        fprintf(out, "%.*s", (int)r->method.len, r->method.p);
    else
        fputs("-", out);
    if (r->truncated)
        fprintf(out, ": input ends inside the message (%zu bytes at offset %zu)", r->length,
                r->offset);
    else if (v->err != SIP_E_NONE)
        fprintf(out, ": %d %s (%s)", sip_err_status(v->err), sip_err_reason(v->err),
                sip_strerror(v->err));
    if (v->err == SIP_E_BAD_EXTENSION)
        print_unsupported(out, r);
    fputc('\n', out);
}

struct print_ctx {
    const char *name;
    int all_relayed;
};

static void print_cb(void *ud, const edge_check_result_t *r)
{
    struct print_ctx *ctx = ud;
    edge_check_print(stdout, ctx->name, r);
    if (r->verdict.action != SIP_ACT_FORWARD)
        ctx->all_relayed = 0;
}

/* Read a whole file (or standard input for "-"), at most CHECK_MAX_INPUT bytes. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t cap = 65536, n = 0;
    char *buf;

    if (!f)
        return NULL;
    buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
        if (n == cap) {
            char *nb = cap >= CHECK_MAX_INPUT ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                errno = EFBIG;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    if (f != stdin)
        fclose(f);
    *len = n;
    return buf;
}

int edge_check_sip_main(int nfiles, char **files)
{
    int status = 0;
    for (int i = 0; i < nfiles; i++) {
        size_t len;
        char *buf = slurp(files[i], &len);
        struct print_ctx ctx = {files[i], 1};

        if (!buf) {
            fprintf(stderr, "edgeproxy: %s: %s\n", files[i], strerror(errno));
            status = 2;
            continue;
        }
        if (edge_check_sip_buf(buf, len, &edge_check_default_opts, print_cb, &ctx) == 0) {
            printf("%s: close -: no SIP message in the input\n", files[i]);
            ctx.all_relayed = 0;
        }
        if (!ctx.all_relayed && status == 0)
            status = 1;
        free(buf);
    }
    return status;
}
