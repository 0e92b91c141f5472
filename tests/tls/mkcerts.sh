#!/usr/bin/env bash
# mkcerts.sh DIR - every certificate and key the TLS integration tests need, made with the openssl
# CLI into DIR (ECDSA P-256 unless said otherwise), so the tests never depend on files that age:
#   ca.pem                 the test CA the peers trust
#   server.pem/.key        edge.example, *.wild.example (the default certificate)
#   alt.pem/.key           alt.example (picked by SNI)
#   b.pem/.key             CN edge-b.example, SANs as server.pem (the reload target)
#   client.pem/.key        client.example, from the test CA
#   rogue-ca.pem, rogue-client.pem/.key   a client certificate from a CA nobody trusts
#   expired.pem/.key       edge.example, valid only in January 2020 (made with `openssl ca`,
#                          since `x509 -days` cannot date a certificate in the past)
#   mismatch.pem/.key      a certificate and a key that does not belong to it
#   rsa.pem/.key           edge.example with an RSA 2048 key (testssl.sh scans RSA cipher suites)
set -euo pipefail

dir=${1:?usage: mkcerts.sh DIR}
mkdir -p "$dir"
cd "$dir"
dir=$(pwd) # the CA configuration below names files by absolute path

newkey() { # newkey FILE [rsa]
    if [ "${2:-}" = rsa ]; then
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
    else
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
    fi
}

# A self-signed CA: mkca NAME CN
mkca() {
    newkey "$1.key"
    openssl req -new -x509 -key "$1.key" -out "$1.pem" -days 3650 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}

# A leaf signed by a CA: leaf NAME CA CN USAGE SAN... (KEYTYPE=rsa for an RSA key)
leaf() {
    local name=$1 ca=$2 cn=$3 usage=$4 ku=digitalSignature
    shift 4
    local sans
    sans=$(printf 'DNS:%s,' "$@")
    newkey "$name.key" "${KEYTYPE:-}"
    if [ "${KEYTYPE:-}" = rsa ]; then
        ku=digitalSignature,keyEncipherment
    fi
    openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr"
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,%s\n%s\n%s\n' "$ku" \
        "extendedKeyUsage=$usage" "subjectAltName=${sans%,}" >"$name.ext"
    openssl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial \
        -days 825 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}

mkca ca "edgeproxy test CA"
mkca rogue-ca "untrusted test CA"

leaf server ca edge.example serverAuth edge.example '*.wild.example'
leaf alt ca alt.example serverAuth alt.example
leaf b ca edge-b.example serverAuth edge.example '*.wild.example'
leaf client ca client.example clientAuth client.example
leaf rogue-client rogue-ca client.example clientAuth client.example
KEYTYPE=rsa leaf rsa ca edge.example serverAuth edge.example

# The expired certificate: `openssl ca` takes explicit start and end dates.
mkdir -p expca
: >expca/index.txt
echo 1000 >expca/serial
cat >expca/ca.cnf <<EOF
[ca]
default_ca = test
[test]
database = $dir/expca/index.txt
serial = $dir/expca/serial
new_certs_dir = $dir/expca
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[anything]
commonName = supplied
EOF
newkey expired.key
openssl req -new -key expired.key -subj /CN=edge.example -addext subjectAltName=DNS:edge.example \
    -out expired.csr
openssl ca -batch -config expca/ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
    -out expired.pem -startdate 20200101000000Z -enddate 20200201000000Z -notext 2>/dev/null
rm -f expired.csr

# A valid certificate next to a key made for something else.
cp server.pem mismatch.pem
newkey mismatch.key

# Sanity: the files the tests rely on exist and say what they should.
openssl verify -CAfile ca.pem server.pem alt.pem b.pem client.pem rsa.pem >/dev/null
if openssl verify -CAfile ca.pem expired.pem >/dev/null 2>&1; then
    echo "mkcerts: expired.pem verifies, it should not" >&2
    exit 1
fi
