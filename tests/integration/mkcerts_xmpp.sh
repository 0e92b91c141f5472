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

dir=${1:?usage: mkcerts_xmpp.sh DIR}
mkdir -p "$dir"
cd "$dir"

newkey() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

mkca() {
    newkey "$1.key"
    openssl req -new -x509 -key "$1.key" -out "$1.pem" -days 3650 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}

# leaf NAME CA CN SAN...  (server and client: every s2s peer is both)
leaf() {
    local name=$1 ca=$2 cn=$3
    shift 3
    local sans
    sans=$(printf 'DNS:%s,' "$@")
    newkey "$name.key"
    openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr"
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n%s\n%s\n' \
        "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=${sans%,}" >"$name.ext"
    openssl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial \
        -days 825 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
    cat "$name.pem" "$ca.pem" >"$name-chain.pem"
    rm -f "$name.csr" "$name.ext"
    chmod 644 "$name.key"
}

mkca ca "edgeproxy XMPP test CA"
mkca rogue-ca "untrusted XMPP test CA"

leaf edge-s2s ca contoso.test contoso.test
leaf edge-gw ca edge-int.contoso.test edge-int.contoso.test
leaf gateway ca gateway.contoso.test gateway.contoso.test contoso.test
leaf fabrikam ca fabrikam.test fabrikam.test
leaf capulet ca capulet.example capulet.example
leaf northwind rogue-ca northwind.test northwind.test
leaf rogue-fabrikam rogue-ca fabrikam.test fabrikam.test
leaf rogue-gateway rogue-ca gateway.contoso.test gateway.contoso.test contoso.test

openssl verify -CAfile ca.pem edge-s2s.pem edge-gw.pem gateway.pem fabrikam.pem capulet.pem \
    >/dev/null
openssl verify -CAfile rogue-ca.pem northwind.pem rogue-fabrikam.pem rogue-gateway.pem >/dev/null
