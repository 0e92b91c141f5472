/*
 * xmpp_test_util.h - what the XMPP reader tests share: a recorder that copies every event (so
 * runs can be compared after the fact) and checks the reader's promises as they happen (ranges
 * inside the input, elements starting with '<' and ending with '>', raw attribute bytes equal
 * to the input, consumed_upto never passing an element not yet reported), and drivers that feed
 * the same input in different splits.
 */
#ifndef EDGE_XMPP_TEST_UTIL_H
#define EDGE_XMPP_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmpp.h"

#define XT_MAX_EVENTS 1200
#define XT_NAME       64

typedef struct {
    xmpp_event_kind_t kind;
    uint64_t start, end;
    char name[XT_NAME], ns[XT_NAME], prefix[XT_NAME];
    /* element: to from type id; header: to from id version lang xmlns xmlns_stream xmlns_db */
    xmpp_attr_t a[8];
    unsigned ver_major, ver_minor;
    int legacy;
} xt_event_t;

typedef struct {
    const char *in; /* the whole input, for the checks */
    size_t in_len;
    xt_event_t ev[XT_MAX_EVENTS];
    size_t n;          /* events recorded (at most XT_MAX_EVENTS) */
    size_t total;      /* events delivered */
    long stop_after;   /* stop the reader after this many events; -1 never */
    uint64_t consumed; /* highest consumed_upto seen after a feed */
    int broken;        /* a promise was broken; broken_why says which */
    char broken_why[160];
    xmpp_err_t feed_err; /* first result of feed other than NONE */
    xmpp_err_t err;      /* final result (finish, or the feed error) */
    uint64_t err_off;
    int err_by_expat; /* expat found it: its position may move by a token with the split */
    xmpp_reader_state_t state_at_eof; /* state before finish */
    uint64_t recycles;                /* parsers the reader replaced */
    size_t feeds;
} xt_run_t;

static inline void xt_break(xt_run_t *run, const char *why, uint64_t a, uint64_t b)
{
    if (!run->broken)
        snprintf(run->broken_why, sizeof run->broken_why, "%s (%llu, %llu)", why,
                 (unsigned long long)a, (unsigned long long)b);
    run->broken = 1;
}

static inline void xt_copy(char *dst, xmpp_slice_t s)
{
    snprintf(dst, XT_NAME, "%.*s", (int)s.len, s.p ? s.p : "");
}

/* An attribute's raw bytes must be the input's bytes at its offset, inside the event. */
static inline void xt_attr(xt_run_t *run, const xmpp_event_t *ev, const xmpp_attr_t *a,
                           xmpp_attr_t *dst)
{
    /* Field by field: the recorded copy is compared with memcmp-free xt_event_eq. */
    dst->p = NULL;
    dst->off = a->off;
    dst->len = a->len;
    dst->present = a->present;
    dst->escaped = a->escaped;
    if (!a->present)
        return;
    if (a->off < ev->start || a->off + a->len > ev->end)
        xt_break(run, "attribute outside its event", a->off, ev->start);
    else if (ev->kind == XMPP_EV_ELEMENT && a->p != NULL)
        xt_break(run, "attribute pointer in an ELEMENT event", a->off, 0);
    else if (ev->kind != XMPP_EV_ELEMENT &&
             (a->p == NULL || memcmp(a->p, run->in + a->off, a->len) != 0))
        xt_break(run, "attribute bytes differ from the input", a->off, a->len);
}

