/*
 * buf.h - receive buffers: refcounted slabs a connection reads into and a transaction keeps a
 * reference to, so a request can be resent to another pool member without being copied. A
 * connection holds a buffer only while bytes are pending; standard-size slabs go back to a free
 * list, so an idle connection costs no buffer at all (DESIGN.md 7).
 */
#ifndef EDGE_BUF_H
#define EDGE_BUF_H

#include <stddef.h>
#include <stdint.h>

#define EDGE_BUF_STD (16 * 1024)

typedef struct edge_buf {
    uint32_t ref;
    uint32_t cap; /* bytes in data */
    uint32_t len; /* bytes filled */
    struct edge_buf *next_free;
    char data[];
} edge_buf_t;

/* A buffer with room for at least 'need' bytes (standard slabs come from the free list), ref 1. */
edge_buf_t *edge_buf_get(size_t need);
void edge_buf_ref(edge_buf_t *b);
void edge_buf_unref(edge_buf_t *b);
/* Release the free list (at exit, for the leak checker). */
void edge_buf_trim(void);

#endif
