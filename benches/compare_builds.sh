#!/usr/bin/env bash
# Two tldd builds side by side, same day, same zone, same queries: CPU per
# query and peak qps (../shared/bench/peers.py, NSD and Knot in the same run),
# then `tldd sign` wall time on a large zone, alternating the builds.
#
#   benches/compare_builds.sh OLD_TLDD NEW_TLDD [N_QUERY_ZONE=100000] [N_SIGN=1000000] [SIGN_RUNS=2]
#
# E.g. OLD = a release build of the commit before a redesign, NEW = this one.
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=$(realpath "$1"); NEW=$(realpath "$2")
N=${3:-100000}; NS=${4:-1000000}; RUNS=${5:-2}
PEERS=${PEERS:-../shared/bench/peers.py}
W=$(mktemp -d /tmp/tldd-cmp.XXXXXX)
trap 'kill $P1 $P2 2>/dev/null || true; rm -rf "$W"' EXIT
/usr/bin/python3 benches/gen_tld_zone.py shop "$N" "$W/shop.zone" "$W/q.txt" 200000
serve() { # BIN PORT DIR
    cat > "$3.toml" <<TOML
[server]
listen = ["127.0.0.1:$2"]
data_dir = "$3"
udp_workers = 1
[[zone]]
origin = "shop."
file = "$W/shop.zone"
TOML
    "$1" serve -c "$3.toml" 2> "$3.log" &
}
serve "$OLD" 25310 "$W/old"; P1=$!
serve "$NEW" 25311 "$W/new"; P2=$!
for _ in $(seq 600); do grep -q listening "$W/old.log" && grep -q listening "$W/new.log" && break; sleep 0.1; done
/usr/bin/python3 "$PEERS" --zone "$W/shop.zone" --origin shop --queries "$W/q.txt" \
    --rate "${RATE:-20000}" --seconds "${SECONDS_PER_RUN:-10}" --rounds "${ROUNDS:-2}" \
    --server "old=$P1:25310" --server "new=$P2:25311"
kill $P1 $P2; wait $P1 $P2 2>/dev/null || true

echo "== tldd sign, $NS delegations, soft ECDSA P-256"
/usr/bin/python3 benches/gen_tld_zone.py shop "$NS" "$W/big.zone" "$W/bq.txt" 1000 > /dev/null
mkdir -p "$W/sign"
cat > "$W/sign.toml" <<TOML
[server]
listen = ["127.0.0.1:0"]
data_dir = "$W/sign"
[[zone]]
origin = "shop."
file = "$W/big.zone"
[zone.dnssec]
keystore = "soft"
TOML
"$NEW" keys -c "$W/sign.toml" generate --zone shop. --role ksk > /dev/null 2>&1
"$NEW" keys -c "$W/sign.toml" generate --zone shop. --role zsk > /dev/null 2>&1
for i in $(seq "$RUNS"); do
    for b in old new; do
        bin=$OLD; [ $b = new ] && bin=$NEW
        /usr/bin/time -f "$b run $i: %e s wall, %M KiB max RSS" "$bin" sign -c "$W/sign.toml" --zone shop. --out "$W/signed.zone" 2>&1 | grep -E "run $i|total" | sed "s/^/$b: /"
    done
done
