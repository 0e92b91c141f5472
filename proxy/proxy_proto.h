/*
 * proxy_proto.h - parsing the PROXY protocol header (haproxy's v1 and v2) that an HLB with SNAT
 * puts in front of a connection, so the edge learns the real client address and port.
 */
#ifndef EDGE_PROXY_PROTO_H
#define EDGE_PROXY_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define EDGE_PROXY_IP_LEN 46 /* INET6_ADDRSTRLEN */

/*
 * Parse a header at the start of p[0..n). Returns the bytes it occupies (ip and port set for
 * PROXY/TCP4/TCP6; left alone for LOCAL and UNKNOWN), 0 when more bytes are needed, -1 when the
 * bytes are not a valid header. ip has room for EDGE_PROXY_IP_LEN bytes.
 */
int edge_proxy_proto_parse(const char *p, size_t n, char *ip, uint16_t *port);

#endif
