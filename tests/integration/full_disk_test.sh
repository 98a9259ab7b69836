#!/usr/bin/env bash
# A relay restarted on a full disk keeps running, as it did before the restart: its
# directory is a 4 MiB tmpfs (in a mount namespace made for this test), the node is
# killed with SIGKILL, the disk is filled to ENOSPC, and guardmeshd must start again,
# answer on its control socket and stop cleanly on SIGTERM. It used to exit with
# "cannot write the messenger's tables: not an error" (it rewrote an unchanged schema
# version at every start) and leak its mesh on the way out. Found by tools/chaos.
# Needs root for the namespace; exits 77 (skipped) otherwise.
#   full_disk_test.sh BIN_DIR
set -euo pipefail
bin=$(cd "$1" && pwd)

if [ "${GM_IN_MNTNS:-}" != 1 ]; then
    if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
        echo "SKIP: needs root and mount namespaces"
        exit 77
    fi
    exec env GM_IN_MNTNS=1 unshare -m --propagation private bash "$0" "$@"
fi

tmp=$(mktemp -d /tmp/gmdisk.XXXXXX)
pid=""
cleanup() {
    [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
    umount "$tmp/relay" 2>/dev/null || true
    [ -n "${GM_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"

g="$bin/guardmesh"
fail() {
    echo "FAILED: $*"
    tail -n 20 relay.log
    echo "0 passed, 1 failed"
    exit 1
}
# start: guardmeshd on the relay's directory, until it answers (or exits)
start() {
    "$bin/guardmeshd" --dir relay --listen 127.0.0.1:0 2>>relay.log &
    pid=$!
    for _ in $(seq 1 100); do
        "$g" --dir relay status >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || { wait "$pid" || true; pid=""; return 1; }
        sleep 0.1
    done
    return 1
}

mkdir relay
mount -t tmpfs -o size=4m,mode=0700 tmpfs relay
"$g" ca init --dir ca --org acme-security >/dev/null
"$g" ca issue --ca ca --dir relay --callsign car-7 --role relay >/dev/null

start || fail "the relay did not start on an empty disk"
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
pid=""
dd if=/dev/zero of=relay/filler bs=64k 2>/dev/null || true # until ENOSPC
[ "$(df --output=avail relay | tail -n 1 | tr -d ' ')" -eq 0 ] || fail "the tmpfs is not full"

start || fail "the relay did not start again on a full disk"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
[ "$status" -eq 0 ] || fail "exit status $status after SIGTERM"
if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|handles left open' relay.log; then
    fail "sanitizer report or handles left open"
fi
echo "restarted on a full disk, stopped cleanly"
echo "1 passed, 0 failed"
