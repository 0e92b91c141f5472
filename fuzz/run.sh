#!/bin/sh
# fuzz/run.sh SECONDS - run every libFuzzer harness for SECONDS each on a fresh seed corpus.
# Builds nothing: point BUILD at a tree configured with -DEDGE_FUZZ=ON -DCMAKE_C_COMPILER=clang
# (default build-fuzz under the repository root; HARNESSES picks some, default all). Seeds are
# every SIP message file of tests/corpus/sip for the SIP harnesses and every stream of
# tests/corpus/xmpp for the XMPP one, plus fuzz/corpus/<harness>/ when present, copied to a
# temporary directory so the checked-in corpus is never rewritten. Exits non-zero if any harness
# finds a crash; the reproducer and the full log stay in $OUT (default $BUILD/fuzz-out).
set -u

secs=${1:-}
case "$secs" in
'' | *[!0-9]*)
    echo "usage: $0 SECONDS   (env BUILD=build dir, default build-fuzz; HARNESSES=names)" >&2
    exit 2
    ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-fuzz}
out=${OUT:-$build/fuzz-out}
harnesses=${HARNESSES:-"sip_parse sip_diff_osip xmpp_stream proxy_proto"}

work=$(mktemp -d "${TMPDIR:-/tmp}/edge-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$out" || exit 1

status=0
for h in $harnesses; do
    bin=$build/fuzz/fuzz_$h
    if [ ! -x "$bin" ]; then
        echo "$h: MISSING $bin (configure with -DEDGE_FUZZ=ON and build first)"
        status=1
        continue
    fi
    seeds=$work/$h
    mkdir -p "$seeds"
    # Seeds are copied under unique names: several directories hold files with equal names.
    case $h in
    xmpp_*) from=$root/tests/corpus/xmpp ;;
    *) from=$root/tests/corpus/sip ;;
    esac
    find "$from" -type f \( -name '*.dat' -o -name '*.sip' -o -name '*.xml' \) |
        while read -r f; do
            cp "$f" "$seeds/$(echo "$f" | sed "s|^$from/||; s|/|_|g")"
        done
    if [ -d "$root/fuzz/corpus/$h" ]; then
        cp "$root/fuzz/corpus/$h"/* "$seeds/" 2>/dev/null
    fi
    nseeds=$(ls "$seeds" | wc -l)

    rm -rf "$out/$h"
    mkdir -p "$out/$h"
    log=$out/$h/fuzz.log
    "$bin" "$seeds" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -artifact_prefix="$out/$h/" -print_final_stats=1 >"$log" 2>&1
    rc=$?

    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    corp=$(grep -o 'corp: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    notes=$(grep -c 'questionable:' "$log")
    if [ $rc -eq 0 ]; then
        echo "$h: ok, ${runs:-?} runs in ${secs}s, cov ${cov:-?}, corpus ${corp:-?}" \
            "(from $nseeds seeds), $notes questionable notes, log $log"
    else
        crash=$(ls "$out/$h" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' | head -n 1)
        echo "$h: FAILED (exit $rc) after ${runs:-?} runs: ${crash:+$out/$h/$crash}, log $log"
        status=1
    fi
done
exit $status
