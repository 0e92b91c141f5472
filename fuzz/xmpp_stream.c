/*
 * fuzz/xmpp_stream.c - libFuzzer harness for the XMPP stream reader on hostile bytes. The input
 * is what a peer wrote on an s2s connection. It is read with the default limits and with tiny
 * ones (so every limit path is reached by small inputs), each time fed at once, byte by byte, in
 * two pieces at a point the input chooses, and in irregular pieces; all feedings must give the
 * same events, byte ranges, error and error offset, and so must a reader that replaces its
 * expat parser after every stanza. Besides the sanitizers it checks the reader's contracts as
 * events arrive (ranges inside the input, markup ranges are '<'...'>' with the element's own
 * name and end tag, keepalives are whitespace, attribute bytes are the input's and decode,
 * consumed_upto never passes an element not yet reported) and aborts when one is broken. A last
 * run stops on each element and restarts the stream on the rest of the bytes, as STARTTLS and
 * SASL do.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "xmpp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 8192

typedef struct {
    xmpp_event_kind_t kind;
    uint64_t start, end;
    uint64_t names; /* hash of name, ns and prefix */
    xmpp_attr_t a[8];
    unsigned ver_major, ver_minor;
    int legacy;
} ev_t;

typedef struct {
    const char *in;
    size_t len;
    ev_t ev[MAX_EVENTS];
    size_t n, total;
    uint64_t consumed;   /* highest consumed_upto seen */
    uint64_t open_start; /* start of the last ELEMENT_START not yet closed, or UINT64_MAX */
    xmpp_attr_t open_a[4];
    int stop_on_element;
    xmpp_err_t err;
    uint64_t err_off;
    int err_by_expat; /* expat's position: may move by a token with the split */
} log_t;

static log_t logs[2];

