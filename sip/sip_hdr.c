/*
 * sip_hdr.c - the header-name table (ids, compact forms), the character classes, method ids,
 * comma-list splitting and the scalar header sub-parsers (CSeq, Max-Forwards, Call-ID,
 * Content-Length). Everything here is table-driven so the index pass costs one lookup per line.
 */
#include <string.h>

#include "sip.h"
#include "sip_chars.h"

const uint16_t sip_ctab[256] = {
    [9] = SIPC_WS, /* '\t' */
    [10] = SIPC_WS, /* '\n' */
    [13] = SIPC_WS, /* '\r' */
    [32] = SIPC_WS, /* ' ' */
    [33] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL, /* '!' */
    [34] = SIPC_WORD, /* '"' */
    [36] = SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_HDRVAL, /* '$' */
    [37] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL, /* '%' */
    [38] = SIPC_USER | SIPC_PASS | SIPC_PARAM, /* '&' */
    [39] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL, /* "'" */
    [40] = SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL, /* '(' */
    [41] = SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL, /* ')' */
    [42] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL, /* '*' */
    [43] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL | SIPC_SCHEME, /* '+' */
    [44] = SIPC_USER | SIPC_PASS, /* ',' */
    [45] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME, /* '-' */
    [46] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME, /* '.' */
    [47] = SIPC_USER | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL, /* '/' */
    [48] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME, /* '0' */
    [49] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME, /* '1' */
    [50] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME, /* '2' */
    [51] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME, /* '3' */
    [52] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME, /* '4' */
    [53] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME, /* '5' */
    [54] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME, /* '6' */
    [55] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME, /* '7' */
    [56] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME, /* '8' */
    [57] = SIPC_TOKEN | SIPC_DIGIT | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_SCHEME, /* '9' */
    [58] = SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL, /* ':' */
    [59] = SIPC_USER, /* ';' */
    [60] = SIPC_WORD, /* '<' */
    [61] = SIPC_USER | SIPC_PASS, /* '=' */
    [62] = SIPC_WORD, /* '>' */
    [63] = SIPC_USER | SIPC_WORD | SIPC_HDRVAL, /* '?' */
    [65] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'A' */
    [66] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'B' */
    [67] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'C' */
    [68] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'D' */
    [69] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'E' */
    [70] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'F' */
    [71] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'G' */
    [72] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'H' */
    [73] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'I' */
    [74] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'J' */
    [75] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'K' */
    [76] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'L' */
    [77] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'M' */
    [78] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'N' */
    [79] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'O' */
    [80] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'P' */
    [81] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'Q' */
    [82] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'R' */
    [83] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'S' */
    [84] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'T' */
    [85] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'U' */
    [86] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'V' */
    [87] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'W' */
    [88] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'X' */
    [89] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'Y' */
    [90] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'Z' */
    [91] = SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL, /* '[' */
    [92] = SIPC_WORD, /* '\\' */
    [93] = SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL, /* ']' */
    [95] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL, /* '_' */
    [96] = SIPC_TOKEN | SIPC_WORD, /* '`' */
    [97] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'a' */
    [98] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'b' */
    [99] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'c' */
    [100] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'd' */
    [101] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'e' */
    [102] = SIPC_TOKEN | SIPC_HEX | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'f' */
    [103] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'g' */
    [104] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'h' */
    [105] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'i' */
    [106] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'j' */
    [107] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'k' */
    [108] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'l' */
    [109] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'm' */
    [110] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'n' */
    [111] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'o' */
    [112] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'p' */
    [113] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'q' */
    [114] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'r' */
    [115] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 's' */
    [116] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 't' */
    [117] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'u' */
    [118] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'v' */
    [119] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'w' */
    [120] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'x' */
    [121] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'y' */
    [122] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HNAME | SIPC_HDRVAL | SIPC_ALPHA | SIPC_SCHEME, /* 'z' */
    [123] = SIPC_WORD, /* '{' */
    [125] = SIPC_WORD, /* '}' */
    [126] = SIPC_TOKEN | SIPC_USER | SIPC_PASS | SIPC_PARAM | SIPC_WORD | SIPC_HDRVAL, /* '~' */
};

static const struct {
    const char *name;
    char compact;
} hdr_names[SIP_HDR__COUNT] = {
#define SIP_HDR_NAME(id, nm, c) [SIP_HDR_##id] = {nm, c},
    SIP_HDR_LIST(SIP_HDR_NAME)
#undef SIP_HDR_NAME
};

/*
 * Known names grouped by length, so a lookup compares against at most six candidates.
 * test_sip_index checks that every name of SIP_HDR_LIST resolves to its own id through here:
 * a header added to the list must be added to this table too.
 */
