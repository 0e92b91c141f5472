/*
 * authguard.c - an open-addressing table of 64-bit key hashes with failure counts. Lookups probe
 * a few slots; a new key takes an empty slot or evicts the least recently failed unlocked entry
 * among them, so a flood of distinct keys cannot grow memory or unlock a locked key.
 */
#include <stdlib.h>
#include <string.h>

#include "authguard.h"

#define PROBES 8

typedef struct {
    uint64_t hash; /* 0: empty */
    uint64_t window_start, last_fail, locked_until;
    uint32_t count;
} entry_t;

struct edge_authguard {
    uint32_t limit, window_ms, lockout_ms;
    size_t mask;
    entry_t *t;
};

static uint64_t hash_key(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1;
}

edge_authguard_t *edge_authguard_new(uint32_t limit, uint32_t window_ms, uint32_t lockout_ms,
                                     size_t capacity)
{
    size_t n = 64;
    while (n < capacity)
        n <<= 1;
    edge_authguard_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->t = calloc(n, sizeof *g->t);
    if (!g->t) {
        free(g);
        return NULL;
    }
    g->mask = n - 1;
    g->limit = limit;
    g->window_ms = window_ms;
    g->lockout_ms = lockout_ms;
    return g;
}

void edge_authguard_free(edge_authguard_t *g)
{
    if (g) {
        free(g->t);
        free(g);
    }
}

static entry_t *find(const edge_authguard_t *g, uint64_t h)
{
    for (size_t i = 0; i < PROBES; i++) {
        entry_t *e = &g->t[(h + i) & g->mask];
        if (e->hash == h)
            return e;
    }
    return NULL;
}

int edge_authguard_locked(const edge_authguard_t *g, const char *key, size_t len, uint64_t now_ms)
{
    const entry_t *e = find(g, hash_key(key, len));
    return e && e->locked_until > now_ms;
}

int edge_authguard_fail(edge_authguard_t *g, const char *key, size_t len, uint64_t now_ms)
{
    uint64_t h = hash_key(key, len);
    entry_t *e = find(g, h);
    if (!e) {
        entry_t *victim = NULL;
        for (size_t i = 0; i < PROBES; i++) {
            entry_t *c = &g->t[(h + i) & g->mask];
            if (c->hash == 0) {
                victim = c;
                break;
            }
            if (c->locked_until > now_ms)
                continue; /* a running lockout is never evicted */
            if (!victim || c->last_fail < victim->last_fail)
                victim = c;
        }
        if (!victim)
            return 0; /* every candidate is locked: nothing to count into */
        memset(victim, 0, sizeof *victim);
        victim->hash = h;
        victim->window_start = now_ms;
        e = victim;
    }
    if (now_ms - e->window_start > g->window_ms) {
        e->window_start = now_ms;
        e->count = 0;
    }
    e->last_fail = now_ms;
    if (e->locked_until > now_ms)
        return 0;
    if (++e->count >= g->limit) {
        e->locked_until = now_ms + g->lockout_ms;
        e->count = 0;
        e->window_start = now_ms;
        return 1;
    }
    return 0;
}

void edge_authguard_success(edge_authguard_t *g, const char *key, size_t len)
{
    entry_t *e = find(g, hash_key(key, len));
    if (e)
        e->count = 0;
}
