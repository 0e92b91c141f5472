/*
 * metrics.c - names and the dump of the counters listed in metrics.h.
 */
#include "metrics.h"

static const char *const names[] = {
#define EDGE_METRIC_NAME(name, text) #name,
    EDGE_METRIC_LIST(EDGE_METRIC_NAME)
#undef EDGE_METRIC_NAME
};

const char *edge_metric_name(edge_metric_t m)
{
    return (unsigned)m < EDGE_M__COUNT ? names[m] : "?";
}

void edge_metrics_dump(const edge_metrics_t *m, FILE *out)
{
    fputs("metrics:", out);
    for (int i = 0; i < EDGE_M__COUNT; i++)
        fprintf(out, " %s=%llu", names[i], (unsigned long long)m->v[i]);
    fputc('\n', out);
    fflush(out);
}
