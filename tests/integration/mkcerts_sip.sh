#!/usr/bin/env bash
# mkcerts_sip.sh DIR - the certificates of the SIP test topology, made with the openssl CLI into
# DIR (ECDSA P-256), modelled on tests/tls/mkcerts.sh, so the integration tests and benchmarks
# never depend on files that age:
#   ca.pem/.key                the test CA every peer trusts
#   edge-external.pem/.key     edge.example.test, sip.example.test (remote users, federation)
#   edge-internal.pem/.key     edge-int.example.test; server AND client (the pool leg, both ways)
#   director.pem/.key          director.example.test; server and client
#   director1.pem/.key         director1.example.test + director.example.test (failover pool)
#   director2.pem/.key         director2.example.test + director.example.test
#   client.pem/.key            alice.example.test, a remote user's client certificate
#   partner.pem/.key           fabrikam.test, sip.fabrikam.test; server and client (federation)
#   rogue-ca.pem, rogue.pem/.key   edge.example.test etc. from a CA nobody trusts (server+client)
# Every *.pem leaf is the certificate alone; *-chain.pem is leaf + CA for peers that want it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

dir=${1:?usage: mkcerts_sip.sh DIR}
mkdir -p "$dir"
cd "$dir"

# shellcheck source=certlib.sh
. "$here/certlib.sh"

mkca ca "edgeproxy SIP test CA"
mkca rogue-ca "untrusted SIP test CA"

both=serverAuth,clientAuth
leaf edge-external ca edge.example.test serverAuth edge.example.test sip.example.test
leaf edge-internal ca edge-int.example.test $both edge-int.example.test
leaf director ca director.example.test $both director.example.test
leaf director1 ca director1.example.test $both director1.example.test director.example.test
leaf director2 ca director2.example.test $both director2.example.test director.example.test
leaf client ca alice.example.test clientAuth alice.example.test
leaf partner ca fabrikam.test $both fabrikam.test sip.fabrikam.test
leaf rogue rogue-ca edge.example.test $both edge.example.test edge-int.example.test \
    director.example.test fabrikam.test

# Sanity: every certificate the tests rely on verifies against the CA it should, and only that.
openssl verify -CAfile ca.pem edge-external.pem edge-internal.pem director.pem director1.pem \
    director2.pem client.pem partner.pem >/dev/null
openssl verify -CAfile rogue-ca.pem rogue.pem >/dev/null
if openssl verify -CAfile ca.pem rogue.pem >/dev/null 2>&1; then
    echo "mkcerts_sip: rogue.pem verifies against the test CA, it should not" >&2
    exit 1
fi
