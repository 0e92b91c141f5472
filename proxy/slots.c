/*
 * slots.c - the (slot, generation) table shared by connections and transactions.
 */
#include <stdlib.h>

#include "slots.h"

int edge_slots_add(edge_slots_t *t, void *item, size_t initial, uint32_t *slot, uint32_t *gen)
{
    if (t->nfree == 0) {
        size_t ncap = t->cap ? t->cap * 2 : initial;
        void **ni = realloc(t->items, ncap * sizeof *ni);
        if (!ni)
            return -1;
        t->items = ni;
        uint32_t *ng = realloc(t->gens, ncap * sizeof *ng);
        if (!ng)
            return -1;
        t->gens = ng;
        uint32_t *nf = realloc(t->free, ncap * sizeof *nf);
        if (!nf)
            return -1;
        t->free = nf;
        for (size_t i = ncap; i > t->cap; i--) {
            t->items[i - 1] = NULL;
            t->gens[i - 1] = 1;
            t->free[t->nfree++] = (uint32_t)(i - 1);
        }
        t->cap = ncap;
    }
    *slot = t->free[--t->nfree];
    *gen = t->gens[*slot];
    t->items[*slot] = item;
    t->count++;
    return 0;
}

void *edge_slots_get(const edge_slots_t *t, uint32_t slot, uint32_t gen)
{
    if (slot >= t->cap || t->gens[slot] != gen)
        return NULL;
    return t->items[slot];
}

void edge_slots_remove(edge_slots_t *t, uint32_t slot)
{
    t->items[slot] = NULL;
    t->gens[slot]++;
    t->free[t->nfree++] = slot;
    t->count--;
}

void edge_slots_release(edge_slots_t *t)
{
    free(t->items);
    free(t->gens);
    free(t->free);
    t->items = NULL;
    t->gens = t->free = NULL;
    t->nfree = t->cap = t->count = 0;
}