static inline int xt_record(void *ud, const xmpp_event_t *ev)
{
    xt_run_t *run = ud;
    run->total++;
    if (ev->start > ev->end || ev->end > run->in_len) {
        xt_break(run, "range outside the input", ev->start, ev->end);
    } else if (ev->kind == XMPP_EV_HEADER || ev->kind == XMPP_EV_ELEMENT ||
               ev->kind == XMPP_EV_ELEMENT_START ||
               (ev->kind == XMPP_EV_CLOSE && ev->end > ev->start)) {
        if (ev->end - ev->start < 2 || run->in[ev->start] != '<' || run->in[ev->end - 1] != '>')
            xt_break(run, "markup range not <...>", ev->start, ev->end);
    } else if (ev->kind == XMPP_EV_KEEPALIVE) {
        for (uint64_t i = ev->start; i < ev->end; i++) {
            char c = run->in[i];
            if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
                xt_break(run, "keepalive byte is not whitespace", i, (unsigned char)c);
        }
        if (ev->end == ev->start)
            xt_break(run, "empty keepalive", ev->start, ev->end);
    }
    if (ev->kind == XMPP_EV_ELEMENT && ev->start < run->consumed)
        xt_break(run, "element starts before consumed_upto", ev->start, run->consumed);
    if (run->n < XT_MAX_EVENTS) {
        xt_event_t *e = &run->ev[run->n++];
        memset(e, 0, sizeof *e);
        e->kind = ev->kind;
        e->start = ev->start;
        e->end = ev->end;
        if (ev->elem) {
            xt_copy(e->name, ev->elem->name);
            xt_copy(e->ns, ev->elem->ns);
            xt_copy(e->prefix, ev->elem->prefix);
            xt_attr(run, ev, &ev->elem->to, &e->a[0]);
            xt_attr(run, ev, &ev->elem->from, &e->a[1]);
            xt_attr(run, ev, &ev->elem->type, &e->a[2]);
            xt_attr(run, ev, &ev->elem->id, &e->a[3]);
        }
        if (ev->header) {
            const xmpp_header_t *h = ev->header;
            const xmpp_attr_t *src[8] = {&h->to,   &h->from,  &h->id,           &h->version,
                                         &h->lang, &h->xmlns, &h->xmlns_stream, &h->xmlns_db};
            for (int k = 0; k < 8; k++)
                xt_attr(run, ev, src[k], &e->a[k]);
            e->ver_major = h->ver_major;
            e->ver_minor = h->ver_minor;
            e->legacy = h->legacy;
        }
    }
    return run->stop_after >= 0 && run->total >= (size_t)run->stop_after;
}

static inline void xt_init(xt_run_t *run, const char *in, size_t len)
{
    memset(run, 0, sizeof *run);
    run->in = in;
    run->in_len = len;
    run->stop_after = -1;
}

/* After every feed: consumed_upto only moves forward and never passes the bytes taken. */
static inline void xt_after_feed(xt_run_t *run, const xmpp_reader_t *r, xmpp_err_t e)
{
    uint64_t c = xmpp_reader_consumed_upto(r);
    run->feeds++;
    if (e == XMPP_E_NONE || e == XMPP_E_STOPPED) {
        if (c < run->consumed)
            xt_break(run, "consumed_upto went back", c, run->consumed);
        if (c > xmpp_reader_offset(r))
            xt_break(run, "consumed_upto beyond the bytes taken", c, xmpp_reader_offset(r));
        if (c > run->consumed)
            run->consumed = c;
    }
    if (e != XMPP_E_NONE && run->feed_err == XMPP_E_NONE)
        run->feed_err = e;
}

/*
 * Feeds input[0, len) to a new reader in pieces: cuts[] lists the piece ends (ascending, the
 * last one len), or step > 0 gives pieces of step bytes. Then finish. Returns the reader's
 * final error; the run holds everything else.
 */
