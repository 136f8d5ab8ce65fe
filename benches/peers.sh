#!/usr/bin/env bash
# Compare tldd with NSD, Knot and the no-work reflector on one generated TLD
# zone, CPU per query at a fixed offered rate and peak qps (../shared/bench/peers.py).
#
#   benches/peers.sh [N_DELEGATIONS=100000] [RATE=20000] [SECONDS=10] [ZONEFILE]
#
# With ZONEFILE (e.g. the output of `tldd sign`), that zone is served by all
# servers instead of a fresh unsigned one. Needs: nsd, knot, dnsperf, gcc.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}; RATE=${2:-20000}; SECS=${3:-10}; ZONE=${4:-}
PEERS=${PEERS:-../shared/bench/peers.py}
WORK=$(mktemp -d /tmp/tldd-peers.XXXXXX)
trap 'kill $TP 2>/dev/null || true; rm -rf "$WORK"' EXIT
cargo build --release --quiet
/usr/bin/python3 benches/gen_tld_zone.py shop "$N" "$WORK/shop.zone" "$WORK/q.txt" 200000
[ -n "$ZONE" ] && cp "$ZONE" "$WORK/shop.zone"
PORT=25300
cat > "$WORK/tldd.toml" <<TOML
[server]
listen = ["127.0.0.1:$PORT"]
data_dir = "$WORK/data"
udp_workers = 1          # like the peers: NSD server-count 1, Knot udp-workers 1
udp_coalesce_us = ${COALESCE:-200}   # the default
rrl_allow = ["127.0.0.0/8"]   # RRL on (the default rate; its table is consulted per response,
                              # so its cost is measured), the load generator never limited
[[zone]]
origin = "shop."
file = "$WORK/shop.zone"
TOML
target/release/tldd serve -c "$WORK/tldd.toml" 2> "$WORK/tldd.log" &
TP=$!
/usr/bin/python3 "$PEERS" --zone "$WORK/shop.zone" --origin shop --queries "$WORK/q.txt" \
    --rate "$RATE" --seconds "$SECS" --rounds "${ROUNDS:-2}" --server "tldd=$TP:$PORT"
