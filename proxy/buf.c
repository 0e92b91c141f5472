/*
 * buf.c - the slab free list. One loop per process, so the list needs no lock; it keeps at most
 * FREE_MAX slabs so a burst does not pin memory for ever.
 */
#include <stdlib.h>

#include "buf.h"

#define FREE_MAX 1024

static edge_buf_t *free_list;
static size_t free_count;

edge_buf_t *edge_buf_get(size_t need)
{
    edge_buf_t *b;
    if (need <= EDGE_BUF_STD && free_list) {
        b = free_list;
        free_list = b->next_free;
        free_count--;
    } else {
        size_t cap = need <= EDGE_BUF_STD ? EDGE_BUF_STD : need;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->cap = (uint32_t)cap;
    }
    b->ref = 1;
    b->len = 0;
    b->next_free = NULL;
    return b;
}

void edge_buf_ref(edge_buf_t *b)
{
    b->ref++;
}

void edge_buf_unref(edge_buf_t *b)
{
    if (!b || --b->ref)
        return;
    if (b->cap == EDGE_BUF_STD && free_count < FREE_MAX) {
        b->next_free = free_list;
        free_list = b;
        free_count++;
    } else {
        free(b);
    }
}

void edge_buf_trim(void)
{
    while (free_list) {
        edge_buf_t *b = free_list;
        free_list = b->next_free;
        free(b);
    }
    free_count = 0;
}
