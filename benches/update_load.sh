#!/usr/bin/env bash
# Update bars of issue 4: sustained signed updates with latency to visible
# in DO=1 answers and in IXFR, and restart time with the zone in the store.
#
#   benches/update_load.sh [N_DELEGATIONS=100000] [RATE=1000] [SECONDS=15]
#
# Generates a TLD zone, serves it signed ([zone.dnssec], soft keys) with an
# update key, runs tests/update_tool.py load (updates pre-signed with TSIG,
# every 20th add checked with a DO=1 DS query, every 100th in an IXFR from
# the serial served before it was sent) while dnsperf asks DO=1 queries,
# then restarts tldd and times how
# long until it answers from the store. Report `uptime` with the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}; RATE=${2:-1000}; SECS=${3:-15}
WORK=$(mktemp -d /tmp/tldd-upd.XXXXXX)
# The first server's log is kept in /tmp/tldd-update-load.log.
trap 'kill $TP 2>/dev/null || true; cp "$WORK/tldd.log" /tmp/tldd-update-load.log; rm -rf "$WORK"' EXIT
cargo build --release --quiet
/usr/bin/python3 benches/gen_tld_zone.py shop "$N" "$WORK/shop.zone" "$WORK/q.txt" 1000
PORT=${PORT:-25400}
SECRET=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=
KEY=hmac-sha256:srs-key:$SECRET
cat > "$WORK/tldd.toml" <<TOML
[server]
listen = ["127.0.0.1:$PORT"]
data_dir = "$WORK/data"
udp_workers = 1
[[tsig]]
name = "srs-key"
algorithm = "hmac-sha256"
secret = "$SECRET"
[[zone]]
origin = "shop."
file = "$WORK/shop.zone"
update_key = "srs-key"
transfer_key = "srs-key"
[zone.dnssec]
keystore = "soft"
TOML
T=${TLDD:-target/release/tldd}  # TLDD=path compares another build
$T keys -c "$WORK/tldd.toml" generate --zone shop. --role ksk >/dev/null
$T keys -c "$WORK/tldd.toml" generate --zone shop. --role zsk >/dev/null
$T serve -c "$WORK/tldd.toml" 2> "$WORK/tldd.log" &
TP=$!
until grep -q "zone written to the store" "$WORK/tldd.log"; do kill -0 $TP; sleep 0.5; done
uptime
# Queries meanwhile (DO=1), at QPS queries/s.
dnsperf -s 127.0.0.1 -p $PORT -d "$WORK/q.txt" -D -Q "${QPS:-2000}" -l $((SECS + 20)) \
    > "$WORK/dnsperf.txt" 2>&1 &
DP=$!
nice -n 10 /usr/bin/python3 tests/update_tool.py load 127.0.0.1 $PORT "$KEY" "$SECS" "$RATE" 200 "$KEY"
uptime
wait $DP || true
grep -E "Queries (sent|completed|lost)|Average Latency" "$WORK/dnsperf.txt"
kill $TP; wait $TP || true
S=$(date +%s.%N)
$T serve -c "$WORK/tldd.toml" 2> "$WORK/tldd2.log" &
TP=$!
until kdig @127.0.0.1 -p $PORT shop. SOA +short +timeout=1 +retry=0 2>/dev/null | grep -q .; do sleep 0.05; done
echo "restart: answering after $(echo "$(date +%s.%N) - $S" | bc) s"
grep "loaded from the store" "$WORK/tldd2.log"
