#!/usr/bin/env bash
# autosnap demo: a simulated Proxmox VE cluster (the built-in demo cluster: 3 nodes, 30+
# guests, one of them under backup) and a few real autosnap commands against it over
# HTTPS with an API token and a pinned certificate fingerprint. Run by `npm run demo`
# after the build; AUTOSNAP_BIN overrides the executable.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${AUTOSNAP_BIN:-dist/autosnap}
[ -x "$BIN" ] || { echo "demo: $BIN not found; run 'npm run build' first" >&2; exit 2; }

WORK=$(mktemp -d)
SIM_PID=
cleanup() {
  if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

SECRET=$(cat /proc/sys/kernel/random/uuid 2>/dev/null || od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
TOKEN_ID='root@pam!demo'
START=2025-05-16T09:00:00Z

# the simulator prints one line when ready: listening on https://HOST:PORT fingerprint FP
mkfifo "$WORK/ready"
"$BIN" sim --listen 127.0.0.1:0 --token "$TOKEN_ID=$SECRET" --time-scale 0.02 --clock "$START" >"$WORK/ready" 2>"$WORK/sim.log" &
SIM_PID=$!
read -r READY <"$WORK/ready" || { echo "demo: the simulator did not start:" >&2; cat "$WORK/sim.log" >&2; exit 1; }
URL=$(echo "$READY" | awk '{print $3}')
FP=$(echo "$READY" | awk '{print $5}')
HOSTPORT=${URL#https://}
echo "simulator: $READY"

# the secret travels in the environment, never on a command line
export AUTOSNAP_API_TOKEN_SECRET=$SECRET
export AUTOSNAP_CONFIG=$WORK/autosnap.conf AUTOSNAP_LOCK_FILE=$WORK/autosnap.lock TZ=UTC
# a short lock wait keeps the demo brisk (the default is 60 s)
printf '[autosnap]\nlock_wait = 3\n' >"$AUTOSNAP_CONFIG"
CONN=(--host "$HOSTPORT" --fingerprint "$FP" --api-token "$TOKEN_ID")

clock() { # move the simulated cluster clock and autosnap's "now" together
  export AUTOSNAP_NOW=$1
  # the simulator's control API, through Node (always here: npm needs it). TLS checks are
  # off for this one call because it is the simulator's own throw-away certificate (pinned
  # for autosnap above), and the token is the simulator's throw-away one.
  DEMO_URL=$URL DEMO_AUTH="PVEAPIToken=$TOKEN_ID=$SECRET" DEMO_NOW=$1 NODE_TLS_REJECT_UNAUTHORIZED=0 node -e '
    fetch(process.env.DEMO_URL + "/_sim/clock", { method: "POST",
      headers: { Authorization: process.env.DEMO_AUTH, "Content-Type": "application/json" },
      body: JSON.stringify({ now: process.env.DEMO_NOW }) })
      .then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));' 2>/dev/null ||
    echo "demo: could not move the simulator clock " >&2
}
step() {
  echo
  echo "=== $1"
  shift
  echo "\$ autosnap $*"
  local rc=0
  "$BIN" "${CONN[@]}" "$@" || rc=$?
  echo "(exit code $rc)"
}

clock 2025-05-16T09:00:00Z
step "09:00 - snapshot every guest, label hourly, keep 2 (a guest under backup is waited for 3 s, then skipped)" \
  --vmid @all snap --label hourly --keep 2
clock 2025-05-16T10:00:00Z
step "10:00 - the same an hour later, on the guests of node pve1" --vmid @all-pve1 snap --label hourly --keep 2
clock 2025-05-16T11:00:00Z
step "11:00 - and again: each guest keeps its 2 newest hourly snapshots (by snaptime)" --vmid @all-pve1 snap --label hourly --keep 2
step "status of the label (local time; manual snapshots such as pre-upgrade are not listed)" --vmid 100:105 status --label hourly
step "plan: what 'keep 1' would remove now, and the rule for every snapshot" --vmid 100,101 plan --label hourly --keep 1
step "dry run of a clean: the same plan, nothing changes" --vmid 100 clean --label hourly --keep 1 --dry-run
echo
echo "demo finished; the simulator is stopped."
