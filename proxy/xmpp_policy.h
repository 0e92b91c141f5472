/*
 * xmpp_policy.h - who may federate with us over XMPP: the partner allow list (with per-partner
 * requirements) and the block list, each a text file the operator edits and the daemon reloads
 * on SIGHUP. Pure lookup code (files are read only by edge_xmpp_policy_load), so the proxy and
 * the unit tests share it; the proxy swaps in a new policy only when both files load cleanly.
 *
 * Allow file, one partner per line ('#' starts a comment):
 *   fabrikam.test                      a partner with the defaults
 *   northwind.test auth=dialback       only dialback (its certificate is not from a CA we trust)
 *   tailspin.test auth=sasl tls=required   only SASL EXTERNAL with a certificate we trust
 *   *.partners.test                    every subdomain of partners.test (not itself)
 *   *                                  open federation: any domain not blocked
 * Block file: one domain or *.suffix per line; a block always wins over an allow.
 */
#ifndef EDGE_XMPP_POLICY_H
#define EDGE_XMPP_POLICY_H

#include <stddef.h>

typedef enum {
    EDGE_XMPP_AUTH_ANY = 0,  /* SASL EXTERNAL when the certificate allows, else dialback */
    EDGE_XMPP_AUTH_SASL,     /* a certificate we trust naming the domain, nothing less */
    EDGE_XMPP_AUTH_DIALBACK, /* dialback only (never SASL EXTERNAL) */
} edge_xmpp_auth_t;

typedef enum {
    EDGE_XMPP_TLS_DEFAULT = 0, /* as [xmpp] tls_required says */
    EDGE_XMPP_TLS_REQUIRED,
    EDGE_XMPP_TLS_OPTIONAL,
} edge_xmpp_tls_t;

typedef struct {
    edge_xmpp_auth_t auth;
    edge_xmpp_tls_t tls;
} edge_xmpp_partner_t;

typedef enum {
    EDGE_XMPP_ALLOWED = 0,
    EDGE_XMPP_NOT_ALLOWED, /* on no allow list entry */
    EDGE_XMPP_BLOCKED,     /* on the block list */
} edge_xmpp_verdict_t;

typedef struct edge_xmpp_policy edge_xmpp_policy_t;

/*
 * Read both files (either path may be NULL or empty: no allow file allows nobody, no block file
 * blocks nobody). NULL on failure, with "FILE:LINE: what is wrong" in err.
 */
edge_xmpp_policy_t *edge_xmpp_policy_load(const char *allow_file, const char *block_file, char *err,
                                          size_t errlen);
/* The same from text (tests); names are used in messages. */
edge_xmpp_policy_t *edge_xmpp_policy_parse(const char *allow_text, const char *allow_name,
                                           const char *block_text, const char *block_name,
                                           char *err, size_t errlen);
void edge_xmpp_policy_free(edge_xmpp_policy_t *p);

/* The verdict for domain (case-insensitive, one trailing dot ignored); when allowed and opts is
 * not NULL, the partner's requirements (the most specific entry: exact, then the longest
 * *.suffix, then *). */
edge_xmpp_verdict_t edge_xmpp_policy_check(const edge_xmpp_policy_t *p, const char *domain,
                                           edge_xmpp_partner_t *opts);

/* Entries loaded: allow list, block list (for the log). */
size_t edge_xmpp_policy_allowed(const edge_xmpp_policy_t *p);
size_t edge_xmpp_policy_blocked(const edge_xmpp_policy_t *p);

const char *edge_xmpp_verdict_name(edge_xmpp_verdict_t v);

#endif
