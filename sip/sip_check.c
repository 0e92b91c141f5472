/*
 * sip_check.c - what a stateful proxy does with a framed message before relaying it, in the
 * order of RFC 3261 16.3: reasonable syntax (400), URI scheme (416), Max-Forwards (483),
 * Proxy-Require (420). Responses that cannot be trusted are dropped, never answered. The
 * checks run the sub-parsers the relay needs anyway, so the router pays for them once.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "sip.h"
#include "sip_chars.h"

static void verdict(sip_verdict_t *out, sip_action_t a, sip_err_t err)
{
    out->action = a;
    out->err = err;
    out->status = err == SIP_E_NONE ? 0 : sip_err_status(err);
}

static const sip_hdr_t *single(const sip_msg_t *msg, sip_hdr_id_t id)
{
    return sip_msg_header_find(msg, id);
}

static int ipv4_octets(sip_slice_t h, unsigned o[4])
{
    size_t k = 0;
    for (int i = 0; i < 4; i++) {
        o[i] = 0;
        if (k >= h.len || !sip_c((unsigned char)h.p[k], SIPC_DIGIT))
            return -1;
        while (k < h.len && sip_c((unsigned char)h.p[k], SIPC_DIGIT))
            o[i] = o[i] * 10 + (unsigned)(h.p[k++] - '0');
        if (i < 3 && (k >= h.len || h.p[k++] != '.'))
            return -1;
    }
    return 0;
}

static int ipv4_bad_dest(const unsigned o[4])
{
    return (o[0] == 255 && o[1] == 255 && o[2] == 255 && o[3] == 255) ||
           (o[0] == 0 && o[1] == 0 && o[2] == 0 && o[3] == 0) || (o[0] >= 224 && o[0] <= 239);
}

/* A broadcast, multicast or unspecified destination (RFC 4475 3.3.10), judged on the address
 * value, whatever its spelling: a response must never be sent toward one. */
static int via_broadcast(const sip_hostport_t *hp)
{
    sip_slice_t h = hp->host;
    unsigned o[4];
    if (hp->host_kind == SIP_HOST_IPV4)
        return ipv4_octets(h, o) == 0 && ipv4_bad_dest(o);
    if (hp->host_kind == SIP_HOST_IPV6) {
        char text[64];
        struct in6_addr a;
        if (h.len < 3 || h.len - 2 >= sizeof text)
            return 0;
        memcpy(text, h.p + 1, h.len - 2);
        text[h.len - 2] = '\0';
        if (inet_pton(AF_INET6, text, &a) != 1)
            return 0; /* the tolerated RFC 5118 4.10 spelling: not a special address */
        if (IN6_IS_ADDR_MULTICAST(&a) || IN6_IS_ADDR_UNSPECIFIED(&a))
            return 1;
        if (IN6_IS_ADDR_V4MAPPED(&a)) {
            for (int i = 0; i < 4; i++)
                o[i] = a.s6_addr[12 + i];
            return ipv4_bad_dest(o);
        }
    }
    return 0;
}

/* Every Via header holds at least one value and every value parses; *broadcast set if one is
 * sent by a broadcast, multicast or unspecified address. */
static int vias_ok(const sip_msg_t *msg, int *broadcast)
{
    *broadcast = 0;
    for (const sip_hdr_t *h = sip_msg_header_find(msg, SIP_HDR_VIA); h;
         h = sip_msg_header_next(msg, h)) {
        size_t pos = 0;
        sip_via_t via;
        int rc, n = 0;
        while ((rc = sip_via_next(h->value, &pos, &via)) != 0) {
            if (rc < 0)
                return -1;
            if (via_broadcast(&via.sent_by))
                *broadcast = 1;
            n++;
        }
        if (n == 0)
            return -1;
    }
    return 0;
}

int sip_check_option_supported(const sip_check_opts_t *opts, sip_slice_t tag)
{
    for (size_t i = 0; opts && i < opts->n_proxy_supported; i++) {
        if (sip_slice_eq(tag, opts->proxy_supported[i]))
            return 1;
    }
    return 0;
}

