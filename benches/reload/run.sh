#!/usr/bin/env bash
# Reloads under load (issue 5 part 8): SIPp UAC -> sbcd -> SIPp UAS on 127.0.0.1 UDP at a
# steady rate while sbcd's configuration is reloaded (SIGHUP) every RELOAD_EVERY seconds,
# alternating between two files that route the lab to the same gateway (so every reload
# builds and swaps new tables). Reports failed calls, retransmissions and the reloads done,
# and, in the same run, the same load without reloads (the reference).
#
#   bash benches/reload/run.sh
#
# Environment: RATE (calls/s, default 2000 = half the clean rate measured in
# docs/performance.md), SECS (default 15), RELOAD_EVERY (default 0.5), OUT (output dir).
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RATE=${RATE:-2000}
SECS=${SECS:-15}
RELOAD_EVERY=${RELOAD_EVERY:-0.5}
OUT=${OUT:-$ROOT/target/reload/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
CALLS=$((RATE * SECS))

cargo build --release -q -p sbcd --manifest-path "$ROOT/Cargo.toml"
SBCD="${CARGO_TARGET_DIR:-$ROOT/target}/release/sbcd"

# Two configurations of the lab (default.toml, admin on an ephemeral port) that differ: the
# second adds a limit no call reaches, so the limits really change with every reload.
sed -e 's/^listen = "127.0.0.1:9090"/listen = "127.0.0.1:0"/' "$ROOT/configs/default.toml" > "$OUT/a.toml"
cp "$OUT/a.toml" "$OUT/b.toml"
printf '\n[calls]\nmax_cps = 1000000\n' >> "$OUT/b.toml"
if grep -q '^\[calls\]' "$ROOT/configs/default.toml"; then
    echo "default.toml already has [calls]; adjust the script" >&2; exit 1
fi
cp "$OUT/a.toml" "$OUT/sbcd.toml"

run_leg() {  # $1 = name, $2 = 1 to reload during the run
    local name=$1 reload=$2
    # sbcd itself in the background (not under `timeout`: SIGHUP must reach sbcd, and
    # coreutils timeout forwards only the first one); killed at the end of the leg or on exit.
    SBCD_LOG="warn,sbcd=info" "$SBCD" run --config "$OUT/sbcd.toml" > "$OUT/$name-sbcd.out" 2> "$OUT/$name-sbcd.err" &
    local sbcd=$!
    trap 'kill -TERM '"$sbcd"' 2>/dev/null || true' EXIT
    for _ in $(seq 50); do grep -q '^ready' "$OUT/$name-sbcd.out" 2>/dev/null && break; sleep 0.1; done
    (cd "$OUT" && exec timeout $((SECS + 90)) sipp -sf "$ROOT/benches/cps/uas.xml" -p 5080 -i 127.0.0.1 \
        -nostdin -buff_size 1048576 -timeout $((SECS + 80))s \
        -trace_stat -stf "$name-uas.csv" -fd 1 > "$name-uas.out" 2>&1) &
    local uas=$!
    sleep 0.5
    local reloads=0
    (cd "$OUT" && exec timeout $((SECS + 90)) sipp 127.0.0.1:5060 -sf "$ROOT/benches/cps/uac.xml" -p 5070 -i 127.0.0.1 \
        -r "$RATE" -m "$CALLS" -d 1000 -timeout $((SECS + 60))s -nostdin -buff_size 1048576 \
        -trace_stat -stf "$name-uac.csv" -fd 1 > "$name-uac.out" 2>&1) &
    local uac=$!
    if [ "$reload" = 1 ]; then
        local which=b
        while kill -0 "$uac" 2>/dev/null; do
            sleep "$RELOAD_EVERY"
            cp "$OUT/$which.toml" "$OUT/sbcd.toml"
            kill -HUP "$sbcd" 2>/dev/null && reloads=$((reloads + 1))
            if [ $which = b ]; then which=a; else which=b; fi
        done
    fi
    wait "$uac" || true
    pkill -USR1 -f "sipp -sf $ROOT/benches/cps/uas.xml" 2>/dev/null || true
    sleep 3
    kill "$uas" 2>/dev/null || true
    pkill -f "sipp -sf $ROOT/benches/cps/uas.xml" 2>/dev/null || true
    kill -TERM "$sbcd" 2>/dev/null || true
    wait "$sbcd" 2>/dev/null || true
    local last; last=$(tail -1 "$OUT/$name-uac.csv")
    local head; head=$(head -1 "$OUT/$name-uac.csv")
    col() { echo "$head" | tr ';' '\n' | grep -n "^$1\$" | cut -d: -f1; }
    local ok fail retr
    ok=$(echo "$last" | cut -d';' -f"$(col 'SuccessfulCall(C)')")
    fail=$(echo "$last" | cut -d';' -f"$(col 'FailedCall(C)')")
    retr=$(echo "$last" | cut -d';' -f"$(col 'Retransmissions(C)')")
    local applied; applied=$(grep -c 'configuration reloaded' "$OUT/$name-sbcd.err" || true)
    echo "| $name | $RATE | $CALLS | $ok | $fail | $retr | $reloads sent, $applied applied |" | tee -a "$OUT/report.md"
}

echo "| leg | calls/s | calls | successful | failed | retransmissions | reloads |" | tee "$OUT/report.md"
echo "|---|---:|---:|---:|---:|---:|---|" | tee -a "$OUT/report.md"
run_leg steady 0
run_leg reloading 1
echo "report: $OUT/report.md"