static uint64_t hash(uint64_t h, xmpp_slice_t s)
{
    for (size_t i = 0; i < s.len; i++)
        h = (h ^ (unsigned char)s.p[i]) * 1099511628211u;
    return (h ^ 0xff) * 1099511628211u;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The bytes at b are '<' [prefix ':'] name, and for an ELEMENT end with its own end tag. */
static void check_qname(const char *b, size_t len, const xmpp_elem_t *el, int whole)
{
    size_t q = 1 + (el->prefix.len ? el->prefix.len + 1 : 0) + el->name.len;
    CHECK(el->name.len > 0 && len > q);
    const char *p = b + 1;
    if (el->prefix.len) {
        CHECK(memcmp(p, el->prefix.p, el->prefix.len) == 0 && p[el->prefix.len] == ':');
        p += el->prefix.len + 1;
    }
    CHECK(memcmp(p, el->name.p, el->name.len) == 0);
    CHECK(is_ws(b[q]) || b[q] == '/' || b[q] == '>');
    if (!whole)
        return;
    /* no '<' can occur between an end tag's '</' and its '>' */
    size_t lt = len - 1;
    while (b[lt] != '<')
        lt--;
    if (lt == 0) {
        CHECK(b[len - 2] == '/');
        return;
    }
    CHECK(b[lt + 1] == '/' && len - lt >= q + 2);
    CHECK(memcmp(b + lt + 2, b + 1, q - 1) == 0);
    for (size_t i = lt + 1 + q; i < len - 1; i++)
        CHECK(is_ws(b[i]));
}

static void check_attr(const log_t *lg, const xmpp_event_t *ev, const xmpp_attr_t *a, ev_t *e,
                       int k)
{
    e->a[k].off = a->off;
    e->a[k].len = a->len;
    e->a[k].present = a->present;
    e->a[k].escaped = a->escaped;
    if (!a->present)
        return;
    CHECK(a->off >= ev->start && a->len <= ev->end - a->off);
    if (ev->kind == XMPP_EV_ELEMENT) {
        CHECK(a->p == NULL);
    } else {
        CHECK(a->p != NULL && memcmp(a->p, lg->in + a->off, a->len) == 0);
    }
    const char *raw = lg->in + a->off;
    CHECK(memchr(raw, '<', a->len) == NULL);
    int esc = 0;
    for (size_t i = 0; i < a->len; i++)
        esc |= raw[i] == '&' || raw[i] == '\t' || raw[i] == '\r' || raw[i] == '\n';
    CHECK(esc == a->escaped);
    /* expat accepted the value, so it decodes; unescaped values decode to themselves */
    char *out = malloc(a->len + 1);
    size_t n = xmpp_attr_unescape((xmpp_slice_t){raw, a->len}, out, a->len);
    CHECK(n != (size_t)-1 && n <= a->len);
    CHECK(a->escaped || (n == a->len && memcmp(out, raw, n) == 0));
    xmpp_slice_t s = xmpp_attr_slice(a, lg->in, 0, lg->len);
    CHECK(s.p == raw && s.len == a->len);
    free(out);
}

static int record(void *ud, const xmpp_event_t *ev)
{
    log_t *lg = ud;
    lg->total++;
    CHECK(ev->start <= ev->end && ev->end <= lg->len);
    const char *b = lg->in + ev->start;
    size_t len = (size_t)(ev->end - ev->start);
    switch (ev->kind) {
    case XMPP_EV_HEADER:
        CHECK(ev->header != NULL && ev->elem == NULL);
        CHECK(len >= 2 && b[0] == '<' && b[len - 1] == '>');
        break;
    case XMPP_EV_ELEMENT_START:
        CHECK(ev->elem != NULL && ev->header == NULL);
        CHECK(len >= 2 && b[0] == '<' && b[len - 1] == '>');
        CHECK(lg->open_start == UINT64_MAX);
        CHECK(ev->start >= lg->consumed);
        check_qname(b, len, ev->elem, 0);
        lg->open_start = ev->start;
        break;
    case XMPP_EV_ELEMENT:
        CHECK(ev->elem != NULL && ev->header == NULL);
        CHECK(len >= 2 && b[0] == '<' && b[len - 1] == '>');
        CHECK(ev->start == lg->open_start);
        CHECK(ev->start >= lg->consumed);
        check_qname(b, len, ev->elem, 1);
        lg->open_start = UINT64_MAX;
        break;
    case XMPP_EV_KEEPALIVE:
        CHECK(len > 0);
        for (size_t i = 0; i < len; i++)
            CHECK(is_ws(b[i]));
        break;
    case XMPP_EV_CLOSE:
        CHECK(len == 0 || (len >= 3 && b[0] == '<' && b[1] == '/' && b[len - 1] == '>'));
        break;
    }
    if (lg->n < MAX_EVENTS) {
        ev_t *e = &lg->ev[lg->n++];
        memset(e, 0, sizeof *e);
        e->kind = ev->kind;
        e->start = ev->start;
        e->end = ev->end;
        if (ev->elem) {
            const xmpp_elem_t *el = ev->elem;
            e->names = hash(hash(hash(14695981039346656037u, el->name), el->ns), el->prefix);
            const xmpp_attr_t *src[4] = {&el->to, &el->from, &el->type, &el->id};
            for (int k = 0; k < 4; k++) {
                check_attr(lg, ev, src[k], e, k);
                if (ev->kind == XMPP_EV_ELEMENT_START) {
                    lg->open_a[k] = e->a[k];
                } else {
                    CHECK(lg->open_a[k].present == e->a[k].present &&
                          lg->open_a[k].off == e->a[k].off && lg->open_a[k].len == e->a[k].len);
                }
            }
        }
        if (ev->header) {
            const xmpp_header_t *h = ev->header;
            const xmpp_attr_t *src[8] = {&h->to,   &h->from,  &h->id,           &h->version,
                                         &h->lang, &h->xmlns, &h->xmlns_stream, &h->xmlns_db};
            for (int k = 0; k < 8; k++)
                check_attr(lg, ev, src[k], e, k);
            e->ver_major = h->ver_major;
            e->ver_minor = h->ver_minor;
            e->legacy = h->legacy;
            CHECK(h->legacy == !h->version.present);
        }
    }
    return lg->stop_on_element && ev->kind == XMPP_EV_ELEMENT;
}

static int same_event(const ev_t *x, const ev_t *y)
{
    if (x->kind != y->kind || x->start != y->start || x->end != y->end || x->names != y->names ||
        x->ver_major != y->ver_major || x->ver_minor != y->ver_minor || x->legacy != y->legacy)
        return 0;
    for (int k = 0; k < 8; k++) {
        if (x->a[k].present != y->a[k].present || x->a[k].escaped != y->a[k].escaped ||
            x->a[k].off != y->a[k].off || x->a[k].len != y->a[k].len)
            return 0;
    }
    return 1;
}

/* Feeds in pieces ending at cuts[] (ascending, last = size) and finishes. */
static void feed(log_t *lg, const xmpp_reader_opts_t *o, const uint8_t *data, size_t size,
                 const size_t *cuts, size_t ncuts)
{
    lg->in = (const char *)data;
    lg->len = size;
    lg->n = lg->total = 0;
    lg->consumed = 0;
    lg->open_start = UINT64_MAX;
    lg->stop_on_element = 0;
    xmpp_reader_t *r = xmpp_reader_new(o, record, lg);
    CHECK(r != NULL);
    xmpp_err_t e = XMPP_E_NONE;
    size_t off = 0;
    for (size_t k = 0; k < ncuts && e == XMPP_E_NONE; k++) {
        if (cuts[k] <= off)
            continue;
        e = xmpp_reader_feed(r, (const char *)data + off, cuts[k] - off);
        off = cuts[k];
        uint64_t c = xmpp_reader_consumed_upto(r);
        if (e == XMPP_E_NONE) {
            CHECK(c >= lg->consumed && c <= xmpp_reader_offset(r));
            CHECK(xmpp_reader_offset(r) == off);
            lg->consumed = c;
        }
    }
    if (e == XMPP_E_NONE)
        e = xmpp_reader_finish(r);
    CHECK(e != XMPP_E_STOPPED && e != XMPP_E_FINISHED);
    CHECK(e == xmpp_reader_error(r));
    CHECK(xmpp_reader_state(r) == (e == XMPP_E_NONE ? XMPP_STATE_DONE : XMPP_STATE_ERROR));
    CHECK(xmpp_err_condition(e) != NULL || e == XMPP_E_NONE);
    if (e != XMPP_E_NONE) {
        CHECK(xmpp_reader_error_offset(r) <= size);
        CHECK(xmpp_reader_feed(r, "<", 1) == e);
        char buf[512];
        size_t n = xmpp_stream_error_render(e, "fuzz", buf, sizeof buf);
        CHECK(n > 0 && n <= sizeof buf);
    }
    lg->err = e;
    lg->err_off = xmpp_reader_error_offset(r);
    lg->err_by_expat = e != XMPP_E_NONE && xmpp_reader_error_detail(r) != xmpp_strerror(e);
    xmpp_reader_free(r);
}

static void compare(const log_t *a, const log_t *b)
{
    CHECK(a->total == b->total && a->n == b->n);
    /* Where expat finds the error, it may name another one (not-well-formed, both) or place
     * it a token away when the input is split differently: expat's tokenizer does that. */
    if (a->err_by_expat && b->err_by_expat) {
        CHECK(strcmp(xmpp_err_condition(a->err), xmpp_err_condition(b->err)) == 0);
    } else {
        CHECK(a->err == b->err);
        CHECK(a->err == XMPP_E_NONE || a->err_off == b->err_off);
    }
    for (size_t i = 0; i < a->n; i++)
        CHECK(same_event(&a->ev[i], &b->ev[i]));
}

static void read_all_ways(const xmpp_reader_opts_t *o, const uint8_t *data, size_t size)
{
    static size_t cuts[1 << 16];
    size_t n;

    cuts[0] = size;
    feed(&logs[0], o, data, size, cuts, 1);

    /* byte by byte (the last piece takes what is left of a very long input) */
    n = size < sizeof cuts / sizeof cuts[0] ? size : sizeof cuts / sizeof cuts[0];
    for (size_t i = 0; i < n; i++)
        cuts[i] = i + 1;
    if (n > 0) {
        cuts[n - 1] = size;
        feed(&logs[1], o, data, size, cuts, n);
        compare(&logs[0], &logs[1]);
    }

    /* two pieces, at a point the input chooses */
    if (size > 1) {
        cuts[0] = 1 + (data[size - 1] * 251u + data[0]) % (size - 1);
        cuts[1] = size;
        feed(&logs[1], o, data, size, cuts, 2);
        compare(&logs[0], &logs[1]);
    }

    /* irregular pieces */
    uint32_t x = 2463534242u ^ (uint32_t)size;
    size_t at = 0;
    n = 0;
    while (at < size && n < sizeof cuts / sizeof cuts[0] - 1) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        at += 1 + x % 97;
        cuts[n++] = at < size ? at : size;
    }
    cuts[n++] = size;
    feed(&logs[1], o, data, size, cuts, n);
    compare(&logs[0], &logs[1]);
}

