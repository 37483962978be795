#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets, see docs/fuzzing.md) for SECONDS each
# (default 30), starting from the seed corpora in fuzz/corpus/<target>. Fails when a target
# crashes; the crashing input is left in fuzz/artifacts/<target>/.
# Needs nightly Rust (rustup); installs cargo-fuzz, if missing, into a cache outside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  export CARGO_INSTALL_ROOT="${VOD_FUZZ_TOOLS:-$HOME/.cache/vod-upload/fuzz-tools}"
  export PATH="$CARGO_INSTALL_ROOT/bin:$PATH"
  if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz into $CARGO_INSTALL_ROOT"
    cargo install cargo-fuzz --locked
  fi
fi

# The fuzz workspace builds into a cache outside the checkout (a fresh clone then needs no cold
# build of every target; VOD_FUZZ_TARGET overrides it). The corpora the runs grow go to a
# scratch directory; fuzz/corpus keeps the committed seeds only.
target_dir="${VOD_FUZZ_TARGET:-$HOME/.cache/vod-upload/fuzz-target}"
mkdir -p "$target_dir"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/vod-upload-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
# The store_db target writes its database files here (tmpfs when there is one).
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export VOD_FUZZ_SCRATCH="$(mktemp -d /dev/shm/vod-upload-fuzz.XXXXXX)"
  trap 'rm -rf "$scratch" "$VOD_FUZZ_SCRATCH"' EXIT
else
  export VOD_FUZZ_SCRATCH="$scratch/store"
fi

start=$SECONDS
cargo +nightly fuzz build --target-dir "$target_dir"
echo "fuzz build: $((SECONDS - start)) s"

targets=$(cargo +nightly fuzz list)
failed=()
summary=()
for target in $targets; do
  mkdir -p "$scratch/corpus/$target" "fuzz/corpus/$target"
  log="$scratch/$target.log"
  echo "--- $target (${seconds} s)"
  # The first corpus directory receives new inputs; the seeds are read only.
  if cargo +nightly fuzz run --target-dir "$target_dir" "$target" "$scratch/corpus/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status=CRASH
    failed+=("$target")
    grep -E "panicked|ERROR: |SUMMARY|Test unit written|^Failing input" "$log" | head -20 || true
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 || true)
  summary+=("$(printf '%-16s %-6s %12s execs  %s' "$target" "$status" "${execs:-?}" "$cov")")
done
echo
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzzing: no crashes ($seconds s per target)"
