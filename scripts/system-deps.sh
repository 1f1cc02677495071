#!/usr/bin/env bash
# The OS packages mkm's tests and demo need, from Debian: SoftHSM2 (the demo and test token),
# OpenSC (pkcs11-tool, to cross-check mkm), openCryptoki (a software token with a PIN retry counter,
# for the lockout test), Chromium (browser mode and e2e), OpenSSL (interop), gcc and the C library
# headers (the tests build their fault-injecting PKCS#11 module, test/fixtures/faulty-pkcs11).
set -euo pipefail
PACKAGES=(softhsm2 opensc opencryptoki chromium openssl ca-certificates gcc libc6-dev)

missing=()
command -v softhsm2-util >/dev/null || missing+=(softhsm2)
command -v pkcs11-tool >/dev/null || missing+=(opensc)
[ -x /usr/sbin/pkcsconf ] || missing+=(opencryptoki)
command -v chromium >/dev/null || missing+=(chromium)
command -v openssl >/dev/null || missing+=(openssl)
command -v gcc >/dev/null || missing+=(gcc)
[ -f /usr/include/dlfcn.h ] || missing+=(libc6-dev)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else SUDO=""; fi
if ! command -v apt-get >/dev/null || { [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; }; then
  echo "mkm needs: ${missing[*]}. Install them with: sudo apt-get install -y ${PACKAGES[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
