# certlib.sh - shell functions the test certificate scripts (mkcerts_sip.sh, mkcerts_xmpp.sh)
# share; source it after cd-ing into the output directory. ECDSA P-256 throughout, made with the
# openssl CLI so tests never depend on files that age.

newkey() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# A self-signed CA: mkca NAME CN
mkca() {
    newkey "$1.key"
    openssl req -new -x509 -key "$1.key" -out "$1.pem" -days 3650 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}

# A leaf signed by a CA: leaf NAME CA CN USAGE SAN... (USAGE: extendedKeyUsage values). Writes
# NAME.pem, NAME.key and NAME-chain.pem (leaf + CA).
leaf() {
    local name=$1 ca=$2 cn=$3 usage=$4
    shift 4
    local sans
    sans=$(printf 'DNS:%s,' "$@")
    newkey "$name.key"
    openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr"
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n%s\n%s\n' \
        "extendedKeyUsage=$usage" "subjectAltName=${sans%,}" >"$name.ext"
    openssl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial \
        -days 825 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
    cat "$name.pem" "$ca.pem" >"$name-chain.pem"
    rm -f "$name.csr" "$name.ext"
    chmod 644 "$name.key" # the peers may run as another user
}