static const uint8_t hdr_by_len[28][6] = {
    [2] = {SIP_HDR_TO},
    [3] = {SIP_HDR_VIA},
    [4] = {SIP_HDR_CSEQ, SIP_HDR_DATE, SIP_HDR_FROM, SIP_HDR_PATH, SIP_HDR_RACK, SIP_HDR_RSEQ},
    [5] = {SIP_HDR_ALLOW, SIP_HDR_EVENT, SIP_HDR_ROUTE},
    [6] = {SIP_HDR_ACCEPT, SIP_HDR_MIN_SE, SIP_HDR_SERVER},
    [7] = {SIP_HDR_CALL_ID, SIP_HDR_CONTACT, SIP_HDR_EXPIRES, SIP_HDR_REQUIRE, SIP_HDR_SUBJECT, SIP_HDR_WARNING},
    [8] = {SIP_HDR_IDENTITY, SIP_HDR_PRIORITY, SIP_HDR_REFER_TO, SIP_HDR_REPLY_TO},
    [9] = {SIP_HDR_CALL_INFO, SIP_HDR_SUPPORTED, SIP_HDR_TIMESTAMP},
    [10] = {SIP_HDR_ALERT_INFO, SIP_HDR_ERROR_INFO, SIP_HDR_USER_AGENT},
    [11] = {SIP_HDR_IN_REPLY_TO, SIP_HDR_MIN_EXPIRES, SIP_HDR_REFERRED_BY, SIP_HDR_RETRY_AFTER, SIP_HDR_UNSUPPORTED},
    [12] = {SIP_HDR_ALLOW_EVENTS, SIP_HDR_CONTENT_TYPE, SIP_HDR_MAX_FORWARDS, SIP_HDR_MIME_VERSION, SIP_HDR_ORGANIZATION, SIP_HDR_RECORD_ROUTE},
    [13] = {SIP_HDR_AUTHORIZATION, SIP_HDR_MS_KEEP_ALIVE, SIP_HDR_PROXY_REQUIRE},
    [14] = {SIP_HDR_ACCEPT_CONTACT, SIP_HDR_CONTENT_LENGTH, SIP_HDR_REJECT_CONTACT},
    [15] = {SIP_HDR_ACCEPT_ENCODING, SIP_HDR_ACCEPT_LANGUAGE, SIP_HDR_SESSION_EXPIRES},
    [16] = {SIP_HDR_CONTENT_ENCODING, SIP_HDR_CONTENT_LANGUAGE, SIP_HDR_WWW_AUTHENTICATE},
    [18] = {SIP_HDR_PROXY_AUTHENTICATE, SIP_HDR_SUBSCRIPTION_STATE},
    [19] = {SIP_HDR_AUTHENTICATION_INFO, SIP_HDR_CONTENT_DISPOSITION, SIP_HDR_P_ASSERTED_IDENTITY, SIP_HDR_PROXY_AUTHORIZATION, SIP_HDR_REQUEST_DISPOSITION},
    [27] = {SIP_HDR_MS_EDGE_TRUST},
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

/* Names are token-checked before lookup, so OR-ing 0x20 folds case without false matches. */
static int name_ieq(const char *a, const char *lit, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)a[i] | 0x20) != ((unsigned char)lit[i] | 0x20))
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
    if (len >= sizeof hdr_by_len / sizeof hdr_by_len[0])
        return SIP_HDR_OTHER;
    for (size_t k = 0; k < sizeof hdr_by_len[0] && hdr_by_len[len][k]; k++) {
        sip_hdr_id_t id = (sip_hdr_id_t)hdr_by_len[len][k];
        if (name_ieq(name, hdr_names[id].name, len))
            return id;
    }
    return SIP_HDR_OTHER;
}

const char *sip_hdr_name(sip_hdr_id_t id)
{
    return (unsigned)id < SIP_HDR__COUNT ? hdr_names[id].name : "";
}

static const struct {
    const char *name;
    sip_method_t id;
} methods[] = {
    {"INVITE", SIP_METHOD_INVITE},       {"ACK", SIP_METHOD_ACK},
    {"BYE", SIP_METHOD_BYE},             {"CANCEL", SIP_METHOD_CANCEL},
    {"OPTIONS", SIP_METHOD_OPTIONS},     {"REGISTER", SIP_METHOD_REGISTER},
    {"PRACK", SIP_METHOD_PRACK},         {"SUBSCRIBE", SIP_METHOD_SUBSCRIBE},
    {"NOTIFY", SIP_METHOD_NOTIFY},       {"PUBLISH", SIP_METHOD_PUBLISH},
    {"INFO", SIP_METHOD_INFO},           {"REFER", SIP_METHOD_REFER},
    {"MESSAGE", SIP_METHOD_MESSAGE},     {"UPDATE", SIP_METHOD_UPDATE},
    {"SERVICE", SIP_METHOD_SERVICE},     {"BENOTIFY", SIP_METHOD_BENOTIFY},
    {"NEGOTIATE", SIP_METHOD_NEGOTIATE},
};

sip_method_t sip_method_lookup(const char *p, size_t len)
{
    if (len < 3 || len > 9)
        return SIP_METHOD_OTHER;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (methods[i].name[0] == p[0] && strlen(methods[i].name) == len &&
            memcmp(methods[i].name, p, len) == 0)
            return methods[i].id;
    }
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
        if (h->id != SIP_HDR_OTHER || (h->name.len == prev->name.len &&
                                       name_ieq(h->name.p, prev->name.p, h->name.len)))
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
        if (h->id == SIP_HDR_OTHER && h->name.len == len && sip_slice_ieq(h->name, name))
            return h;
    }
    return NULL;
}

size_t sip_skip_quoted(const char *p, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        if (p[i] == '\\') {
            if (++i >= n)
                return (size_t)-1;
        } else if (p[i] == '"') {
            return i + 1;
        }
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
    size_t at = 0, i;
    v = sip_trim(v);
    if (v.len == 0)
        return -1;
    for (i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if (c == '@') {
            if (at || i == 0 || i + 1 == v.len)
                return -1;
            at = 1;
        } else if (!sip_c(c, SIPC_WORD)) {
            return -1;
        }
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
