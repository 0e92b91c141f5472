#!/usr/bin/env bash
# testssl_check.sh TLS_PEER SRCDIR - testssl.sh's verdict on a tls/ listener with its default
# settings, once with the ECDSA certificate and once with an RSA one (RSA certificates are where
# key-transport suites, ROBOT and friends would show up). It scans protocols (-p), cipher
# categories (-s), server preferences (-P), forward secrecy (-f), the known vulnerabilities (-U)
# and every cipher per protocol (-E), then fails if a protocol below TLS 1.2 is offered, if an
# offered cipher has no forward secrecy (or no authentication), or if any finding is HIGH or
# CRITICAL (or a FATAL scan problem). tls_peer must also survive the scan and exit cleanly.
# Everything runs on 127.0.0.1 and is stopped by its PID.
set -u

peer=$1
srcdir=$2
testssl=$(command -v testssl.sh || command -v testssl || true)
if [ -z "$testssl" ]; then
    echo "FAIL testssl.sh is not installed (scripts/setup installs it)"
    exit 1
fi
for tool in python3 timeout openssl; do
    command -v "$tool" >/dev/null || {
        echo "FAIL $tool is missing"
        exit 1
    }
done

tmp=$(mktemp -d /tmp/edge-testssl.XXXXXX)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

if ! "$srcdir/tests/tls/mkcerts.sh" "$tmp/certs" >"$tmp/mkcerts.log" 2>&1; then
    echo "FAIL mkcerts.sh:"
    cat "$tmp/mkcerts.log"
    exit 1
fi

pass=0
fails=0
started=$(date +%s)

# The JSON verdict: prints one line per offending finding and exits 1 if there is one.
judge() { # judge JSONFILE LABEL
    python3 - "$1" "$2" <<'EOF'
import json
import sys

path, label = sys.argv[1], sys.argv[2]
try:
    with open(path) as f:
        doc = json.load(f)
    results = doc["scanResult"][0]
except (OSError, ValueError, KeyError, IndexError) as e:
    print(f"FAIL {label}: no usable JSON from testssl.sh ({e!r})")
    sys.exit(1)

findings = []
for section, items in results.items():
    if isinstance(items, list):
        findings += [(section, it) for it in items if isinstance(it, dict)]
by_id = {it.get("id"): it for _, it in findings}
bad = []

# protocols below TLS 1.2 must not be offered; 1.2 and 1.3 must be (or the scan saw nothing)
for pid in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
    it = by_id.get(pid)
    if it is None or not it.get("finding", "").startswith("not offered"):
        bad.append(f"protocol {pid}: {it.get('finding') if it else 'not tested'}")
for pid in ("TLS1_2", "TLS1_3"):
    it = by_id.get(pid)
    if it is None or not it.get("finding", "").startswith("offered"):
        bad.append(f"protocol {pid} expected offered: {it.get('finding') if it else 'not tested'}")

# every offered cipher (-E) must be forward secret: (EC)DHE key exchange, or TLS 1.3
ciphers = [it for sec, it in findings if sec == "cipherTests"]
if not ciphers:
    bad.append("cipherTests: testssl.sh listed no offered cipher (did -E run?)")
for it in ciphers:
    words = it.get("finding", "").split()
    # "TLS 1.2  xc02b  ECDHE-ECDSA-AES128-GCM-SHA256  ECDH 253  AESGCM  128  TLS_ECDHE_..."
    tls13 = words[:2] == ["TLS", "1.3"]
    kx = words[4] if len(words) > 4 else ""
    iana = words[-1] if words else ""
    if "_anon_" in iana or iana.startswith("TLS_NULL"):
        bad.append(f"{it.get('id')}: no authentication: {it.get('finding')}")
    elif not (tls13 or (kx in ("ECDH", "DH") and ("_ECDHE_" in iana or "_DHE_" in iana))):
        bad.append(f"{it.get('id')}: no forward secrecy: {it.get('finding')}")
pfs = by_id.get("PFS")
if pfs is None or pfs.get("finding") != "offered":
    bad.append(f"PFS: {pfs.get('finding') if pfs else 'not tested'}")
vulns = [it for sec, it in findings if sec == "vulnerabilities"]
if len(vulns) < 10:
    bad.append(f"vulnerabilities: only {len(vulns)} findings (did -U run?)")

# anything testssl.sh itself rates HIGH or CRITICAL, or a scan that broke down
for sec, it in findings:
    if it.get("severity") in ("HIGH", "CRITICAL", "FATAL"):
        bad.append(f"{it.get('severity')} {it.get('id')} [{sec}]: {it.get('finding')}")

# below the bar but worth reading in the log
for _, it in findings:
    if it.get("severity") in ("LOW", "MEDIUM", "WARN"):
        print(f"     {label}: {it.get('severity')} {it.get('id')}: {it.get('finding')}")
print(f"     {label}: {len(findings)} findings, {len(ciphers)} ciphers offered: "
      + " ".join(it.get("id", "").replace("cipher-", "") for it in ciphers))
if bad:
    for b in bad:
        print(f"FAIL {label}: {b}")
    sys.exit(1)
print(f"ok   {label}: no old protocol, no cipher without forward secrecy, nothing HIGH/CRITICAL")
EOF
}