static void check_response(const sip_msg_t *msg, sip_verdict_t *out)
{
    sip_cseq_t cseq;
    int bcast;

    if (!single(msg, SIP_HDR_VIA) || !single(msg, SIP_HDR_CSEQ) || !single(msg, SIP_HDR_FROM) ||
        !single(msg, SIP_HDR_TO) || !single(msg, SIP_HDR_CALL_ID)) {
        verdict(out, SIP_ACT_DROP,
                !single(msg, SIP_HDR_VIA)    ? SIP_E_MISSING_VIA
                : !single(msg, SIP_HDR_CSEQ) ? SIP_E_MISSING_CSEQ
                : !single(msg, SIP_HDR_FROM) ? SIP_E_MISSING_FROM
                : !single(msg, SIP_HDR_TO)   ? SIP_E_MISSING_TO
                                             : SIP_E_MISSING_CALL_ID);
        return;
    }
    if (msg->count[SIP_HDR_CSEQ] > 1 ||
        sip_cseq_parse(single(msg, SIP_HDR_CSEQ)->value, &cseq) < 0) {
        verdict(out, SIP_ACT_DROP, msg->count[SIP_HDR_CSEQ] > 1 ? SIP_E_DUP_CSEQ : SIP_E_BAD_CSEQ);
        return;
    }
    sip_naddr_t na;
    sip_err_t err = msg->count[SIP_HDR_CALL_ID] > 1                              ? SIP_E_DUP_CALL_ID
                    : msg->count[SIP_HDR_FROM] > 1                               ? SIP_E_DUP_FROM
                    : msg->count[SIP_HDR_TO] > 1                                 ? SIP_E_DUP_TO
                    : sip_call_id_check(single(msg, SIP_HDR_CALL_ID)->value) < 0 ? SIP_E_BAD_CALL_ID
                    : sip_naddr_parse(single(msg, SIP_HDR_FROM)->value, &na) < 0 ? SIP_E_BAD_FROM
                    : sip_naddr_parse(single(msg, SIP_HDR_TO)->value, &na) < 0   ? SIP_E_BAD_TO
                                                                                 : SIP_E_NONE;
    if (err != SIP_E_NONE) {
        verdict(out, SIP_ACT_DROP, err);
        return;
    }
    if (vias_ok(msg, &bcast) < 0) {
        verdict(out, SIP_ACT_DROP, SIP_E_BAD_VIA);
        return;
    }
    if (bcast) {
        verdict(out, SIP_ACT_DROP, SIP_E_VIA_BROADCAST);
        return;
    }
    verdict(out, SIP_ACT_FORWARD, SIP_E_NONE);
}

static sip_err_t request_syntax(const sip_msg_t *msg, sip_uri_t *ruri, int *max_forwards)
{
    static const struct {
        sip_hdr_id_t id;
        sip_err_t missing, dup;
    } required[] = {
        {SIP_HDR_FROM, SIP_E_MISSING_FROM, SIP_E_DUP_FROM},
        {SIP_HDR_TO, SIP_E_MISSING_TO, SIP_E_DUP_TO},
        {SIP_HDR_CALL_ID, SIP_E_MISSING_CALL_ID, SIP_E_DUP_CALL_ID},
        {SIP_HDR_CSEQ, SIP_E_MISSING_CSEQ, SIP_E_DUP_CSEQ},
        {SIP_HDR_VIA, SIP_E_MISSING_VIA, SIP_E_NONE},
    };
    sip_cseq_t cseq;
    sip_naddr_t na;
    int bcast;

    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        if (msg->count[required[i].id] == 0)
            return required[i].missing;
        if (msg->count[required[i].id] > 1 && required[i].dup != SIP_E_NONE)
            return required[i].dup;
    }
    if (msg->count[SIP_HDR_MAX_FORWARDS] > 1)
        return SIP_E_DUP_MAX_FORWARDS;

    if (sip_uri_parse(msg->ruri, ruri) < 0)
        return SIP_E_BAD_RURI;
    if ((ruri->scheme == SIP_SCHEME_SIP || ruri->scheme == SIP_SCHEME_SIPS) && ruri->headers.p)
        return SIP_E_RURI_HEADERS;

    if (sip_cseq_parse(single(msg, SIP_HDR_CSEQ)->value, &cseq) < 0)
        return SIP_E_BAD_CSEQ;
    if (cseq.method.len != msg->method.len ||
        memcmp(cseq.method.p, msg->method.p, msg->method.len) != 0)
        return SIP_E_CSEQ_METHOD;
    if (sip_call_id_check(single(msg, SIP_HDR_CALL_ID)->value) < 0)
        return SIP_E_BAD_CALL_ID;
    if (sip_naddr_parse(single(msg, SIP_HDR_FROM)->value, &na) < 0)
        return SIP_E_BAD_FROM;
    if (sip_naddr_parse(single(msg, SIP_HDR_TO)->value, &na) < 0)
        return SIP_E_BAD_TO;
    if (vias_ok(msg, &bcast) < 0)
        return SIP_E_BAD_VIA;

    *max_forwards = -1;
    if (msg->count[SIP_HDR_MAX_FORWARDS]) {
        *max_forwards = sip_max_forwards_parse(single(msg, SIP_HDR_MAX_FORWARDS)->value);
        if (*max_forwards < 0)
            return SIP_E_BAD_MAX_FORWARDS;
    }
    sip_tag_iter_t it = {0};
    sip_slice_t tag;
    int rc;
    while ((rc = sip_msg_option_tag_next(msg, SIP_HDR_PROXY_REQUIRE, &it, &tag)) != 0) {
        if (rc < 0)
            return SIP_E_BAD_REQUIRE;
    }
    return SIP_E_NONE;
}

