/*
 * fuzz_check.h - the harnesses' contract check: a broken promise of the module under test
 * prints where and what, then aborts so libFuzzer keeps the input.
 */
#ifndef EDGE_FUZZ_CHECK_H
#define EDGE_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
