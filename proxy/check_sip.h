/*
 * check_sip.h - the interop checker behind `edgeproxy --check-sip`: frames a byte stream the
 * way a stream connection would and says, per message, what the edge would do with it.
 */
#ifndef EDGE_CHECK_SIP_H
#define EDGE_CHECK_SIP_H

#include <stdio.h>

#include "sip.h"

typedef struct {
    sip_verdict_t verdict;
    sip_msg_kind_t kind;   /* REQUEST, RESPONSE, or NONE when the start line was never seen */
    sip_slice_t method;    /* requests */
    int status;            /* responses */
    int truncated;         /* input ended inside this message */
    size_t offset, length; /* where the message lies in the input */
    const sip_msg_t *msg;  /* the index, valid only during the callback */
    const sip_check_opts_t *opts;
} edge_check_result_t;

typedef void (*edge_check_cb)(void *ud, const edge_check_result_t *r);

/* Option tags the edge accepts in Proxy-Require by default ([MS-SIP] ms-benotify is relayed). */
extern const sip_check_opts_t edge_check_default_opts;

/*
 * Feed buf as one stream: report every message (keepalives excepted) through cb, stopping after
 * a framing error or at the end of input. Returns how many messages were reported.
 */
size_t edge_check_sip_buf(const char *buf, size_t len, const sip_check_opts_t *opts,
                          edge_check_cb cb, void *ud);

/* "forward", "forward-response", "reply-NNN", "drop", "close". buf needs 24 bytes. */
const char *edge_check_action(const edge_check_result_t *r, char *buf, size_t size);

/* Print one line "NAME: ACTION DETAIL" for r. */
void edge_check_print(FILE *out, const char *name, const edge_check_result_t *r);

/* `edgeproxy --check-sip FILE...`: returns the process exit status (0 all relayed, 1 not, 2 I/O).
 */
int edge_check_sip_main(int nfiles, char **files);

#endif
