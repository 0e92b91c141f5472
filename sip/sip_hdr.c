/*
 * sip_hdr.c - the header-name table (ids, compact forms), the character classes, method ids,
 * comma-list splitting and the scalar header sub-parsers (CSeq, Max-Forwards, Call-ID,
 * Content-Length). Everything here is table-driven so the index pass costs one lookup per line.
 */
#include <string.h>

#include "sip.h"
#include "sip_chars.h"

const uint16_t sip_ctab[256] = {
    [9] = SIPC_WS,  /* HT */
    [10] = SIPC_WS, /* LF */
    [13] = SIPC_WS, /* CR */
    [32] = SIPC_WS, /* SP */
    [33] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL | SIPC_GVAL |
           SIPC_URIC | SIPC_ASPEC,                                                    /* ! */
    [34] = SIPC_WORD | SIPC_URIC,                                                     /* " */
    [35] = SIPC_URIC | SIPC_ASPEC,                                                    /* # */
    [36] = SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_HDRVAL | SIPC_URIC | SIPC_ASPEC, /* $ */
    [37] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL | SIPC_GVAL |
           SIPC_URIC | SIPC_ASPEC,                                      /* % */
    [38] = SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_URIC | SIPC_ASPEC, /* & */
    [39] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL | SIPC_GVAL |
           SIPC_URIC | SIPC_ASPEC, /* ' */
    [40] = SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL | SIPC_URIC |
           SIPC_ASPEC, /* ( */
    [41] = SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL | SIPC_URIC |
           SIPC_ASPEC, /* ) */
    [42] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL | SIPC_GVAL |
           SIPC_URIC | SIPC_ASPEC, /* star */
    [43] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL | SIPC_SCHEME |
           SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* + */
    [44] = SIPC_USER | SIPC_PASS | SIPC_URIC,  /* , */
    [45] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* - */
    [46] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC,                          /* . */
    [47] = SIPC_USER | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL | SIPC_URIC | SIPC_ASPEC, /* / */
    [48] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD |
           SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* 0 */
    [49] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD |
           SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* 1 */
    [50] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD |
           SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* 2 */
    [51] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD |
           SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* 3 */
    [52] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD |
           SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* 4 */
    [53] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD |
           SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* 5 */
    [54] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD |
           SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* 6 */
    [55] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD |
           SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* 7 */
    [56] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD |
           SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* 8 */
    [57] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD |
           SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* 9 */
    [58] = SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC,   /* : */
    [59] = SIPC_USER | SIPC_URIC,                                                       /* ; */
    [60] = SIPC_WORD,                                                                   /* < */
    [61] = SIPC_USER | SIPC_PASS | SIPC_URIC | SIPC_ASPEC,                              /* = */
    [62] = SIPC_WORD,                                                                   /* > */
    [63] = SIPC_USER | SIPC_WORD | SIPC_HDRVAL | SIPC_URIC,                             /* ? */
    [64] = SIPC_URIC | SIPC_ASPEC,                                                      /* @ */
    [65] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME |
           SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* A */
    [66] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME |
           SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* B */
    [67] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME |
           SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* C */
    [68] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME |
           SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* D */
    [69] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME |
           SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* E */
    [70] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME |
           SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* F */
    [71] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* G */
    [72] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* H */
    [73] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* I */
    [74] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* J */
    [75] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* K */
    [76] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* L */
    [77] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* M */
    [78] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* N */
    [79] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* O */
    [80] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* P */
    [81] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* Q */
    [82] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* R */
    [83] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* S */
    [84] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* T */
    [85] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* U */
    [86] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* V */
    [87] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* W */
    [88] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* X */
    [89] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* Y */
    [90] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
           SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC,             /* Z */
    [91] = SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* [ */
    [92] = SIPC_WORD | SIPC_URIC | SIPC_ASPEC,                                        /* \ */
    [93] = SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* ] */
    [94] = SIPC_URIC | SIPC_ASPEC,                                                    /* ^ */
    [95] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL | SIPC_GVAL |
           SIPC_URIC | SIPC_ASPEC,                                      /* _ */
    [96] = SIPC_TOKEN | SIPC_WORD | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* ` */
    [97] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME |
           SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* a */
    [98] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME |
           SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* b */
    [99] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME |
           SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* c */
    [100] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME |
            SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* d */
    [101] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME |
            SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* e */
    [102] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME |
            SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* f */
    [103] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* g */
    [104] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* h */
    [105] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* i */
    [106] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* j */
    [107] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* k */
    [108] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* l */
    [109] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* m */
    [110] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* n */
    [111] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* o */
    [112] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* p */
    [113] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* q */
    [114] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* r */
    [115] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* s */
    [116] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* t */
    [117] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* u */
    [118] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* v */
    [119] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* w */
    [120] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* x */
    [121] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* y */
    [122] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL |
            SIPC_ALPHA | SIPC_SCHEME | SIPC_GVAL | SIPC_URIC | SIPC_ASPEC, /* z */
    [123] = SIPC_WORD | SIPC_URIC | SIPC_ASPEC,                            /* { */
    [124] = SIPC_URIC | SIPC_ASPEC,                                        /* | */
    [125] = SIPC_WORD | SIPC_URIC | SIPC_ASPEC,                            /* } */
    [126] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL | SIPC_GVAL |
            SIPC_URIC | SIPC_ASPEC, /* ~ */
};

static const struct {
    const char *name;
    uint8_t len;
} hdr_names[SIP_HDR__COUNT] = {
#define SIP_HDR_NAME(id, nm, c) [SIP_HDR_##id] = {nm, sizeof nm - 1},
    SIP_HDR_LIST(SIP_HDR_NAME)
#undef SIP_HDR_NAME
};

/*
 * Known names by a perfect hash of (first, middle, last character, length), lower-cased: one
 * table load and one comparison per header line. Generated from SIP_HDR_LIST; test_sip_index
 * checks that every name resolves to its own id, so a header added to the list without a new
 * table shows up as a test failure.
 */
static inline unsigned hdr_hash_of(const char *name, size_t len)
{
    unsigned c0 = (unsigned char)name[0] | 0x20, cm = (unsigned char)name[len / 2] | 0x20,
             cl = (unsigned char)name[len - 1] | 0x20;
    return (c0 * 30 + cm * 14 + cl * 30 + (unsigned)len) & 255;
}

static const uint8_t hdr_hash[256] = {
    [4] = SIP_HDR_REPLY_TO,
    [5] = SIP_HDR_ACCEPT_ENCODING,
    [11] = SIP_HDR_TIMESTAMP,
    [13] = SIP_HDR_AUTHORIZATION,
    [15] = SIP_HDR_WARNING,
    [17] = SIP_HDR_REQUEST_DISPOSITION,
    [21] = SIP_HDR_EXPIRES,
    [24] = SIP_HDR_MIN_SE,
    [27] = SIP_HDR_CALL_INFO,
    [32] = SIP_HDR_SUBSCRIPTION_STATE,
    [36] = SIP_HDR_RSEQ,
    [43] = SIP_HDR_ACCEPT_LANGUAGE,
    [57] = SIP_HDR_RETRY_AFTER,
    [60] = SIP_HDR_MIME_VERSION,
    [61] = SIP_HDR_ALLOW,
    [63] = SIP_HDR_PROXY_REQUIRE,
    [65] = SIP_HDR_CALL_ID,
    [66] = SIP_HDR_CONTENT_ENCODING,
    [77] = SIP_HDR_SUPPORTED,
    [78] = SIP_HDR_CONTENT_LENGTH,
    [79] = SIP_HDR_CONTENT_DISPOSITION,
    [80] = SIP_HDR_SERVER,
    [84] = SIP_HDR_RACK,
    [88] = SIP_HDR_ERROR_INFO,
    [94] = SIP_HDR_WWW_AUTHENTICATE,
    [98] = SIP_HDR_CSEQ,
    [104] = SIP_HDR_CONTENT_LANGUAGE,
    [106] = SIP_HDR_ALLOW_EVENTS,
    [108] = SIP_HDR_REJECT_CONTACT,
    [110] = SIP_HDR_ACCEPT_CONTACT,
    [121] = SIP_HDR_SESSION_EXPIRES,
    [123] = SIP_HDR_IN_REPLY_TO,
    [130] = SIP_HDR_ACCEPT,
    [136] = SIP_HDR_MAX_FORWARDS,
    [145] = SIP_HDR_CONTACT,
    [146] = SIP_HDR_PRIORITY,
    [153] = SIP_HDR_UNSUPPORTED,
    [157] = SIP_HDR_ROUTE,
    [158] = SIP_HDR_ORGANIZATION,
    [159] = SIP_HDR_REQUIRE,
    [162] = SIP_HDR_REFER_TO,
    [166] = SIP_HDR_USER_AGENT,
    [172] = SIP_HDR_PATH,
    [174] = SIP_HDR_TO,
    [180] = SIP_HDR_RECORD_ROUTE,
    [184] = SIP_HDR_PROXY_AUTHENTICATE,
    [193] = SIP_HDR_AUTHENTICATION_INFO,
    [199] = SIP_HDR_PROXY_AUTHORIZATION,
    [201] = SIP_HDR_MS_KEEP_ALIVE,
    [208] = SIP_HDR_FROM,
    [209] = SIP_HDR_REFERRED_BY,
    [212] = SIP_HDR_CONTENT_TYPE,
    [217] = SIP_HDR_P_ASSERTED_IDENTITY,
    [219] = SIP_HDR_MIN_EXPIRES,
    [220] = SIP_HDR_IDENTITY,
    [224] = SIP_HDR_ALERT_INFO,
    [229] = SIP_HDR_SUBJECT,
    [234] = SIP_HDR_DATE,
    [239] = SIP_HDR_MS_EDGE_TRUST,
    [243] = SIP_HDR_VIA,
    [249] = SIP_HDR_EVENT,
};

static const uint8_t hdr_compact[26] = {
    ['a' - 'a'] = SIP_HDR_ACCEPT_CONTACT,
    ['b' - 'a'] = SIP_HDR_REFERRED_BY,
    ['c' - 'a'] = SIP_HDR_CONTENT_TYPE,
    ['d' - 'a'] = SIP_HDR_REQUEST_DISPOSITION,
    ['e' - 'a'] = SIP_HDR_CONTENT_ENCODING,
    ['f' - 'a'] = SIP_HDR_FROM,
    ['i' - 'a'] = SIP_HDR_CALL_ID,
    ['j' - 'a'] = SIP_HDR_REJECT_CONTACT,
    ['k' - 'a'] = SIP_HDR_SUPPORTED,
    ['l' - 'a'] = SIP_HDR_CONTENT_LENGTH,
    ['m' - 'a'] = SIP_HDR_CONTACT,
    ['o' - 'a'] = SIP_HDR_EVENT,
    ['r' - 'a'] = SIP_HDR_REFER_TO,
    ['s' - 'a'] = SIP_HDR_SUBJECT,
    ['t' - 'a'] = SIP_HDR_TO,
    ['u' - 'a'] = SIP_HDR_ALLOW_EVENTS,
    ['v' - 'a'] = SIP_HDR_VIA,
    ['x' - 'a'] = SIP_HDR_SESSION_EXPIRES,
    ['y' - 'a'] = SIP_HDR_IDENTITY,
};

int sip_slice_ieq(sip_slice_t s, const char *lit)
{
    size_t i;
    for (i = 0; i < s.len; i++) {
        if (lit[i] == '\0' || sip_lower((unsigned char)s.p[i]) != sip_lower((unsigned char)lit[i]))
            return 0;
    }
    return lit[i] == '\0';
}

int sip_slice_eq(sip_slice_t s, const char *lit)
{
    size_t n = strlen(lit);
    return n == s.len && memcmp(s.p, lit, n) == 0;
}

/* Case-insensitive comparison of a wire name with a known one (letters and '-' only). */
/*
 * Eight bytes of a name against eight of a known name (letters and '-'). Folding bit 0x20 makes
 * letters match either case; the only other byte it lets through is CR for '-', refused here.
 */
static inline int word_ieq8(const char *a, const char *b)
{
    const uint64_t fold = 0x2020202020202020ull, ones = 0x0101010101010101ull;
    uint64_t x, y, cr;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    cr = x ^ (ones * '\r');
    return (x | fold) == (y | fold) && !((cr - ones) & ~cr & (ones << 7));
}

static int name_ieq(const char *a, const char *lit, size_t len)
{
    if (len >= 8) {
        /* whole words, the last one overlapping its predecessor: no byte loop */
        for (size_t i = 0; i + 8 < len; i += 8) {
            if (!word_ieq8(a + i, lit + i))
                return 0;
        }
        return word_ieq8(a + len - 8, lit + len - 8);
    }
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)a[i] | 0x20) != ((unsigned char)lit[i] | 0x20) || a[i] == '\r')
            return 0;
    }
    return 1;
}

sip_hdr_id_t sip_hdr_lookup(const char *name, size_t len)
{
    if (len == 1) {
        int c = sip_lower((unsigned char)name[0]);
        return (c >= 'a' && c <= 'z') ? (sip_hdr_id_t)hdr_compact[c - 'a'] : SIP_HDR_OTHER;
    }
    if (len == 0)
        return SIP_HDR_OTHER;
    sip_hdr_id_t id = (sip_hdr_id_t)hdr_hash[hdr_hash_of(name, len)];
    if (id != SIP_HDR_OTHER && hdr_names[id].len == len && name_ieq(name, hdr_names[id].name, len))
        return id;
    return SIP_HDR_OTHER;
}

const char *sip_hdr_name(sip_hdr_id_t id)
{
    return (unsigned)id < SIP_HDR__COUNT ? hdr_names[id].name : "";
}

sip_method_t sip_method_lookup(const char *p, size_t len)
{
#define M(lit, id)                                                                                 \
    if (memcmp(p, lit, sizeof lit - 1) == 0)                                                       \
        return id;
    switch (len) {
    case 3:
        M("ACK", SIP_METHOD_ACK)
        M("BYE", SIP_METHOD_BYE)
        break;
    case 4:
        M("INFO", SIP_METHOD_INFO)
        break;
    case 5:
        M("PRACK", SIP_METHOD_PRACK)
        M("REFER", SIP_METHOD_REFER)
        break;
    case 6:
        M("INVITE", SIP_METHOD_INVITE)
        M("CANCEL", SIP_METHOD_CANCEL)
        M("NOTIFY", SIP_METHOD_NOTIFY)
        M("UPDATE", SIP_METHOD_UPDATE)
        break;
    case 7:
        M("OPTIONS", SIP_METHOD_OPTIONS)
        M("PUBLISH", SIP_METHOD_PUBLISH)
        M("MESSAGE", SIP_METHOD_MESSAGE)
        M("SERVICE", SIP_METHOD_SERVICE)
        break;
    case 8:
        M("REGISTER", SIP_METHOD_REGISTER)
        M("BENOTIFY", SIP_METHOD_BENOTIFY)
        break;
    case 9:
        M("SUBSCRIBE", SIP_METHOD_SUBSCRIBE)
        M("NEGOTIATE", SIP_METHOD_NEGOTIATE)
        break;
    default:
        break;
    }
#undef M
    return SIP_METHOD_OTHER;
}

const sip_hdr_t *sip_msg_header_find(const sip_msg_t *msg, sip_hdr_id_t id)
{
    if ((unsigned)id >= SIP_HDR__COUNT || msg->first[id] < 0)
        return NULL;
    return &msg->hdrs[msg->first[id]];
}

const sip_hdr_t *sip_msg_header_next(const sip_msg_t *msg, const sip_hdr_t *prev)
{
    for (const sip_hdr_t *h = prev + 1; h < msg->hdrs + msg->nhdrs; h++) {
        if (h->id != prev->id)
            continue;
        if (h->id != SIP_HDR_OTHER ||
            (h->name.len == prev->name.len && name_ieq(h->name.p, prev->name.p, h->name.len)))
            return h;
    }
    return NULL;
}

const sip_hdr_t *sip_msg_header_find_name(const sip_msg_t *msg, const char *name, size_t len)
{
    sip_hdr_id_t id = sip_hdr_lookup(name, len);
    if (id != SIP_HDR_OTHER)
        return sip_msg_header_find(msg, id);
    for (size_t i = 0; i < msg->nhdrs; i++) {
        const sip_hdr_t *h = &msg->hdrs[i];
        if (h->id != SIP_HDR_OTHER || h->name.len != len)
            continue;
        size_t k = 0;
        while (k < len &&
               sip_lower((unsigned char)h->name.p[k]) == sip_lower((unsigned char)name[k]))
            k++;
        if (k == len)
            return h;
    }
    return NULL;
}

size_t sip_skip_quoted(const char *p, size_t i, size_t n)
{
    /* the closing quote is the first '"' preceded by an even run of backslashes */
    const char *q = p + i + 1, *end = p + n;
    while (q < end && (q = memchr(q, '"', (size_t)(end - q))) != NULL) {
        const char *b = q;
        while (b > p + i + 1 && b[-1] == '\\')
            b--;
        if (((q - b) & 1) == 0)
            return (size_t)(q - p) + 1;
        q++;
    }
    return (size_t)-1;
}

int sip_value_next(sip_slice_t value, size_t *pos, sip_slice_t *out)
{
    const char *p = value.p;
    size_t n = value.len, i = *pos, start = *pos;
    int angle = 0;

    /* *pos is where the next value starts; n + 1 means the list is exhausted. */
    if (n == 0 || i > n)
        return 0;
    for (; i < n; i++) {
        char c = p[i];
        if (c == '"') {
            size_t j = sip_skip_quoted(p, i, n);
            if (j == (size_t)-1) {
                i = n;
                break;
            }
            i = j - 1;
        } else if (c == '<') {
            angle = 1;
        } else if (c == '>') {
            angle = 0;
        } else if (c == ',' && !angle) {
            break;
        }
    }
    *out = sip_trim(sip_sub(p, start, i));
    *pos = i + 1;
    return 1;
}

int sip_parse_uint(sip_slice_t s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (s.len == 0)
        return -1;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned char)s.p[i] - '0';
        if (d > 9)
            return -1;
        v = v * 10 + d;
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

int sip_is_token(sip_slice_t s)
{
    if (s.len == 0)
        return 0;
    for (size_t i = 0; i < s.len; i++) {
        if (!sip_c((unsigned char)s.p[i], SIPC_TOKEN))
            return 0;
    }
    return 1;
}

int sip_cseq_parse(sip_slice_t v, sip_cseq_t *out)
{
    size_t i = 0, n = v.len;
    uint64_t num;
    v = sip_trim(v);
    n = v.len;
    while (i < n && sip_c((unsigned char)v.p[i], SIPC_DIGIT))
        i++;
    if (i == 0 || i == n || !sip_c((unsigned char)v.p[i], SIPC_WS))
        return -1;
    if (sip_parse_uint(sip_sub(v.p, 0, i), UINT32_MAX, &num) < 0)
        return -1;
    i = sip_skip_ws(v.p, i, n);
    out->number = (uint32_t)num;
    out->method = sip_sub(v.p, i, n);
    if (!sip_is_token(out->method))
        return -1;
    out->method_id = sip_method_lookup(out->method.p, out->method.len);
    return 0;
}

int sip_max_forwards_parse(sip_slice_t v)
{
    uint64_t n;
    if (sip_parse_uint(sip_trim(v), 255, &n) < 0)
        return -1;
    return (int)n;
}

int sip_call_id_check(sip_slice_t v)
{
    const char *at = NULL;
    v = sip_trim(v);
    if (v.len == 0)
        return -1;
    for (size_t i = 0; i < v.len; i++) {
        if (sip_c((unsigned char)v.p[i], SIPC_WORD))
            continue;
        /* word ["@" word]: one '@', not first, not last */
        if (v.p[i] != '@' || at || i == 0 || i + 1 == v.len)
            return -1;
        at = v.p + i;
    }
    return 0;
}

int sip_content_length_parse(sip_slice_t v, size_t *out)
{
    uint64_t n;
    /* bounded well below SIZE_MAX so that hdr_len + n can never wrap */
    if (sip_parse_uint(sip_trim(v), (uint64_t)1 << 40, &n) < 0)
        return -1;
    *out = (size_t)n;
    return 0;
}

int sip_msg_option_tag_next(const sip_msg_t *msg, sip_hdr_id_t id, sip_tag_iter_t *it,
                            sip_slice_t *tag)
{
    if (!it->started) {
        it->started = 1;
        it->hdr = sip_msg_header_find(msg, id);
        it->pos = 0;
    }
    while (it->hdr) {
        if (sip_value_next(it->hdr->value, &it->pos, tag))
            return sip_is_token(*tag) ? 1 : -1;
        it->hdr = sip_msg_header_next(msg, it->hdr);
        it->pos = 0;
    }
    return 0;
}
