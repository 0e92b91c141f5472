/*
 * corpus_util.h - what the corpus tests share: reading a corpus file whole (byte-exact, with
 * room to append) and splitting an INDEX.tsv line into its fields.
 */
#ifndef EDGE_CORPUS_UTIL_H
#define EDGE_CORPUS_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file in a malloc'd buffer with 'extra' + 1 spare bytes; NULL if unreadable. */
static inline char *corpus_read(const char *path, size_t *len, size_t extra)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long sz;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = sz < 0 ? NULL : malloc((size_t)sz + extra + 1);
    if (buf && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = sz < 0 ? 0 : (size_t)sz;
    return buf;
}

/* Split a TSV line into at most n fields in place; returns how many. */
static inline size_t corpus_tsv_split(char *line, char **fields, size_t n)
{
    size_t k = 0;
    char *p = line;
    while (k < n) {
        fields[k++] = p;
        p = strchr(p, '\t');
        if (!p)
            break;
        *p++ = '\0';
    }
    return k;
}

#endif
