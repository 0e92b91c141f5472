#!/usr/bin/env bash
# check_config_cli.sh EDGEPROXY SOURCE_DIR - `edgeproxy --check-config`: a configuration whose
# certificates exist passes; a syntax or value mistake names file:line and the key; a missing or
# broken certificate names the listener and the file; the shipped example is valid apart from
# its certificate paths, which do not exist on a test machine.
set -u
bin=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$src/tests/tls/mkcerts.sh" "$work/certs" >/dev/null 2>&1 || { echo "mkcerts failed"; exit 1; }
pass=0
fails=0

expect() { # expect NAME WANT_STATUS REGEX CONFIG_TEXT
    local name=$1 want=$2 regex=$3 text=$4 out status
    printf '%s' "$text" >"$work/t.conf"
    out=$("$bin" --check-config "$work/t.conf" 2>&1)
    status=$?
    if [ "$status" -ne "$want" ] || ! grep -Eq -- "$regex" <<<"$out"; then
        echo "FAIL $name: status $status (want $want), output: $out"
        fails=$((fails + 1))
    else
        echo "ok   $name"
        pass=$((pass + 1))
    fi
}

c=$work/certs
good="[listener remote]
address = 127.0.0.1:5443
cert = $c/server.pem
key = $c/server.key

[listener internal]
address = 127.0.0.2:5061
side = internal
cert = $c/server.pem
key = $c/server.key
ca = $c/ca.pem

[pool]
members = 127.0.0.3:5061, 127.0.0.4:5061
cert = $c/client.pem
key = $c/client.key
ca = $c/ca.pem
"
expect valid 0 'ok: node edge1, 2 listeners, 2 pool members' "$good"
expect unknown-key 1 "t.conf:5: \[listener remote\] colour: unknown key" "${good/key = $c\/server.key
/key = $c/server.key
colour = red
}"
expect bad-duration 1 't.conf:2: \[pool\] health_interval:' "[pool]
health_interval = often
"
expect missing-cert 1 "\[listener remote\] .*/nope.pem: cannot read certificate chain" \
    "${good/$c\/server.pem/$c/nope.pem}"
expect expired-cert 1 "\[listener remote\] .*/expired.pem: certificate expired" \
    "${good/cert = $c\/server.pem
key = $c\/server.key/cert = $c/expired.pem
key = $c/expired.key}"
expect key-mismatch 1 "mismatch.key: private key does not match" \
    "${good/cert = $c\/server.pem
key = $c\/server.key/cert = $c/mismatch.pem
key = $c/mismatch.key}"
# the pool CA is the last line of the good configuration: swap it for a missing file
printf '%s' "${good%ca = $c/ca.pem
}ca = $c/nope-ca.pem
" >"$work/pool.conf"
out=$("$bin" --check-config "$work/pool.conf" 2>&1)
if [ $? -eq 1 ] && grep -q "\[pool\] .*/nope-ca.pem: cannot read CA certificates" <<<"$out"; then
    echo "ok   bad-pool-ca-file"; pass=$((pass + 1))
else
    echo "FAIL bad-pool-ca-file: $out"; fails=$((fails + 1))
fi
out=$("$bin" --check-config "$src/conf/examples/node1.conf" 2>&1)
if [ $? -eq 1 ] && grep -q "\[listener access-443\] /etc/edgeproxy/access.pem: cannot read" <<<"$out"; then
    echo "ok   example-parses-up-to-certificates"; pass=$((pass + 1))
else
    echo "FAIL example: $out"; fails=$((fails + 1))
fi
echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
