/*
 * flow.c - making and checking flow tokens. The MAC is truncated to 80 bits: a forger gets one
 * guess per request, and every refused guess is counted and logged.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "flow.h"

#define MAC_BYTES 10

void edge_flow_key_init(edge_flow_key_t *k, const unsigned char *secret, size_t len,
                        const char *node_id)
{
    SHA256(secret, len, k->key);
    k->nodelen = strlen(node_id);
    if (k->nodelen > sizeof k->node)
        k->nodelen = sizeof k->node;
    memcpy(k->node, node_id, k->nodelen);
}

static void mac(const edge_flow_key_t *k, uint32_t slot, uint32_t gen, unsigned char *out)
{
    unsigned char msg[8 + sizeof k->node], full[EVP_MAX_MD_SIZE];
    unsigned int flen = 0;
    for (int i = 0; i < 4; i++) {
        msg[i] = (unsigned char)(slot >> (24 - 8 * i));
        msg[4 + i] = (unsigned char)(gen >> (24 - 8 * i));
    }
    memcpy(msg + 8, k->node, k->nodelen);
    HMAC(EVP_sha256(), k->key, sizeof k->key, msg, 8 + k->nodelen, full, &flen);
    memcpy(out, full, MAC_BYTES);
}

static const char hexd[] = "0123456789abcdef";

static void hex(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexd[in[i] >> 4];
        out[2 * i + 1] = hexd[in[i] & 15];
    }
}

static int unhex(const char *in, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i++) {
        int v = 0;
        for (int j = 0; j < 2; j++) {
            char c = in[2 * i + j];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0)
                return -1;
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

void edge_flow_token_make(const edge_flow_key_t *k, uint32_t slot, uint32_t gen, char *out)
{
    unsigned char raw[8 + MAC_BYTES];
    for (int i = 0; i < 4; i++) {
        raw[i] = (unsigned char)(slot >> (24 - 8 * i));
        raw[4 + i] = (unsigned char)(gen >> (24 - 8 * i));
    }
    mac(k, slot, gen, raw + 8);
    hex(raw, sizeof raw, out);
}

int edge_flow_token_parse(const edge_flow_key_t *k, const char *p, size_t len, uint32_t *slot,
                          uint32_t *gen)
{
    unsigned char raw[8 + MAC_BYTES], want[MAC_BYTES];
    if (len != EDGE_FLOW_TOKEN_LEN || unhex(p, sizeof raw, raw) < 0)
        return -1;
    uint32_t s = 0, g = 0;
    for (int i = 0; i < 4; i++) {
        s = s << 8 | raw[i];
        g = g << 8 | raw[4 + i];
    }
    mac(k, s, g, want);
    if (CRYPTO_memcmp(want, raw + 8, MAC_BYTES) != 0)
        return -1;
    *slot = s;
    *gen = g;
    return 0;
}