void sip_msg_check(const sip_msg_t *msg, const sip_check_opts_t *opts, sip_verdict_t *out)
{
    sip_uri_t ruri = {0};
    int mf = -1;
    sip_err_t err;

    memset(out, 0, sizeof *out);
    if (msg->kind == SIP_MSG_RESPONSE) {
        check_response(msg, out);
        return;
    }
    if (msg->kind != SIP_MSG_REQUEST) {
        verdict(out, SIP_ACT_FORWARD, SIP_E_NONE); /* keepalives: nothing to check */
        return;
    }
    err = request_syntax(msg, &ruri, &mf);
    if (err != SIP_E_NONE) {
        verdict(out, SIP_ACT_REPLY, err);
        goto ack;
    }
    if (ruri.scheme == SIP_SCHEME_OTHER) {
        verdict(out, SIP_ACT_REPLY, SIP_E_UNSUPPORTED_SCHEME);
        goto ack;
    }
    if (mf == 0) {
        verdict(out, SIP_ACT_REPLY, SIP_E_TOO_MANY_HOPS);
        goto ack;
    }
    /* syntax was checked above: every tag is a token */
    sip_tag_iter_t it = {0};
    sip_slice_t tag;
    while (sip_msg_option_tag_next(msg, SIP_HDR_PROXY_REQUIRE, &it, &tag) > 0) {
        if (!sip_check_option_supported(opts, tag)) {
            verdict(out, SIP_ACT_REPLY, SIP_E_BAD_EXTENSION);
            out->unsupported = tag;
            goto ack;
        }
    }
    verdict(out, SIP_ACT_FORWARD, SIP_E_NONE);
    return;
ack:
    /* an ACK is never answered (RFC 3261 17.1.1.3, 17.2.1): a bad one is dropped */
    if (msg->method_id == SIP_METHOD_ACK)
        out->action = SIP_ACT_DROP;
}

void sip_parse_verdict(const sip_msg_t *msg, sip_verdict_t *out)
{
    memset(out, 0, sizeof *out);
    if (sip_err_is_framing(msg->err)) {
        verdict(out, SIP_ACT_CLOSE, msg->err);
        return;
    }
    verdict(out,
            msg->kind == SIP_MSG_RESPONSE || msg->method_id == SIP_METHOD_ACK ? SIP_ACT_DROP
                                                                              : SIP_ACT_REPLY,
            msg->err);
}

const char *sip_action_name(sip_action_t a, int is_response)
{
    switch (a) {
    case SIP_ACT_FORWARD:
        return is_response ? "forward-response" : "forward";
    case SIP_ACT_REPLY:
        return "reply";
    case SIP_ACT_DROP:
        return "drop";
    case SIP_ACT_CLOSE:
        return "close";
    }
    return "?";
}
