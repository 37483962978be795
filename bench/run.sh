#!/usr/bin/env bash
# Benchmark harness (issue 6): vod-upload vs oss2 resumable_upload vs aliyun-oss-go-sdk UploadFile
# vs one plain PUT (the ceiling), all against one vod-sim, same file, part size and parallelism.
# Not a test: it prints a table (see bench/harness.py for what each column means).
#
#   bench/run.sh                                  # 256 MiB and 1 GiB, 3 runs each
#   BENCH_SIZES=20M BENCH_RUNS=1 bench/run.sh     # quick smoke run
#   BENCH_SIM_ARGS="--bandwidth 5000000 --latency-ms 50" bench/run.sh   # a 40 Mbit/s, 50 ms link
#
# Environment (defaults in brackets):
#   BENCH_SIZES [256M 1G]     file sizes (numfmt IEC suffixes)
#   BENCH_FILL [random]       random (urandom bytes) or sparse (a hole: no disk reads at all)
#   BENCH_RUNS [3]            runs per tool and file
#   BENCH_PART_SIZE [1048576] part size in bytes (the engine's default)
#   BENCH_PARALLEL [5]        parts in parallel (the engine's default)
#   BENCH_SIG [v1]            OSS signature version, v1 or v4
#   BENCH_ONLY []             comma-separated subset: vod-upload,oss2,aliyun-oss-go-sdk,plain-put
#   BENCH_SIM_ARGS []         extra vod-sim arguments
#   BENCH_DIR [<target>/bench] where the files, the Go binary and results.json go
#   CARGO_TARGET_DIR, VOD_VENV, PYTHON as for tests/conformance/run.sh
# Extra arguments go to harness.py (e.g. --timeout 600).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
venv="${VOD_VENV:-$repo/target/conformance-venv}"
python="${PYTHON:-python3}"
bench_dir="${BENCH_DIR:-$target/bench}"
log() { echo "bench: $*" >&2; }

# 1. Release binaries: the simulator always; the CLI when it builds (its slot is skipped otherwise).
log "building release binaries"
(cd "$repo" && cargo build --release --quiet -p vod-sim)
if ! (cd "$repo" && cargo build --release --quiet -p vod-upload-cli 2>/dev/null); then
    log "vod-upload CLI did not build; benchmarking the peers only"
fi

# 2. Peers: the virtualenv (same pinned SDKs as the conformance test) and the Go module.
# shellcheck source=../tests/conformance/venv.sh
. "$repo/tests/conformance/venv.sh"
venv_ready || { log "virtualenv setup failed"; exit 1; }
mkdir -p "$bench_dir"
log "building the Go peer"
(cd "$here/peers/go" && GOFLAGS=-mod=readonly go build -o "$bench_dir/oss-go-upload" .)

# 3. Test files, made once and kept (regenerated when the size or fill differs).
files=()
for size in ${BENCH_SIZES:-256M 1G}; do
    bytes="$(numfmt --from=iec "$size")"
    fill="${BENCH_FILL:-random}"
    f="$bench_dir/file-$size-$fill.mp4"
    if [ ! -f "$f" ] || [ "$(stat -c %s "$f")" != "$bytes" ]; then
        log "making $f ($bytes bytes, $fill)"
        rm -f "$f"
        case "$fill" in
            random) head -c "$bytes" /dev/urandom >"$f" ;;
            sparse) truncate -s "$bytes" "$f" ;;
            *) log "BENCH_FILL must be random or sparse"; exit 1 ;;
        esac
    fi
    files+=(--file "$f")
done

# 4. Run.
exec "$venv/bin/python" "$here/harness.py" \
    --sim "$target/release/vod-sim" \
    --sim-args "${BENCH_SIM_ARGS:-}" \
    --python "$venv/bin/python" \
    --go-peer "$bench_dir/oss-go-upload" \
    --vod-upload "$target/release/vod-upload" \
    --runs "${BENCH_RUNS:-3}" \
    --part-size "${BENCH_PART_SIZE:-1048576}" \
    --parallel "${BENCH_PARALLEL:-5}" \
    --sig "${BENCH_SIG:-v1}" \
    ${BENCH_ONLY:+--only "$BENCH_ONLY"} \
    --json-out "$bench_dir/results.json" \
    "${files[@]}" "$@"
