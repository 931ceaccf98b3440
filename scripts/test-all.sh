#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this). On a fresh Debian 12 machine with
# the Rust toolchain it installs what it needs with apt-get, then runs every gate:
# fmt, clippy, the pure-set dependency rule, all tests, a bounded run of every fuzz target,
# and `cargo bench --no-run`.
#
# Environment: FUZZ_SECONDS (per target, default 15), SKIP_FUZZ=1 to skip fuzzing locally.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Debian packages the suite needs: SIPp (sip-tester; Debian's build has no TLS) and stunnel4
# in front of it for TLS. Installed only when missing so a developer machine is left alone.
APT_PACKAGES=(sip-tester stunnel4)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

command -v cargo >/dev/null || { echo "cargo not found: install the stable Rust toolchain (rustup) first" >&2; exit 1; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (workspace, all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "pure-set crates depend on no I/O, TLS, async or RNG crate"
for c in sbc-sip sbc-sdp sbc-txn sbc-dns sbc-config sbc-emergency sbc-media sbc-routing sbc-policy sbc-srtp; do
  if cargo tree -p "$c" -e normal --prefix none --locked | grep -Eq '^(tokio|mio|socket2|rustls|ring|rand|getrandom|hickory)'; then
    echo "$c pulls in an I/O/RNG crate:" >&2
    cargo tree -p "$c" -e normal --locked >&2
    exit 1
  fi
done
echo ok

step "cargo test (workspace)"
cargo test --workspace --locked

step "cargo bench --no-run"
cargo bench --workspace --no-run --locked

if [ "${SKIP_FUZZ:-0}" != "1" ] && [ -x fuzz/run-all.sh ]; then
  step "fuzz: every target for ${FUZZ_SECONDS:-15} s"
  bash fuzz/run-all.sh "${FUZZ_SECONDS:-15}"
fi

step "all gates passed"
