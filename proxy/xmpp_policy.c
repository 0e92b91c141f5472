/*
 * xmpp_policy.c - the XMPP partner allow and block lists (see xmpp_policy.h): parsed once into
 * sorted arrays of lower-case names, so a check is a few binary searches (the domain, then each
 * parent as "*.parent") and never touches the files again until the next reload.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmpp_policy.h"

typedef struct {
    char *name; /* lower case; "*.suffix" or "*" for wildcards */
    edge_xmpp_partner_t opts;
} entry_t;

typedef struct {
    entry_t *v;
    size_t n, cap;
} list_t;

struct edge_xmpp_policy {
    list_t allow, block;
};

static void list_free(list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].name);
    free(l->v);
}

void edge_xmpp_policy_free(edge_xmpp_policy_t *p)
{
    if (!p)
        return;
    list_free(&p->allow);
    list_free(&p->block);
    free(p);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->name, ((const entry_t *)b)->name);
}

static const entry_t *find(const list_t *l, const char *name)
{
    entry_t key = {(char *)name, {0, 0}};
    return l->n ? bsearch(&key, l->v, l->n, sizeof *l->v, cmp_entry) : NULL;
}

/* A name as written in a list: LDH labels, optionally "*." first, or just "*". */
static int name_ok(const char *d)
{
    size_t n = strlen(d);
    if (strcmp(d, "*") == 0)
        return 1;
    if (n > 2 && d[0] == '*' && d[1] == '.')
        d += 2, n -= 2;
    if (n == 0 || n > 253 || d[0] == '.' || d[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)d[i]) && d[i] != '-' && d[i] != '_' &&
            !(d[i] == '.' && d[i + 1] != '.'))
            return 0;
    }
    return 1;
}

static int set_opt(edge_xmpp_partner_t *o, const char *w)
{
    if (strcmp(w, "auth=any") == 0)
        o->auth = EDGE_XMPP_AUTH_ANY;
    else if (strcmp(w, "auth=sasl") == 0)
        o->auth = EDGE_XMPP_AUTH_SASL;
    else if (strcmp(w, "auth=dialback") == 0)
        o->auth = EDGE_XMPP_AUTH_DIALBACK;
    else if (strcmp(w, "tls=required") == 0)
        o->tls = EDGE_XMPP_TLS_REQUIRED;
    else if (strcmp(w, "tls=optional") == 0)
        o->tls = EDGE_XMPP_TLS_OPTIONAL;
    else
        return -1;
    return 0;
}

/* Parse one list from text; options only on the allow list. */
static int parse_list(list_t *l, const char *text, const char *name, int allow, char *err,
                      size_t errlen)
{
    int lineno = 0;
    const char *p = text;
    while (*p) {
        char line[1024];
        size_t n = strcspn(p, "\n");
        lineno++;
        if (n >= sizeof line) {
            snprintf(err, errlen, "%s:%d: line too long", name, lineno);
            return -1;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p += n + (p[n] == '\n');
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *save = NULL;
        char *w = strtok_r(line, " \t\r", &save);
        if (!w)
            continue;
        for (char *c = w; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        size_t wl = strlen(w);
        if (wl > 1 && w[wl - 1] == '.' && strcmp(w, "*.") != 0)
            w[--wl] = '\0';
        if (!name_ok(w)) {
            snprintf(err, errlen, "%s:%d: '%s' is not a domain, *.domain or *", name, lineno, w);
            return -1;
        }
        entry_t e = {NULL, {EDGE_XMPP_AUTH_ANY, EDGE_XMPP_TLS_DEFAULT}};
        char *opt;
        while ((opt = strtok_r(NULL, " \t\r", &save)) != NULL) {
            if (!allow || set_opt(&e.opts, opt) < 0) {
                snprintf(err, errlen,
                         allow ? "%s:%d: unknown option '%s' (auth=any|sasl|dialback, "
                                 "tls=required|optional)"
                               : "%s:%d: '%s': a block list line holds one domain",
                         name, lineno, opt);
                return -1;
            }
        }
        if (find(l, w)) /* the list is kept sorted as it grows */
            continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 16;
            entry_t *v = realloc(l->v, cap * sizeof *v);
            if (!v) {
                snprintf(err, errlen, "%s: out of memory", name);
                return -1;
            }
            l->v = v;
            l->cap = cap;
        }
        if (!(e.name = strdup(w))) {
            snprintf(err, errlen, "%s: out of memory", name);
            return -1;
        }
        size_t at = l->n;
        while (at > 0 && strcmp(l->v[at - 1].name, e.name) > 0)
            at--;
        memmove(&l->v[at + 1], &l->v[at], (l->n - at) * sizeof *l->v);
        l->v[at] = e;
        l->n++;
    }
    return 0;
}

edge_xmpp_policy_t *edge_xmpp_policy_parse(const char *allow_text, const char *allow_name,
                                           const char *block_text, const char *block_name,
                                           char *err, size_t errlen)
{
    edge_xmpp_policy_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if ((allow_text && parse_list(&p->allow, allow_text, allow_name, 1, err, errlen) < 0) ||
        (block_text && parse_list(&p->block, block_text, block_name, 0, err, errlen) < 0)) {
        edge_xmpp_policy_free(p);
        return NULL;
    }
    return p;
}

static char *slurp(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s:0: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (n < cap - 1)
            break;
        if (cap >= (64u << 20)) {
            free(buf);
            buf = NULL;
            break;
        }
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        snprintf(err, errlen, "%s:0: cannot read (too large, or an I/O error)", path);
        return NULL;
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        free(buf);
        snprintf(err, errlen, "%s:0: not a text file", path);
        return NULL;
    }
    return buf;
}

