/*
 * authguard.h - brute-force protection: failed authentications (a 401/407 answered to a request
 * that carried credentials) are counted per key (a user, a real source address) over a sliding
 * window; past the limit the key is locked for the lockout period and the edge answers 403
 * itself. Bounded memory: a fixed table whose oldest unlocked entries give way to new keys.
 * Pure: time is passed in.
 */
#ifndef EDGE_AUTHGUARD_H
#define EDGE_AUTHGUARD_H

#include <stddef.h>
#include <stdint.h>

typedef struct edge_authguard edge_authguard_t;

/* capacity is rounded up to a power of two. NULL when out of memory. */
edge_authguard_t *edge_authguard_new(uint32_t limit, uint32_t window_ms, uint32_t lockout_ms,
                                     size_t capacity);
void edge_authguard_free(edge_authguard_t *g);

/* Whether key is locked out at now_ms. */
int edge_authguard_locked(const edge_authguard_t *g, const char *key, size_t len, uint64_t now_ms);
/* Count one failure; returns 1 when this failure starts a lockout, else 0. */
int edge_authguard_fail(edge_authguard_t *g, const char *key, size_t len, uint64_t now_ms);
/* A successful authentication clears the key's failures (not a running lockout). */
void edge_authguard_success(edge_authguard_t *g, const char *key, size_t len);

#endif
