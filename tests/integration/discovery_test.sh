#!/usr/bin/env bash
# LAN discovery end to end: two guardmeshd with --discovery and no --peer, inside a
# network namespace made for this test (loopback with multicast), must find each other
# through beacons and link. Needs root for the namespace; exits 77 (skipped) otherwise.
#   discovery_test.sh BIN_DIR
set -euo pipefail
bin=$1

if [ "${GM_IN_NETNS:-}" != 1 ]; then
    if [ "$(id -u)" -ne 0 ] || ! unshare -n true 2>/dev/null; then
        echo "SKIP: needs root and network namespaces"
        exit 77
    fi
    exec env GM_IN_NETNS=1 unshare -n bash "$0" "$@"
fi

# Inside the namespace: nothing else is here, so fixed ports cannot collide.
ip link set lo up
ip link set lo multicast on
ip route add 224.0.0.0/4 dev lo src 127.0.0.1

tmp=$(mktemp -d /tmp/gmdisc.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${GM_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"

g="$bin/guardmesh"
"$g" ca init --dir ca --org acme-security >/dev/null
"$g" ca issue --ca ca --dir a --callsign car-1 --role relay >/dev/null
"$g" ca issue --ca ca --dir b --callsign guard-2 --role handheld >/dev/null
cat >fast.ini <<'INI'
[link]
tick_ms = 50
[discovery]
interval_ms = 200
INI

"$bin/guardmeshd" --dir a --config fast.ini --listen 127.0.0.1:7400 --discovery 2>a.log &
pids+=($!)
"$bin/guardmeshd" --dir b --config fast.ini --listen 127.0.0.1:7401 --discovery 2>b.log &
pids+=($!)

beacons_seen() {
    "$g" --dir "$1" status --json | tr -d "\t\n " | sed -n 's/.*"beacons_seen":\([0-9]*\).*/\1/p'
}
fail() {
    echo "FAILED: $*"
    tail -n 5 a.log b.log
    echo "0 passed, 1 failed"
    exit 1
}

linked=0
for _ in $(seq 1 100); do
    if "$g" --dir a peers --json 2>/dev/null | grep -q '"callsign":[[:space:]]*"guard-2"' &&
       "$g" --dir b peers --json 2>/dev/null | grep -q '"callsign":[[:space:]]*"car-1"'; then
        linked=1
        break
    fi
    sleep 0.1
done
[ "$linked" -eq 1 ] || fail "no link through discovery within 10 s"

# Either side may have heard the other first and dialled; the other may not have
# counted a beacon yet. What must hold: at least one beacon prompted the link.
seen_a=$(beacons_seen a)
seen_b=$(beacons_seen b)
[ $((${seen_a:-0} + ${seen_b:-0})) -ge 1 ] || fail "linked, but neither node counted a beacon"
grep -q "beacon from 127.0.0.1:740" a.log b.log || fail "no 'beacon from' line in either log"
echo "linked through discovery (beacons seen: a $seen_a, b $seen_b)"
echo "1 passed, 0 failed"
