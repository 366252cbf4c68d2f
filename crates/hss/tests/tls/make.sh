#!/bin/sh
# Regenerates the test-only PKI of tests/hss_tls.rs (never used outside tests; the keys are public):
# a private CA, a server certificate it signed for 127.0.0.1 / localhost, one it signed for another
# host name, and an unrelated CA. Valid for 100 years so the test never expires.
set -eu
cd "$(dirname "$0")"
days=36500
ext() { printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$1"; }
ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days $days \
    -subj "/CN=$2" -keyout "$1.key" -out "$1.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
leaf() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  ext "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA private-ca.pem -CAkey private-ca.key -CAcreateserial \
    -days $days -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
ca private-ca "hostrisk-operator test private CA"
ca other-ca "hostrisk-operator test unrelated CA"
leaf server "127.0.0.1" "IP:127.0.0.1,DNS:localhost"
leaf wrong-host "hss.example.invalid" "DNS:hss.example.invalid"
rm -f private-ca.srl private-ca.key other-ca.key
