#!/usr/bin/env bash
# mkcerts_xmpp.sh DIR - the certificates of the XMPP federation test topology, made with the
# openssl CLI into DIR (ECDSA P-256), like mkcerts_sip.sh:
#   ca.pem/.key              the test CA the edge, the gateway and fabrikam trust
#   edge-s2s.pem/.key        contoso.test: the edge toward partners (server on 5269, client out)
#   edge-gw.pem/.key         edge-int.contoso.test: the edge toward the gateway (server and client)
#   gateway.pem/.key         gateway.contoso.test + contoso.test: the internal gateway (Prosody)
#   fabrikam.pem/.key        fabrikam.test: a partner with a certificate we trust (SASL EXTERNAL)
#   capulet.pem/.key         capulet.example: the corpus partner (raw client)
#   rogue-ca.pem/.key        a CA nobody but northwind trusts
#   northwind.pem/.key       northwind.test from the rogue CA (a dialback-only partner)
#   rogue-fabrikam.pem/.key  fabrikam.test from the rogue CA (an impostor)
#   rogue-gateway.pem/.key   gateway.contoso.test + contoso.test from the rogue CA
# *-chain.pem is leaf + CA.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

dir=${1:?usage: mkcerts_xmpp.sh DIR}
mkdir -p "$dir"
cd "$dir"

# shellcheck source=certlib.sh
. "$here/certlib.sh"

mkca ca "edgeproxy XMPP test CA"
mkca rogue-ca "untrusted XMPP test CA"

leaf edge-s2s ca contoso.test serverAuth,clientAuth contoso.test
leaf edge-gw ca edge-int.contoso.test serverAuth,clientAuth edge-int.contoso.test
leaf gateway ca gateway.contoso.test serverAuth,clientAuth gateway.contoso.test contoso.test
leaf fabrikam ca fabrikam.test serverAuth,clientAuth fabrikam.test
leaf capulet ca capulet.example serverAuth,clientAuth capulet.example
leaf northwind rogue-ca northwind.test serverAuth,clientAuth northwind.test
leaf rogue-fabrikam rogue-ca fabrikam.test serverAuth,clientAuth fabrikam.test
leaf rogue-gateway rogue-ca gateway.contoso.test serverAuth,clientAuth gateway.contoso.test contoso.test

openssl verify -CAfile ca.pem edge-s2s.pem edge-gw.pem gateway.pem fabrikam.pem capulet.pem \
    >/dev/null
openssl verify -CAfile rogue-ca.pem northwind.pem rogue-fabrikam.pem rogue-gateway.pem >/dev/null