/* Stop on the first element and read the rest of the bytes as a new stream. */
static void restart(const uint8_t *data, size_t size)
{
    log_t *lg = &logs[1];
    lg->in = (const char *)data;
    lg->len = size;
    lg->n = lg->total = 0;
    lg->consumed = 0;
    lg->open_start = UINT64_MAX;
    lg->stop_on_element = 1;
    xmpp_reader_t *r = xmpp_reader_new(NULL, record, lg);
    CHECK(r != NULL);
    size_t off = 0;
    int restarts = 0;
    while (off < size) {
        size_t n = size - off < 61 ? size - off : 61;
        xmpp_err_t e = xmpp_reader_feed(r, (const char *)data + off, n);
        if (e == XMPP_E_STOPPED) {
            uint64_t stop = xmpp_reader_offset(r);
            CHECK(stop > off && stop <= off + n);
            CHECK(xmpp_reader_reset(r) == 0);
            CHECK(xmpp_reader_offset(r) == stop);
            lg->open_start = UINT64_MAX;
            lg->consumed = stop;
            off = (size_t)stop;
            if (++restarts > 64)
                lg->stop_on_element = 0;
            continue;
        }
        if (e != XMPP_E_NONE)
            break;
        off += n;
        CHECK(xmpp_reader_offset(r) == off);
    }
    xmpp_reader_finish(r);
    xmpp_reader_free(r);
}

/* Replacing the parser after every stanza changes nothing a caller can see. */
static void recycling(const uint8_t *data, size_t size)
{
    static const xmpp_reader_opts_t never = {.recycle_bytes = SIZE_MAX};
    static const xmpp_reader_opts_t always = {.recycle_bytes = 1};
    size_t cut = size;
    feed(&logs[0], &never, data, size, &cut, 1);
    feed(&logs[1], &always, data, size, &cut, 1);
    compare(&logs[0], &logs[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const xmpp_reader_opts_t tiny = {.max_stanza = 200,
                                            .max_header = 300,
                                            .max_depth = 4,
                                            .max_attrs = 6,
                                            .max_attr_len = 40,
                                            .recycle_bytes = 64};
    read_all_ways(NULL, data, size);
    read_all_ways(&tiny, data, size);
    recycling(data, size);
    restart(data, size);
    return 0;
}
