/*
 * sip_test_util.h - helpers shared by the SIP parser unit tests: comparing a sip_slice_t with a
 * C string (with a readable, escaped failure message), copying test bytes into heap buffers of
 * exactly the right size so that AddressSanitizer catches any read past the end of a message or
 * a slice (a string literal would hide it behind its NUL terminator), and parsing a whole buffer
 * with a fresh sip_msg_t. Everything is static inline so each test file includes it on its own.
 */
#ifndef EDGE_SIP_TEST_UTIL_H
#define EDGE_SIP_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sip.h"

/* A string literal as (pointer, length) arguments; the literal may hold NUL bytes. */
#define LIT(s) (s), (sizeof(s) - 1)

/* Whether slice s holds exactly the bytes of the C string want. */
static inline int slice_eq(sip_slice_t s, const char *want)
{
    size_t n = strlen(want);
    if (s.len != n) {
        return 0;
    }
    return n == 0 || (s.p != NULL && memcmp(s.p, want, n) == 0);
}

/* Whether slice s holds exactly the n bytes at want (NUL bytes allowed). */
static inline int slice_eq_mem(sip_slice_t s, const void *want, size_t n)
{
    if (s.len != n) {
        return 0;
    }
    return n == 0 || (s.p != NULL && memcmp(s.p, want, n) == 0);
}

/* Write p[0..n) into out (size cap) with control and non-ASCII bytes escaped. */
static inline void test_escape(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && p != NULL && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\r') {
            out[o++] = '\\';
            out[o++] = 'r';
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c < 0x20 || c >= 0x7f || c == '\\') {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

static inline void assert_slice_mem_at(sip_slice_t s, const void *want, size_t n, const char *file,
                                       int line)
{
    if (!slice_eq_mem(s, want, n)) {
        char got_s[512], want_s[512];
        test_escape(s.p, s.len, got_s, sizeof(got_s));
        test_escape(want, n, want_s, sizeof(want_s));
        print_error("slice \"%s\" (len %zu) != expected \"%s\" (len %zu)\n", got_s, s.len, want_s,
                    n);
        _fail(file, line);
    }
}

/* Fail the test unless slice s equals the C string want. */
#define assert_slice(s, want) assert_slice_mem_at((s), (want), strlen(want), __FILE__, __LINE__)
/* Same for a string literal that may contain NUL bytes. */
#define assert_slice_lit(s, lit)                                                                   \
    assert_slice_mem_at((s), (lit), sizeof(lit) - 1, __FILE__, __LINE__)

/* ---------------------------------------------------------------- heap copies */

/*
 * Every heap copy made by a test is remembered here and released by heap_release() (the group
 * teardown), so tests can take slices of copies without bookkeeping.
 */
#define TEST_HEAP_MAX 8192

typedef struct {
    void *slots[TEST_HEAP_MAX];
    size_t count;
} test_heap_t;

static inline test_heap_t *test_heap(void)
{
    static test_heap_t heap;
    return &heap;
}

/* A heap copy of p[0..n) of exactly n bytes (1 if n is 0), freed by heap_release(). */
static inline char *heap_copy(const void *p, size_t n)
{
    test_heap_t *h = test_heap();
    char *b = malloc(n ? n : 1);
    assert_non_null(b);
    if (n) {
        memcpy(b, p, n);
    }
    if (h->count == TEST_HEAP_MAX) {
        free(h->slots[0]); /* cannot happen in these tests; keep memory bounded anyway */
        memmove(h->slots, h->slots + 1, (TEST_HEAP_MAX - 1) * sizeof(void *));
        h->count--;
    }
    h->slots[h->count++] = b;
    return b;
}

static inline int heap_release(void **state)
{
    test_heap_t *h = test_heap();
    (void)state;
    for (size_t i = 0; i < h->count; i++) {
        free(h->slots[i]);
    }
    h->count = 0;
    return 0;
}

/* A slice of an exact-size heap copy of the C string s. */
static inline sip_slice_t hs(const char *s)
{
    size_t n = strlen(s);
    return (sip_slice_t){heap_copy(s, n), n};
}

/* A slice of an exact-size heap copy of a string literal (NUL bytes allowed). */
#define HS_LIT(lit) ((sip_slice_t){heap_copy((lit), sizeof(lit) - 1), sizeof(lit) - 1})

/* ---------------------------------------------------------------- parsing */

#define TEST_HDRS_CAP 128

/* A parsed message with its own header array and an exact-size heap copy of its bytes. */
typedef struct {
    const char *buf;
    size_t len;
    sip_msg_t msg;
    sip_hdr_t hdrs[TEST_HDRS_CAP];
    int rc;
} tmsg_t;

/* Copy p[0..n) to the heap, init t->msg with hdrs_cap (0: TEST_HDRS_CAP) and parse it once. */
static inline int tmsg_parse_cap(tmsg_t *t, const void *p, size_t n, size_t hdrs_cap)
{
    t->buf = heap_copy(p, n);
    t->len = n;
    sip_msg_init(&t->msg, t->hdrs, hdrs_cap ? hdrs_cap : TEST_HDRS_CAP);
    t->rc = sip_parse(t->buf, t->len, &t->msg, 0);
    return t->rc;
}

static inline int tmsg_parse(tmsg_t *t, const void *p, size_t n)
{
    return tmsg_parse_cap(t, p, n, 0);
}

/* Parse a string literal message into t. */
#define TPARSE(t, lit) tmsg_parse((t), (lit), sizeof(lit) - 1)

/* Header i of a parsed message, with bounds checking. */
static inline const sip_hdr_t *tmsg_hdr(const tmsg_t *t, size_t i)
{
    assert_true(i < t->msg.nhdrs);
    return &t->msg.hdrs[i];
}

#endif
