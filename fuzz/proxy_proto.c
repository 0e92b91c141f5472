/*
 * fuzz/proxy_proto.c - the PROXY protocol header parser on arbitrary bytes: never reads past
 * the input, never claims more bytes than it was given, always leaves a NUL-terminated address,
 * and gives the same answer when the input arrives with more bytes behind it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "proxy_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char ip[EDGE_PROXY_IP_LEN] = "unset", ip2[EDGE_PROXY_IP_LEN] = "unset";
    uint16_t port = 0, port2 = 0;
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    int r = edge_proxy_proto_parse(copy, size, ip, &port);
    CHECK(r >= -1 && r <= (int)size);
    CHECK(memchr(ip, '\0', sizeof ip) != NULL);
    if (r > 0) {
        /* a complete header is complete whatever follows it */
        char *more = malloc(size + 8);
        if (more) {
            memcpy(more, copy, size);
            memset(more + size, 'Z', 8);
            int r2 = edge_proxy_proto_parse(more, size + 8, ip2, &port2);
            CHECK(r2 == r && port2 == port && strcmp(ip, ip2) == 0);
            free(more);
        }
    }
    free(copy);
    return 0;
}