scan() { # scan LABEL CERT KEY
    local label=$1 cert=$2 key=$3 log=$tmp/$1.server.log json=$tmp/$1.json
    local port="" t0 rc
    "$peer" server 127.0.0.1 0 --cert "$cert" --key "$key" >"$log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        port=$(sed -n 's/^LISTENING \([0-9]*\)$/\1/p' "$log")
        [ -n "$port" ] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        echo "FAIL $label: tls_peer server did not start:"
        cat "$log"
        fails=$((fails + 1))
        return
    fi

    t0=$(date +%s)
    timeout 280 "$testssl" --quiet --warnings off --color 0 --connect-timeout 10 \
        --openssl-timeout 10 --jsonfile-pretty "$json" -p -s -P -f -U -E --ip one \
        "127.0.0.1:$port" </dev/null >"$tmp/$label.out" 2>&1
    rc=$?
    echo "     $label: testssl.sh took $(($(date +%s) - t0)) s (exit status $rc)"
    if [ "$rc" -eq 124 ]; then
        echo "FAIL $label: testssl.sh did not finish within 280 s"
        tail -20 "$tmp/$label.out"
        fails=$((fails + 1))
    elif judge "$json" "$label"; then
        pass=$((pass + 1))
    else
        fails=$((fails + 1))
        echo "---- testssl.sh output ($label)"
        cat "$tmp/$label.out"
    fi

    # tls_peer outlived the scan: one more handshake works, then SIGTERM ends it cleanly
    if echo ping | timeout 10 openssl s_client -connect "127.0.0.1:$port" -CAfile \
        "$tmp/certs/ca.pem" -servername edge.example -verify_return_error >"$tmp/after.out" 2>&1 &&
        grep -q '^Verify return code: 0 (ok)' "$tmp/after.out"; then
        echo "ok   $label: tls_peer still serves after the scan"
        pass=$((pass + 1))
    else
        echo "FAIL $label: tls_peer does not serve after the scan:"
        tail -20 "$tmp/after.out"
        fails=$((fails + 1))
    fi
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 100); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null
    fi
    wait "$server_pid"
    rc=$?
    server_pid=""
    if [ "$rc" -eq 0 ] && ! grep -Eq 'Sanitizer|runtime error:' "$log"; then
        echo "ok   $label: tls_peer exits cleanly after $(grep -c '^HANDSHAKE' "$log") handshakes"
        pass=$((pass + 1))
    else
        echo "FAIL $label: tls_peer exit status $rc after the scan:"
        grep -v '^HANDSHAKE\|^CLOSED\|^EOF\|^DATA' "$log" | tail -40
        fails=$((fails + 1))
    fi
}

scan ecdsa "$tmp/certs/server.pem" "$tmp/certs/server.key"
scan rsa "$tmp/certs/rsa.pem" "$tmp/certs/rsa.key"

echo "$pass passed, $fails failed ($(($(date +%s) - started)) s)"
[ "$fails" -eq 0 ]
