/*
 * sip_err.c - the one table mapping each SIP defect to the response a proxy sends for it and
 * to whether the stream is still framed afterwards. Nothing else in the code spells a status.
 */
#include "sip.h"

static const struct {
    int status;
    const char *reason;
    const char *detail;
    const char *name;
} err_table[SIP_ERR__COUNT] = {
#define SIP_ERR_ROW(id, st, rs, dt) [id] = {st, rs, dt, #id},
    SIP_ERR_LIST(SIP_ERR_ROW)
#undef SIP_ERR_ROW
};

static int err_ok(sip_err_t err)
{
    return (unsigned)err < SIP_ERR__COUNT;
}

int sip_err_status(sip_err_t err)
{
    return err_ok(err) ? err_table[err].status : 500;
}

const char *sip_err_reason(sip_err_t err)
{
    return err_ok(err) ? err_table[err].reason : "Server Internal Error";
}

const char *sip_strerror(sip_err_t err)
{
    return err_ok(err) ? err_table[err].detail : "unknown error";
}

const char *sip_err_name(sip_err_t err)
{
    if (!err_ok(err))
        return "UNKNOWN";
    /* skip the "SIP_E_" / "SIP_" prefix */
    const char *n = err_table[err].name;
    return n + (n[4] == 'E' && n[5] == '_' ? 6 : 4);
}

int sip_err_is_framing(sip_err_t err)
{
    switch (err) {
    case SIP_E_BARE_CRLF:
    case SIP_E_TOO_MANY_HEADERS:
    case SIP_E_LINE_TOO_LONG:
    case SIP_E_TOO_LARGE:
    case SIP_E_CL_MISSING:
    case SIP_E_CL_BAD:
    case SIP_E_CL_MULTIPLE:
        return 1;
    default:
        return 0;
    }
}
