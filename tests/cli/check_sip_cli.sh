#!/usr/bin/env bash
# check_sip_cli.sh EDGEPROXY CORPUS_DIR - the `edgeproxy --check-sip` command line: output lines,
# exit statuses and standard input, as an operator uses it on captured messages.
set -u
bin=$1
corpus=$2/sip
fails=0
pass=0

expect() { # expect NAME WANT_STATUS REGEX -- command...
    local name=$1 want=$2 regex=$3
    shift 4
    local out status
    out=$("$@" 2>&1)
    status=$?
    if [ "$status" -ne "$want" ] || ! grep -Eq -- "$regex" <<<"$out"; then
        echo "FAIL $name: status $status (want $want), output:"
        echo "$out"
        fails=$((fails + 1))
    else
        echo "ok   $name"
        pass=$((pass + 1))
    fi
}

expect forward 0 '^.*10-handmade-lync-message-im.sip: forward MESSAGE$' -- \
    "$bin" --check-sip "$corpus/samples/10-handmade-lync-message-im.sip"
expect response 0 ': forward-response 407$' -- \
    "$bin" --check-sip "$corpus/samples/02-ms-sip-407-kerberos-ntlm-challenge.sip"
expect reply-420 1 'bext01.dat: reply-420 OPTIONS: 420 Bad Extension .*Unsupported: noProxiesSupportThis' -- \
    "$bin" --check-sip "$corpus/rfc4475/bext01.dat"
expect close 1 'ncl.dat: close INVITE: 400 Bad Content-Length' -- \
    "$bin" --check-sip "$corpus/rfc4475/ncl.dat"
expect two-files 1 'zeromf.dat: reply-483 OPTIONS' -- \
    "$bin" --check-sip "$corpus/samples/01-ms-sip-register-initial.sip" "$corpus/rfc4475/zeromf.dat"
expect stdin 0 '^-: forward REGISTER$' -- \
    sh -c "\"$bin\" --check-sip - < \"$corpus/samples/01-ms-sip-register-initial.sip\""
expect pipelined 1 'dblreq.dat: forward REGISTER' -- \
    "$bin" --check-sip "$corpus/rfc4475/dblreq.dat"
expect truncated 1 'clerr.dat: close INVITE: input ends inside the message' -- \
    "$bin" --check-sip "$corpus/rfc4475/clerr.dat"
expect missing-file 2 'no-such-file.sip: No such file or directory' -- \
    "$bin" --check-sip "$corpus/no-such-file.sip"
expect no-args 2 'needs at least one FILE' -- "$bin" --check-sip
expect empty 1 'no SIP message' -- sh -c "\"$bin\" --check-sip - < /dev/null"

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
