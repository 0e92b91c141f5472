/*
 * sip_parse_bench.c - throughput of the sip/ parser against libosip2 on the hand-made sample
 * messages. It measures what a proxy pays per message on each side: for sip/ the framing and
 * header index plus the lazy sub-parsers a relay always runs (top Via, CSeq, From, To,
 * Call-ID); for libosip2 a full osip_message_parse, which builds its tree eagerly, together
 * with the init and free that parsing requires. Build it in Release for meaningful figures.
 *
 * Usage: sip_parse_bench [--quick] [--seconds=S] [samples-dir]
 * The last line of output is machine-readable:
 *   sip_parse: <N> msg/s, libosip2: <M> msg/s, ratio: <R>x
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <osipparser2/osip_parser.h>

#include "osip_ref.h"
#include "sip.h"

#ifndef EDGE_CORPUS_DIR
#error "EDGE_CORPUS_DIR must name the tests/corpus directory"
#endif

#define MAX_MSGS 256
#define MAX_HDRS 128

typedef struct {
    char *buf;
    size_t len;
    char name[256];
} sample_t;

static sample_t samples[MAX_MSGS];
static size_t nsamples;

/* Every result is folded in here so the compiler cannot drop the work being timed. */
static volatile uint64_t sink;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const sample_t *)a)->name, ((const sample_t *)b)->name);
}

static int load_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        perror(dir);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL && nsamples < MAX_MSGS) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        sample_t *s = &samples[nsamples];
        s->buf = malloc(SIP_DEFAULT_MAX_SIZE);
        s->len = s->buf ? fread(s->buf, 1, SIP_DEFAULT_MAX_SIZE, f) : 0;
        fclose(f);
        if (s->len == 0) {
            free(s->buf);
            continue;
        }
        snprintf(s->name, sizeof s->name, "%s", e->d_name);
        nsamples++;
    }
    closedir(d);
    /* readdir order is arbitrary; a fixed order keeps runs comparable. */
    qsort(samples, nsamples, sizeof samples[0], by_name);
    return 0;
}

/*
 * One message the way the relay handles it: frame, index, then the always-needed sub-parses.
 * A connection initialises its sip_msg_t once and sip_parse resets it for every message, so
 * the benchmark does the same.
 */
static uint64_t ours_one(const sample_t *s, sip_msg_t *msg)
{
    int rc = sip_parse(s->buf, s->len, msg, 0);
    if (rc <= 0)
        return 0;
    uint64_t acc = (uint64_t)rc + msg->nhdrs;

    sip_via_t via;
    if (sip_msg_top_via(msg, &via) == 0)
        acc += via.branch.len + (uint64_t)via.sent_by.port;

    const sip_hdr_t *h = sip_msg_header_find(msg, SIP_HDR_CSEQ);
    sip_cseq_t cseq;
    if (h && sip_cseq_parse(h->value, &cseq) == 0)
        acc += cseq.number + (uint64_t)cseq.method_id;

    sip_naddr_t na;
    h = sip_msg_header_find(msg, SIP_HDR_FROM);
    if (h && sip_naddr_parse(h->value, &na) == 0)
        acc += na.tag.len + na.uri.len;
    h = sip_msg_header_find(msg, SIP_HDR_TO);
    if (h && sip_naddr_parse(h->value, &na) == 0)
        acc += na.tag.len + na.uri.len;

    h = sip_msg_header_find(msg, SIP_HDR_CALL_ID);
    if (h && sip_call_id_check(h->value) == 0)
        acc += h->value.len;
    return acc;
}

static uint64_t osip_one(const sample_t *s)
{
    osip_message_t *m = NULL;
    if (osip_message_init(&m) != 0)
        return 0;
    uint64_t acc = 0;
    if (osip_message_parse(m, s->buf, s->len) == 0)
        acc = (uint64_t)osip_list_size(&m->vias) + (m->cseq != NULL) + (uint64_t)m->status_code;
    osip_message_free(m);
    return acc;
}

typedef struct {
    uint64_t msgs;
    double secs;
} result_t;

/*
 * Run whole passes over the samples until 'seconds' have elapsed. The clock is read once per
 * pass (a handful of messages), so its cost is amortised and the loop stays tight.
 */
static result_t run_ours(double seconds)
{
    static sip_hdr_t hdrs[MAX_HDRS];
    sip_msg_t msg;
    result_t r = {0, 0};
    uint64_t acc = 0;
    double t0 = now_s(), t;
    sip_msg_init(&msg, hdrs, MAX_HDRS);
    do {
        for (size_t i = 0; i < nsamples; i++)
            acc += ours_one(&samples[i], &msg);
        r.msgs += nsamples;
        t = now_s();
    } while (t - t0 < seconds);
    r.secs = t - t0;
    sink += acc;
    return r;
}

static result_t run_osip(double seconds)
{
    result_t r = {0, 0};
    uint64_t acc = 0;
    double t0 = now_s(), t;
    do {
        for (size_t i = 0; i < nsamples; i++)
            acc += osip_one(&samples[i]);
        r.msgs += nsamples;
        t = now_s();
    } while (t - t0 < seconds);
    r.secs = t - t0;
    sink += acc;
    return r;
}

static void report(const char *who, result_t r)
{
    printf("%-10s %10llu msgs in %.3f s: %12.0f msg/s, %8.1f ns/msg\n", who,
           (unsigned long long)r.msgs, r.secs, (double)r.msgs / r.secs,
           r.secs * 1e9 / (double)r.msgs);
}

int main(int argc, char **argv)
{
    double seconds = 2.0;
    const char *dir = EDGE_CORPUS_DIR "/sip/samples";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            seconds = 0.05;
        else if (strncmp(argv[i], "--seconds=", 10) == 0)
            seconds = atof(argv[i] + 10);
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [--quick] [--seconds=S] [samples-dir]\n", argv[0]);
            return 2;
        } else
            dir = argv[i];
    }
    if (!(seconds > 0))
        seconds = 2.0;

    if (osip_ref_init() != 0) {
        fprintf(stderr, "parser_init failed\n");
        return 1;
    }
    if (load_dir(dir) != 0 || nsamples == 0) {
        fprintf(stderr, "no sample messages in %s\n", dir);
        return 1;
    }

    /* Both sides must accept every sample, or the comparison would time error paths. */
    static sip_hdr_t hdrs[MAX_HDRS];
    int bad = 0;
    for (size_t i = 0; i < nsamples; i++) {
        sip_msg_t msg;
        sip_msg_init(&msg, hdrs, MAX_HDRS);
        if (sip_parse(samples[i].buf, samples[i].len, &msg, 0) <= 0) {
            fprintf(stderr, "sip_parse rejects %s (%s)\n", samples[i].name, sip_err_name(msg.err));
            bad = 1;
        }
        if (osip_one(&samples[i]) == 0) {
            fprintf(stderr, "libosip2 rejects %s\n", samples[i].name);
            bad = 1;
        }
    }
    if (bad)
        return 1;

    printf("%zu messages from %s, %.2f s per side\n", nsamples, dir, seconds);
    /* Warm caches, branch predictors and the allocator before timing either side. */
    run_ours(seconds / 10);
    run_osip(seconds / 10);

    result_t ours = run_ours(seconds);
    result_t theirs = run_osip(seconds);
    report("sip_parse", ours);
    report("libosip2", theirs);

    double n = (double)ours.msgs / ours.secs;
    double m = (double)theirs.msgs / theirs.secs;
    printf("sip_parse: %.0f msg/s, libosip2: %.0f msg/s, ratio: %.1fx\n", n, m, n / m);
    return 0;
}
