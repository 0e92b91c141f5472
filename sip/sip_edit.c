/*
 * sip_edit.c - edit plans: the few changes a proxy makes to a message (drop, insert or replace
 * a header, remove its own Via value, rewrite Max-Forwards) recorded as splices on the original
 * bytes and rendered as an iovec, so forwarding writes the original slices plus the new bytes
 * without re-serialising anything.
 */
#include <string.h>

#include "sip.h"
#include "sip_chars.h"

void sip_edit_init(sip_edit_t *e, const sip_msg_t *msg, const char *base, sip_splice_t *ops,
                   size_t cap)
{
    memset(e, 0, sizeof *e);
    e->msg = msg;
    e->base = base;
    e->ops = ops;
    e->cap = cap;
}

static int splice(sip_edit_t *e, const char *at, size_t len, const char *ins, size_t ins_len)
{
    if (e->nops >= e->cap || at < e->base || (size_t)(at - e->base) + len > e->msg->hdr_len) {
        e->overflow = 1;
        return -1;
    }
    e->ops[e->nops++] = (sip_splice_t){(uint32_t)(at - e->base), (uint32_t)len, {ins, ins_len}};
    return 0;
}

int sip_edit_splice(sip_edit_t *e, const char *at, size_t len, const char *ins, size_t ins_len)
{
    return splice(e, at, len, ins, ins_len);
}

static const sip_hdr_t *hdr_at(const sip_edit_t *e, size_t i)
{
    return i < e->msg->nhdrs ? &e->msg->hdrs[i] : NULL;
}

int sip_edit_drop(sip_edit_t *e, size_t i)
{
    const sip_hdr_t *h = hdr_at(e, i);
    if (!h)
        return -1;
    return splice(e, h->raw.p, h->raw.len, NULL, 0);
}

int sip_edit_replace(sip_edit_t *e, size_t i, const char *line, size_t len)
{
    const sip_hdr_t *h = hdr_at(e, i);
    if (!h)
        return -1;
    return splice(e, h->raw.p, h->raw.len, line, len);
}

int sip_edit_insert(sip_edit_t *e, size_t i, const char *line, size_t len)
{
    const char *at;
    if (i < e->msg->nhdrs)
        at = e->msg->hdrs[i].raw.p;
    else if (i == e->msg->nhdrs)
        at = e->base + e->msg->hdr_len - 2; /* before the empty line */
    else
        return -1;
    return splice(e, at, 0, line, len);
}

int sip_edit_drop_first_value(sip_edit_t *e, size_t i)
{
    const sip_hdr_t *h = hdr_at(e, i);
    size_t pos = 0;
    sip_slice_t first, second;
    if (!h || !sip_value_next(h->value, &pos, &first))
        return -1;
    if (!sip_value_next(h->value, &pos, &second))
        return sip_edit_drop(e, i);
    /* keep "Name: " and remove from the first value up to the second one */
    return splice(e, h->value.p, (size_t)(second.p - h->value.p), NULL, 0);
}

int sip_edit_max_forwards(sip_edit_t *e)
{
    static const char line70[] = "Max-Forwards: 70\r\n";
    int16_t idx = e->msg->first[SIP_HDR_MAX_FORWARDS];
    if (idx < 0) {
        /* after the last Via is where RFC 3261 examples put it; any position is legal */
        if (sip_edit_insert(e, e->msg->nhdrs, line70, sizeof line70 - 1) < 0)
            return -1;
        return 70;
    }
    const sip_hdr_t *h = &e->msg->hdrs[idx];
    int mf = sip_max_forwards_parse(h->value);
    if (mf <= 0)
        return -1;
    mf--;
    int n = 0;
    if (mf >= 100)
        e->mf_digits[n++] = (char)('0' + mf / 100);
    if (mf >= 10)
        e->mf_digits[n++] = (char)('0' + mf / 10 % 10);
    e->mf_digits[n++] = (char)('0' + mf % 10);
    if (splice(e, h->value.p, h->value.len, e->mf_digits, (size_t)n) < 0)
        return -1;
    return mf;
}

int sip_edit_render(sip_edit_t *e, struct iovec *iov, size_t iovcnt, size_t *total)
{
    size_t n = 0, pos = 0, sum = 0;
    size_t msg_len = e->msg->msg_len;

    if (e->overflow)
        return -1;
    /* insertion sort by offset: plans hold a handful of ops; ties keep insertion order */
    for (size_t i = 1; i < e->nops; i++) {
        sip_splice_t t = e->ops[i];
        size_t j = i;
        /* at one offset, pure insertions go before a removal that starts there */
        while (j > 0 && (e->ops[j - 1].off > t.off ||
                         (e->ops[j - 1].off == t.off && t.len == 0 && e->ops[j - 1].len > 0))) {
            e->ops[j] = e->ops[j - 1];
            j--;
        }
        e->ops[j] = t;
    }
    for (size_t i = 0; i <= e->nops; i++) {
        size_t off = i < e->nops ? e->ops[i].off : msg_len;
        if (off < pos)
            return -1; /* overlapping splices */
        if (off > pos) {
            if (n >= iovcnt)
                return -1;
            iov[n++] = (struct iovec){(void *)(uintptr_t)(e->base + pos), off - pos};
            sum += off - pos;
        }
        if (i == e->nops)
            break;
        if (e->ops[i].ins.len) {
            if (n >= iovcnt)
                return -1;
            iov[n++] = (struct iovec){(void *)(uintptr_t)e->ops[i].ins.p, e->ops[i].ins.len};
            sum += e->ops[i].ins.len;
        }
        pos = off + e->ops[i].len;
    }
    if (total)
        *total = sum;
    return (int)n;
}
