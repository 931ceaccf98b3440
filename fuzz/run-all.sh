#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS_PER_TARGET seconds (default 20) on stable Rust
# (--sanitizer none needs no nightly), each on a temporary COPY of its committed seed corpus
# in fuzz/corpus/<target>/ so runs never grow the repository. Prints the executions per
# target; exits non-zero if any target crashed (panic, failed assertion, timeout, OOM) or
# failed to run. Crash inputs are kept in fuzz/artifacts/<target>/ (git-ignored).
#
#   bash fuzz/run-all.sh [SECONDS_PER_TARGET]
#
# AddressSanitizer instead (needs the nightly-only -Zsanitizer, unlocked on stable):
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target>
set -uo pipefail

secs="${1:-20}"
case "$secs" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 2

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked || exit 2
fi

echo "== building fuzz targets (sanitizer none)"
cargo fuzz build --sanitizer none || exit 2

mapfile -t targets < <(cargo fuzz list)
if [ "${#targets[@]}" -eq 0 ]; then
  echo "no fuzz targets found" >&2
  exit 2
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/sbc-fuzz.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

failed=()
summary=()
for t in "${targets[@]}"; do
  corpus="$tmp/corpus/$t"
  mkdir -p "$corpus"
  if [ -d "fuzz/corpus/$t" ]; then
    cp -R "fuzz/corpus/$t/." "$corpus/"
  fi
  seeds="$(find "$corpus" -type f | wc -l)"
  log="$tmp/$t.log"
  echo "== $t: ${secs}s, $seeds seeds"
  cargo fuzz run --sanitizer none "$t" "$corpus" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
    >"$log" 2>&1
  rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)"
  if [ -z "$execs" ]; then
    execs="$(sed -n 's/^#\([0-9][0-9]*\)[[:space:]].*/\1/p' "$log" | tail -n 1)"
  fi
  execs="${execs:-?}"
  cov="$(sed -n 's/^#[0-9]*[[:space:]].*cov: \([0-9]*\).*/\1/p' "$log" | tail -n 1)"
  status=ok
  if [ "$rc" -ne 0 ] || grep -qE '^==[0-9]+== ERROR: libFuzzer|^SUMMARY: libFuzzer|panicked at' "$log"; then
    status="CRASH (exit $rc)"
    failed+=("$t")
    echo "---- $t: what failed ----"
    grep -E -A2 'panicked at|ERROR: libFuzzer|SUMMARY: libFuzzer' "$log" | cut -c1-400 | head -n 30
    grep -E -A2 '^Failing input:|^Reproduce with:' "$log" | grep -v '^--$' | head -n 8
    echo "-------------------------"
  fi
  line="$(printf '%-15s %12s execs  cov %-6s %s' "$t" "$execs" "${cov:-?}" "$status")"
  summary+=("$line")
  echo "$line"
done

echo
echo "== summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/<target>/)"
  exit 1
fi