static inline xmpp_err_t xt_run(xt_run_t *run, const xmpp_reader_opts_t *opts, const char *in,
                                size_t len, size_t step, const size_t *cuts, size_t ncuts)
{
    long stop = run->stop_after;
    xt_init(run, in, len);
    run->stop_after = stop;
    xmpp_reader_t *r = xmpp_reader_new(opts, xt_record, run);
    if (r == NULL) {
        xt_break(run, "xmpp_reader_new failed", 0, 0);
        return XMPP_E_NOMEM;
    }
    size_t off = 0, k = 0;
    xmpp_err_t e = XMPP_E_NONE;
    while (off < len && e == XMPP_E_NONE) {
        size_t end = step ? (len - off < step ? len : off + step) : (k < ncuts ? cuts[k++] : len);
        if (end <= off)
            continue;
        e = xmpp_reader_feed(r, in + off, end - off);
        xt_after_feed(run, r, e);
        off = end;
    }
    run->state_at_eof = xmpp_reader_state(r);
    run->err = e == XMPP_E_NONE ? xmpp_reader_finish(r) : e;
    if (run->err == XMPP_E_NONE && xmpp_reader_state(r) != XMPP_STATE_DONE)
        xt_break(run, "finish left the reader not DONE", xmpp_reader_state(r), 0);
    run->err_off = xmpp_reader_error_offset(r);
    run->recycles = xmpp_reader_stats(r)->recycles;
    run->err_by_expat =
        run->err != XMPP_E_NONE && xmpp_reader_error_detail(r) != xmpp_strerror(run->err);
    xmpp_reader_free(r);
    return run->err;
}

static inline xmpp_err_t xt_oneshot(xt_run_t *run, const xmpp_reader_opts_t *opts, const char *in,
                                    size_t len)
{
    return xt_run(run, opts, in, len, 0, NULL, 0);
}

static inline int xt_event_eq(const xt_event_t *a, const xt_event_t *b)
{
    if (a->kind != b->kind || a->start != b->start || a->end != b->end ||
        strcmp(a->name, b->name) != 0 || strcmp(a->ns, b->ns) != 0 ||
        strcmp(a->prefix, b->prefix) != 0 || a->ver_major != b->ver_major ||
        a->ver_minor != b->ver_minor || a->legacy != b->legacy)
        return 0;
    for (int k = 0; k < 8; k++) {
        const xmpp_attr_t *x = &a->a[k], *y = &b->a[k];
        if (x->present != y->present || x->escaped != y->escaped || x->off != y->off ||
            x->len != y->len)
            return 0;
    }
    return 1;
}

/* Empty when a and b saw the same events, error and error offset; else what differs. */
static inline const char *xt_diff(const xt_run_t *a, const xt_run_t *b, char *why, size_t cap)
{
    why[0] = '\0';
    if (a->total != b->total || a->n != b->n) {
        snprintf(why, cap, "%zu events vs %zu", a->total, b->total);
    } else if (a->err != b->err) {
        snprintf(why, cap, "error %s vs %s", xmpp_err_name(a->err), xmpp_err_name(b->err));
    } else if (a->err != XMPP_E_NONE && !(a->err_by_expat && b->err_by_expat) &&
               a->err_off != b->err_off) {
        snprintf(why, cap, "error offset %llu vs %llu", (unsigned long long)a->err_off,
                 (unsigned long long)b->err_off);
    } else {
        for (size_t i = 0; i < a->n; i++) {
            if (!xt_event_eq(&a->ev[i], &b->ev[i])) {
                snprintf(why, cap, "event %zu differs (kind %d/%d, [%llu,%llu) vs [%llu,%llu))", i,
                         a->ev[i].kind, b->ev[i].kind, (unsigned long long)a->ev[i].start,
                         (unsigned long long)a->ev[i].end, (unsigned long long)b->ev[i].start,
                         (unsigned long long)b->ev[i].end);
                break;
            }
        }
    }
    return why;
}

/* The n-th recorded event of a kind (0-based), or NULL. */
static inline const xt_event_t *xt_find(const xt_run_t *run, xmpp_event_kind_t kind, size_t nth)
{
    for (size_t i = 0; i < run->n; i++) {
        if (run->ev[i].kind == kind && nth-- == 0)
            return &run->ev[i];
    }
    return NULL;
}

/* Whether an attribute's raw value in the run's input equals s. */
static inline int xt_attr_is(const xt_run_t *run, const xmpp_attr_t *a, const char *s)
{
    return a->present && a->len == strlen(s) && memcmp(run->in + a->off, s, a->len) == 0;
}

static inline size_t xt_count(const xt_run_t *run, xmpp_event_kind_t kind)
{
    size_t n = 0;
    for (size_t i = 0; i < run->n; i++)
        n += run->ev[i].kind == kind;
    return n;
}

#endif
