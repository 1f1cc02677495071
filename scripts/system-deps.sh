#!/usr/bin/env bash
# The OS packages mkm's tests and demo need, from Debian: SoftHSM2 (the demo and test token),
# OpenSC (pkcs11-tool, to cross-check mkm), openCryptoki (a software token with a PIN retry counter,
# for the lockout test), Chromium (browser mode and e2e), OpenSSL (interop), gcc and the C library
# headers (the tests build their fault-injecting PKCS#11 module, test/fixtures/faulty-pkcs11), and
# the two other PKCS#11 implementations the token suites run on (test/integration/hsm/tokens-*.test.ts):
# NSS softokn (libnss3, certutil from libnss3-tools) and tpm2-pkcs11 on a software TPM (swtpm,
# tpm2-abrmd with its TCTI on a private D-Bus, tpm2_ptool, tpm2-tools).
set -euo pipefail
PACKAGES=(softhsm2 opensc opencryptoki chromium openssl ca-certificates gcc libc6-dev
  libnss3 libnss3-tools swtpm swtpm-tools libtpm2-pkcs11-1 libtpm2-pkcs11-tools tpm2-tools tpm2-abrmd
  libtss2-tcti-tabrmd0 dbus)

missing=()
command -v softhsm2-util >/dev/null || missing+=(softhsm2)
command -v pkcs11-tool >/dev/null || missing+=(opensc)
[ -x /usr/sbin/pkcsconf ] || missing+=(opencryptoki)
command -v chromium >/dev/null || missing+=(chromium)
command -v openssl >/dev/null || missing+=(openssl)
command -v certutil >/dev/null || missing+=(libnss3-tools)
command -v swtpm >/dev/null || missing+=(swtpm)
command -v tpm2_ptool >/dev/null || missing+=(libtpm2-pkcs11-tools)
command -v tpm2_getrandom >/dev/null || missing+=(tpm2-tools)
command -v dbus-daemon >/dev/null || missing+=(dbus)
[ -x /usr/sbin/tpm2-abrmd ] || command -v tpm2-abrmd >/dev/null || missing+=(tpm2-abrmd)
ls /usr/lib/*/libsoftokn3.so >/dev/null 2>&1 || missing+=(libnss3)
ls /usr/lib/*/libtpm2_pkcs11.so.1 >/dev/null 2>&1 || missing+=(libtpm2-pkcs11-1)
ls /usr/lib/*/libtss2-tcti-tabrmd.so.0 >/dev/null 2>&1 || missing+=(libtss2-tcti-tabrmd0)
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
