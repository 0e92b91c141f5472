/*
 * flow.h - flow tokens (RFC 5626 style): the user part of the edge's inward Record-Route and
 * Path URIs names the client connection a request from the inside must go out on. A token is
 * the connection's slot and generation plus an HMAC-SHA256 over them and the node id, so the
 * inside cannot be made to address a connection it was never given, and a token from another
 * node or an earlier key does not verify. Pure: the key is the caller's.
 */
#ifndef EDGE_FLOW_H
#define EDGE_FLOW_H

#include <stddef.h>
#include <stdint.h>

#define EDGE_FLOW_TOKEN_LEN 36 /* hex: slot (8) generation (8) MAC (20) */

typedef struct {
    unsigned char key[32];
    char node[64];
    size_t nodelen;
} edge_flow_key_t;

/* Derive the MAC key from a secret (any length) and bind it to the node id. */
void edge_flow_key_init(edge_flow_key_t *k, const unsigned char *secret, size_t len,
                        const char *node_id);
/* Write the token for (slot, generation) into out (EDGE_FLOW_TOKEN_LEN bytes, no NUL). */
void edge_flow_token_make(const edge_flow_key_t *k, uint32_t slot, uint32_t gen, char *out);
/* Check a token: 0 with slot and generation when it verifies, -1 when malformed or forged. */
int edge_flow_token_parse(const edge_flow_key_t *k, const char *p, size_t len, uint32_t *slot,
                          uint32_t *gen);

#endif
