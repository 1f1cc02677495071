#!/usr/bin/env bash
# A throwaway openCryptoki software token (swtok) for the PIN lockout test. SoftHSM2 has no retry
# counter; openCryptoki's swtok walks CKF_USER_PIN_COUNT_LOW -> FINAL_TRY -> LOCKED as a card does.
#
# Idempotent: starts the slot daemon (pkcsslotd) when it is not running, then RE-INITIALIZES the
# swtok token (erasing everything on it) and sets a fresh user PIN, so every run starts with full
# retries. The swtok token is one per machine: only one user at a time (test/helpers/opencryptoki.ts
# holds a lock around it).
#
# Prints one JSON line: {"module","slotId","label","soPin","userPin"}; messages go to stderr.
# Env: OCK_LABEL (default mkm-lockout), OCK_SO_PIN (default 87654321, openCryptoki's default),
#      OCK_USER_PIN (default: 8 random digits). PINs are 4 to 8 characters on swtok.
set -euo pipefail
# pkcsconf and pkcsslotd live in /usr/sbin, which a non-root PATH may lack.
PATH=$PATH:/usr/sbin:/sbin

LABEL=${OCK_LABEL:-mkm-lockout}
SO_PIN=${OCK_SO_PIN:-87654321}
USER_PIN=${OCK_USER_PIN:-$(od -An -N8 -tu1 /dev/urandom | tr -s ' ' '\n' | sed '/^$/d' | awk '{printf "%d", $1 % 10}')}
PIDFILE=/var/run/pkcsslotd.pid
SOCKET=/var/run/pkcsslotd.socket

die() {
  echo "opencryptoki-token: $*" >&2
  exit 1
}

command -v pkcsconf >/dev/null && [ -x /usr/sbin/pkcsslotd ] ||
  die "openCryptoki is not installed (pkcsconf, pkcsslotd). Run: bash scripts/system-deps.sh"

MODULE=
for candidate in /usr/lib/*/pkcs11/libopencryptoki.so /usr/lib/*/opencryptoki/libopencryptoki.so.0 /usr/lib64/opencryptoki/libopencryptoki.so; do
  [ -e "$candidate" ] && MODULE=$candidate && break
done
[ -n "$MODULE" ] || die "libopencryptoki.so not found under /usr/lib/*/pkcs11 or /usr/lib/*/opencryptoki"

if [ "$(id -u)" -ne 0 ] && ! id -nG | tr ' ' '\n' | grep -qx pkcs11; then
  die "openCryptoki needs root or membership of the pkcs11 group (sudo usermod -aG pkcs11 $(id -un), then log in again)"
fi

daemon_running() {
  local pid
  [ -S "$SOCKET" ] && [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE")
  # A pid file outlives a killed daemon, and the pid may be reused or left a zombie.
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = pkcsslotd ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status"
}

if ! daemon_running; then
  # What the init script and tmpfiles.d do; /run/lock is a tmpfs, so they vanish on reboot, and
  # there is no systemd in containers and CI to recreate them.
  [ "$(id -u)" -eq 0 ] || die "pkcsslotd is not running and only root can start it (sudo /usr/sbin/pkcsslotd)"
  for d in /var/lock/opencryptoki /var/lock/opencryptoki/swtok /var/lib/opencryptoki/swtok/TOK_OBJ; do
    mkdir -p -m 0770 "$d"
    chown root:pkcs11 "$d"
  done
  rm -f "$PIDFILE"
  /usr/sbin/pkcsslotd || die "pkcsslotd failed to start (see the system log)"
  for _ in $(seq 50); do
    daemon_running && break
    sleep 0.1
  done
  daemon_running || die "pkcsslotd did not come up within 5 s"
fi

# The swtok slot is whichever slot's token model is "IBM SoftTok" (slot 3 in Debian's default
# opencryptoki.conf, but the config may be edited).
SLOT=$(pkcsconf -t 2>/dev/null | awk '/^Token #[0-9]+ Info:/ { gsub(/[^0-9]/, "", $2); slot = $2 }
  /Model: *IBM SoftTok/ { print slot; exit }')
[ -n "$SLOT" ] || die "no openCryptoki software token (model IBM SoftTok) in $(pkcsconf -s 2>&1 | grep -c 'Slot #') slot(s); check /etc/opencryptoki/opencryptoki.conf has a slot with stdll = libpkcs11_sw.so"

# pkcsconf -I asks for the label on stdin; a wrong SO PIN does not count against the SO here.
# It fails with CKR_SESSION_EXISTS while any process has a session on the token.
if ! out=$(printf '%s\n' "$LABEL" | pkcsconf -c "$SLOT" -I -S "$SO_PIN" 2>&1); then
  case $out in
  *SESSION_EXISTS*) die "the swtok token in slot $SLOT is in use by another process (CKR_SESSION_EXISTS); it can only be re-initialized when no process has it open" ;;
  *Incorrect*) die "the swtok token's SO PIN is not the one in OCK_SO_PIN (default 87654321)" ;;
  *) die "could not re-initialize the swtok token in slot $SLOT: ${out#*: }" ;;
  esac
fi
out=$(pkcsconf -c "$SLOT" -u -S "$SO_PIN" -n "$USER_PIN" 2>&1) ||
  die "could not set the user PIN on the swtok token in slot $SLOT: ${out#*: }"

printf '{"module":"%s","slotId":%d,"label":"%s","soPin":"%s","userPin":"%s"}\n' \
  "$MODULE" "$SLOT" "$LABEL" "$SO_PIN" "$USER_PIN"
