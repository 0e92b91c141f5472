/*
 * xmpp_proxy.h - the edge's XMPP federation proxy: server-to-server streams from partners on
 * the external xmpp-s2s listener (5269), relayed over per-domain-pair streams to and from the
 * internal XMPP gateway (mutual TLS, 23456), and outbound streams to partners found by DNS. The
 * negotiation itself is xmpp/s2s.h's; this file owns the sockets, TLS, DNS, timers, policy
 * (xmpp_policy.h) and routing. See docs/xmpp-federation.md.
 *
 * edge.c calls these five and nothing else: the proxy keeps its listeners, connections and
 * timer to itself (edge_t only holds the pointer).
 */
#ifndef EDGE_XMPP_PROXY_H
#define EDGE_XMPP_PROXY_H

#include <stddef.h>
#include <stdio.h>

typedef struct edge edge_t;

/* Open the xmpp-s2s and xmpp-gateway listeners of e->conf and everything they need (policy
 * files, dialback secret, TLS contexts, resolver). 0 (also when there is no XMPP listener), or
 * -1 with the reason in err. */
int edge_xmpp_init(edge_t *e, char *err, size_t errlen);
/* SIGUSR1 and exit: the XMPP counters, one line ("xmpp: name=value ..."). */
void edge_xmpp_dump(edge_t *e, FILE *out);
/* SIGHUP: reload the allow and block lists (kept if a file has an error) and the certificates. */
void edge_xmpp_reload(edge_t *e);
/* Close listeners, end every stream (<system-shutdown/>), stop the timer and the resolver. */
void edge_xmpp_stop(edge_t *e);
/* After the loop has run the close callbacks. */
void edge_xmpp_free(edge_t *e);

#endif
