/*
 * dialback.c - the XEP-0185 dialback key. Kept apart from the state machine because both the
 * originating side (the key it sends in db:result) and the authoritative side (the key it checks
 * in db:verify) compute it, and because it is the one place where a subtle reading error (raw
 * digest instead of its hex as the HMAC key, the two domains swapped) would still interoperate
 * with ourselves and fail with everyone else; the unit tests pin it to XEP-0185's and
 * XEP-0220's published vectors.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "s2s.h"

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
}

int xmpp_dialback_key(const char *secret, size_t secret_len, const char *receiving,
                      const char *originating, const char *stream_id,
                      char out[XMPP_DIALBACK_KEY_LEN + 1])
{
    unsigned char digest[32], mac[EVP_MAX_MD_SIZE];
    char hkey[64];
    unsigned int dlen = 0, mlen = 0;
    size_t lr = strlen(receiving), lo = strlen(originating), li = strlen(stream_id);
    size_t n = lr + 1 + lo + 1 + li;
    char small[640], *msg = n <= sizeof small ? small : malloc(n);
    int rc = -1;

    out[0] = '\0';
    if (msg == NULL)
        return -1;
    /* XEP-0185: the HMAC key is SHA256(secret) as hex, the way every implementation reads it
     * (and the only reading that gives the XEP's example key). */
    if (EVP_Digest(secret, secret_len, digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != 32)
        goto done;
    hex(digest, 32, hkey);
    memcpy(msg, receiving, lr);
    msg[lr] = ' ';
    memcpy(msg + lr + 1, originating, lo);
    msg[lr + 1 + lo] = ' ';
    memcpy(msg + lr + 1 + lo + 1, stream_id, li);
    if (HMAC(EVP_sha256(), hkey, (int)sizeof hkey, (const unsigned char *)msg, n, mac, &mlen) ==
            NULL ||
        mlen != 32)
        goto done;
    hex(mac, 32, out);
    out[XMPP_DIALBACK_KEY_LEN] = '\0';
    rc = 0;
done:
    OPENSSL_cleanse(hkey, sizeof hkey);
    OPENSSL_cleanse(digest, sizeof digest);
    if (msg != small)
        free(msg);
    return rc;
}
