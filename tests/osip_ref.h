/*
 * osip_ref.h - libosip2 as the reference parser, shared by the differential test, the
 * differential fuzzer and the parser benchmark: silent initialisation and the conversions that
 * put osip's strings and ours on the same footing. Test code only; the relay never uses osip.
 */
#ifndef EDGE_OSIP_REF_H
#define EDGE_OSIP_REF_H

#include <stdarg.h>
#include <stdlib.h>

#include <osipparser2/osip_parser.h>

#include "sip.h"

/* osip traces every parse failure on stderr unless given a trace function of its own. */
static void osip_ref_quiet(const char *file, int line, osip_trace_level_t level, const char *fmt,
                           va_list ap)
{
    (void)file;
    (void)line;
    (void)level;
    (void)fmt;
    (void)ap;
}

/* Silence osip's tracing and initialise its parser. Returns 0 or -1. */
static inline int osip_ref_init(void)
{
    osip_trace_initialize_func(TRACE_LEVEL0, osip_ref_quiet);
    return parser_init() == 0 ? 0 : -1;
}

/* osip drops the brackets of IPv6 references; ours keeps them. */
static inline sip_slice_t osip_ref_unbracket(sip_slice_t host)
{
    if (host.len >= 2 && host.p[0] == '[' && host.p[host.len - 1] == ']')
        return (sip_slice_t){host.p + 1, host.len - 2};
    return host;
}

/* osip keeps ports as strings; "absent" is NULL there and 0 here. */
static inline long osip_ref_port(const char *port)
{
    return port ? strtol(port, NULL, 10) : 0;
}

/* A generic parameter's value: NULL when absent, "" when it has no value. */
static inline const char *osip_ref_param(osip_list_t *params, const char *name)
{
    osip_generic_param_t *p = NULL;
    if (osip_generic_param_get_byname(params, (char *)name, &p) != 0 || p == NULL)
        return NULL;
    return p->gvalue ? p->gvalue : "";
}

#endif
