/*
 * test_sip_corpus.c - every SIP message of tests/corpus/sip/INDEX.tsv gets the action its row
 * states, through the same code as `edgeproxy --check-sip`; and every file gives the same
 * results when it arrives one byte per read (incremental framing with last_len) or split in
 * two at every offset, as a stream connection may deliver it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "corpus_util.h"
#include "check_sip.h"

#define MAX_ROWS    128
#define MAX_RESULTS 8

typedef struct {
    char path[256];
    char action[128];
    char note[2048];
} row_t;

typedef struct {
    edge_check_result_t r[MAX_RESULTS];
    size_t n;
    const char *path;
} results_t;

static size_t load_index(row_t *rows, size_t max)
{
    size_t len, n = 0;
    char *idx = corpus_read(EDGE_CORPUS_DIR "/sip/INDEX.tsv", &len, 0);
    assert_non_null(idx);
    idx[len] = '\0';
    char *save = NULL;
    int header = 1;
    for (char *line = strtok_r(idx, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[6];
        if (header) {
            header = 0;
            continue;
        }
        size_t nf = corpus_tsv_split(line, f, 6);
        assert_int_equal(nf, 6);
        assert_true(n < max);
        snprintf(rows[n].path, sizeof rows[n].path, "%s", f[0]);
        snprintf(rows[n].action, sizeof rows[n].action, "%s", f[4]);
        snprintf(rows[n].note, sizeof rows[n].note, "%s", f[5]);
        n++;
    }
    free(idx);
    return n;
}

static void collect(void *ud, const edge_check_result_t *r)
{
    results_t *res = ud;
    edge_check_print(stdout, res->path, r); /* r->msg is valid only now */
    if (res->n < MAX_RESULTS)
        res->r[res->n++] = *r;
}

/* Reads a corpus file; the archive quirk rows (baddn) ask for CRLF appended to end the headers. */
static char *load_message(const row_t *row, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/sip/%s", EDGE_CORPUS_DIR, row->path);
    char *buf = corpus_read(path, len, 2);
    if (buf && strstr(row->note, "must append CRLF")) {
        memcpy(buf + *len, "\r\n", 2);
        *len += 2;
    }
    return buf;
}

static int action_in(const char *got, const char *expected)
{
    char set[128];
    const char *list = strncmp(expected, "either:", 7) == 0 ? expected + 7 : expected;
    snprintf(set, sizeof set, "%s", list);
    char *save = NULL;
    for (char *a = strtok_r(set, "|", &save); a; a = strtok_r(NULL, "|", &save)) {
        if (strcmp(a, got) == 0)
            return 1;
    }
    return 0;
}

static void test_corpus_index(void **state)
{
    static row_t rows[MAX_ROWS];
    size_t nrows = load_index(rows, MAX_ROWS), failures = 0;
    (void)state;

    assert_true(nrows >= 70);
    for (size_t i = 0; i < nrows; i++) {
        size_t len;
        char *buf = load_message(&rows[i], &len);
        results_t res = {.path = rows[i].path};
        char act[24];
        int ok;

        assert_non_null(buf);
        edge_check_sip_buf(buf, len, &edge_check_default_opts, collect, &res);
        if (strcmp(rows[i].action, "dual") == 0) {
            /* the first message is handled, the bytes after it start the next one */
            ok =
                res.n >= 2 && strcmp(edge_check_action(&res.r[0], act, sizeof act), "forward") == 0;
        } else {
            ok = res.n == 1 &&
                 action_in(edge_check_action(&res.r[0], act, sizeof act), rows[i].action);
        }
        if (!ok) {
            failures++;
            fprintf(stderr, "MISMATCH %s: expected %s, got", rows[i].path, rows[i].action);
            for (size_t k = 0; k < res.n; k++)
                fprintf(stderr, " [%s %s]", edge_check_action(&res.r[k], act, sizeof act),
                        sip_err_name(res.r[k].verdict.err));
            fputc('\n', stderr);
        }
        free(buf);
    }
    assert_int_equal(failures, 0);
}

typedef struct {
    int rc;
    sip_msg_kind_t kind;
    sip_err_t err;
    size_t len;
    size_t nhdrs;
} step_t;

/* One-shot parse of every message of buf, as a connection with everything already read. */
static size_t oneshot(const char *buf, size_t len, step_t *steps, size_t max)
{
    sip_hdr_t hdrs[256];
    sip_msg_t msg;
    size_t off = 0, n = 0;
    sip_msg_init(&msg, hdrs, 256);
    while (off < len && n < max) {
        int rc = sip_parse(buf + off, len - off, &msg, 0);
        steps[n] = (step_t){rc, msg.kind, msg.err, rc > 0 ? (size_t)rc : msg.msg_len, msg.nhdrs};
        n++;
        if (rc > 0)
            off += (size_t)rc;
        else if (rc == SIP_ERROR && !sip_err_is_framing(msg.err) && msg.msg_len)
            off += msg.msg_len;
        else
            break;
    }
    return n;
}

