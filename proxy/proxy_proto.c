/*
 * proxy_proto.c - the PROXY protocol header (v1 text, v2 binary) an HLB sends before the TLS
 * handshake to pass on the real client address (SNAT hides it otherwise). Pure: bytes in,
 * address out; fuzzed by fuzz/proxy_proto.c.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "proxy_proto.h"

/*
 * PROXY protocol v1 ("PROXY TCP4 src dst sport dport\r\n") or v2 (binary) before the TLS
 * handshake: the HLB's way of telling the real client address. Returns bytes used, 0 when more
 * are needed, -1 when malformed. */
int edge_proxy_proto_parse(const char *p, size_t n, char *ip, uint16_t *port)
{
    static const char v2sig[12] = "\r\n\r\n\0\r\nQUIT\n";
    if (n >= 16 && memcmp(p, v2sig, 12) == 0) {
        size_t len = ((unsigned char)p[14] << 8) | (unsigned char)p[15];
        if (n < 16 + len)
            return 0;
        unsigned ver_cmd = (unsigned char)p[12], fam = (unsigned char)p[13];
        if ((ver_cmd & 0xf0) != 0x20)
            return -1;
        if ((ver_cmd & 0x0f) == 1) { /* PROXY; LOCAL keeps the socket's address */
            if (fam == 0x11 && len >= 12) {
                inet_ntop(AF_INET, p + 16, ip, EDGE_PROXY_IP_LEN);
                *port = (uint16_t)(((unsigned char)p[24] << 8) | (unsigned char)p[25]);
            } else if (fam == 0x21 && len >= 36) {
                inet_ntop(AF_INET6, p + 16, ip, EDGE_PROXY_IP_LEN);
                *port = (uint16_t)(((unsigned char)p[48] << 8) | (unsigned char)p[49]);
            } else if (fam != 0x00) {
                return -1;
            }
        }
        return (int)(16 + len);
    }
    if (n >= 6 && memcmp(p, "PROXY ", 6) == 0) {
        const char *nl = memchr(p, '\n', n < 108 ? n : 108);
        if (!nl)
            return n >= 108 ? -1 : 0;
        if (nl == p || nl[-1] != '\r')
            return -1;
        char line[108], proto[8], src[EDGE_PROXY_IP_LEN], dst[EDGE_PROXY_IP_LEN];
        unsigned sport, dport;
        size_t len = (size_t)(nl - p - 1);
        memcpy(line, p, len);
        line[len] = '\0';
        if (strncmp(line, "PROXY UNKNOWN", 13) == 0)
            return (int)(len + 2);
        if (sscanf(line, "PROXY %7s %45s %45s %u %u", proto, src, dst, &sport, &dport) != 5 ||
            sport > 65535)
            return -1;
        struct in6_addr a6;
        if (!((strcmp(proto, "TCP4") == 0 && inet_pton(AF_INET, src, &a6) == 1) ||
              (strcmp(proto, "TCP6") == 0 && inet_pton(AF_INET6, src, &a6) == 1)))
            return -1;
        memcpy(ip, src, EDGE_PROXY_IP_LEN);
        *port = (uint16_t)sport;
        return (int)(len + 2);
    }
    if (n >= 16 || (n > 0 && p[0] != 'P' && p[0] != '\r'))
        return -1;
    return 0;
}