edge_xmpp_policy_t *edge_xmpp_policy_load(const char *allow_file, const char *block_file, char *err,
                                          size_t errlen)
{
    char *a = NULL, *b = NULL;
    edge_xmpp_policy_t *p = NULL;
    if (allow_file && *allow_file && !(a = slurp(allow_file, err, errlen)))
        return NULL;
    if (block_file && *block_file && !(b = slurp(block_file, err, errlen)))
        goto out;
    p = edge_xmpp_policy_parse(a, allow_file, b, block_file, err, errlen);
out:
    free(a);
    free(b);
    return p;
}

/* The most specific entry of l for d: d itself, then "*.parent" from the longest parent, then
 * "*". */
static const entry_t *match(const list_t *l, const char *d)
{
    const entry_t *e = find(l, d);
    if (e)
        return e;
    char buf[300];
    for (const char *dot = strchr(d, '.'); dot; dot = strchr(dot + 1, '.')) {
        snprintf(buf, sizeof buf, "*%s", dot);
        if ((e = find(l, buf)) != NULL)
            return e;
    }
    return find(l, "*");
}

edge_xmpp_verdict_t edge_xmpp_policy_check(const edge_xmpp_policy_t *p, const char *domain,
                                           edge_xmpp_partner_t *opts)
{
    char d[256];
    size_t n = domain ? strlen(domain) : 0;
    if (n > 1 && domain[n - 1] == '.')
        n--;
    if (!p || n == 0 || n >= sizeof d)
        return EDGE_XMPP_NOT_ALLOWED;
    for (size_t i = 0; i < n; i++)
        d[i] = (char)tolower((unsigned char)domain[i]);
    d[n] = '\0';
    if (match(&p->block, d)) /* a block always wins ("*" there blocks everyone) */
        return EDGE_XMPP_BLOCKED;
    const entry_t *a = match(&p->allow, d);
    if (!a)
        return EDGE_XMPP_NOT_ALLOWED;
    if (opts)
        *opts = a->opts;
    return EDGE_XMPP_ALLOWED;
}

size_t edge_xmpp_policy_allowed(const edge_xmpp_policy_t *p)
{
    return p ? p->allow.n : 0;
}

size_t edge_xmpp_policy_blocked(const edge_xmpp_policy_t *p)
{
    return p ? p->block.n : 0;
}

const char *edge_xmpp_verdict_name(edge_xmpp_verdict_t v)
{
    switch (v) {
    case EDGE_XMPP_ALLOWED:
        return "allowed";
    case EDGE_XMPP_NOT_ALLOWED:
        return "not an allowed partner";
    case EDGE_XMPP_BLOCKED:
        return "blocked";
    }
    return "?";
}