/* The same stream arriving one byte per read, re-parsed after each read with last_len. */
static size_t trickle(const char *buf, size_t len, step_t *steps, size_t max)
{
    sip_hdr_t hdrs[256];
    sip_msg_t msg;
    size_t start = 0, have, last = 0, n = 0;
    sip_msg_init(&msg, hdrs, 256);
    for (have = 1; have <= len && n < max; have++) {
        int rc = sip_parse(buf + start, have - start, &msg, last);
        if (rc == SIP_INCOMPLETE) {
            last = have - start;
            continue;
        }
        steps[n] = (step_t){rc, msg.kind, msg.err, rc > 0 ? (size_t)rc : msg.msg_len, msg.nhdrs};
        n++;
        last = 0;
        if (rc > 0)
            start += (size_t)rc;
        else if (rc == SIP_ERROR && !sip_err_is_framing(msg.err) && msg.msg_len)
            start += msg.msg_len;
        else
            return n;
        have = start; /* the loop's increment reads the next byte */
    }
    if (start < len && n < max) {
        /* input ended inside a message: same as the one-shot parse of the remainder */
        int rc = sip_parse(buf + start, len - start, &msg, 0);
        steps[n++] = (step_t){rc, msg.kind, msg.err, rc > 0 ? (size_t)rc : msg.msg_len, msg.nhdrs};
    }
    return n;
}

static void assert_same_steps(const char *what, const char *path, const step_t *a, size_t na,
                              const step_t *b, size_t nb)
{
    if (na != nb)
        fail_msg("%s: %s: %zu messages one-shot, %zu split", path, what, na, nb);
    for (size_t i = 0; i < na; i++) {
        if (a[i].rc != b[i].rc || a[i].kind != b[i].kind || a[i].err != b[i].err ||
            a[i].len != b[i].len || a[i].nhdrs != b[i].nhdrs)
            fail_msg("%s: %s: message %zu differs: rc %d/%d kind %d/%d err %s/%s len %zu/%zu "
                     "headers %zu/%zu",
                     path, what, i, a[i].rc, b[i].rc, a[i].kind, b[i].kind, sip_err_name(a[i].err),
                     sip_err_name(b[i].err), a[i].len, b[i].len, a[i].nhdrs, b[i].nhdrs);
    }
}

static void test_corpus_incremental(void **state)
{
    static row_t rows[MAX_ROWS];
    size_t nrows = load_index(rows, MAX_ROWS);
    (void)state;

    for (size_t i = 0; i < nrows; i++) {
        size_t len;
        char *buf = load_message(&rows[i], &len);
        step_t one[8], tr[8];
        assert_non_null(buf);
        size_t n1 = oneshot(buf, len, one, 8);
        size_t n2 = trickle(buf, len, tr, 8);
        assert_same_steps("byte by byte", rows[i].path, one, n1, tr, n2);
        free(buf);
    }
}

/* Split in two at every offset: the first part alone is incomplete unless a message ends in it. */
static void test_corpus_split_points(void **state)
{
    static row_t rows[MAX_ROWS];
    size_t nrows = load_index(rows, MAX_ROWS);
    sip_hdr_t hdrs[256];
    sip_msg_t msg;
    (void)state;

    sip_msg_init(&msg, hdrs, 256);
    for (size_t i = 0; i < nrows; i++) {
        size_t len;
        char *buf = load_message(&rows[i], &len);
        assert_non_null(buf);
        int whole = sip_parse(buf, len, &msg, 0);
        size_t first_len = whole > 0 ? (size_t)whole : msg.msg_len;
        sip_err_t whole_err = msg.err;
        for (size_t k = 1; k < len; k++) {
            int rc = sip_parse(buf, k, &msg, 0);
            if (whole > 0 && k < first_len && rc != SIP_INCOMPLETE)
                fail_msg("%s: prefix of %zu bytes gave %d before the message ends at %zu",
                         rows[i].path, k, rc, first_len);
            if (rc == SIP_INCOMPLETE) {
                rc = sip_parse(buf, len, &msg, k);
                if (rc != whole || msg.err != whole_err)
                    fail_msg("%s: resumed after %zu bytes: %d (%s), one-shot %d (%s)", rows[i].path,
                             k, rc, sip_err_name(msg.err), whole, sip_err_name(whole_err));
            }
        }
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_index),
        cmocka_unit_test(test_corpus_incremental),
        cmocka_unit_test(test_corpus_split_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
