/*
 * slots.h - a table of objects named by (slot, generation): connections (the flow a token
 * names) and transactions (what our Via branch names). A slot is reused after its object goes,
 * with its generation bumped, so a stale name never finds the new occupant. Lookups are one
 * array access; the table grows by doubling.
 */
#ifndef EDGE_SLOTS_H
#define EDGE_SLOTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    void **items;
    uint32_t *gens;
    uint32_t *free; /* stack of free slots */
    size_t nfree, cap, count;
} edge_slots_t;

/* Store item in a free slot (growing the table from 'initial' entries); 0 or -1 (no memory). */
int edge_slots_add(edge_slots_t *t, void *item, size_t initial, uint32_t *slot, uint32_t *gen);
/* The item named by (slot, gen), or NULL when that name is stale or out of range. */
void *edge_slots_get(const edge_slots_t *t, uint32_t slot, uint32_t gen);
/* Free a slot: its generation moves on. */
void edge_slots_remove(edge_slots_t *t, uint32_t slot);
/* The item in slot i whatever its generation (iteration: i < t->cap), NULL if free. */
static inline void *edge_slots_at(const edge_slots_t *t, size_t i)
{
    return t->items[i];
}
void edge_slots_release(edge_slots_t *t);

#endif
