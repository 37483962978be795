#!/usr/bin/env bash
# Benchmark harness (issue 6): vod-upload vs oss2 resumable_upload vs aliyun-oss-go-sdk UploadFile
# (checkpoint on) vs one plain PUT (the ceiling), all against ONE vod-sim, same file, part size and
# parallelism, side by side in one run. Not a test: it prints Markdown tables (BENCHMARKS.md says
# what each number means). Phases: throughput + CPU over plain HTTP, the same over HTTPS, share of
# a long and lossy link, many small files, peak RSS, bytes re-sent after kill -9, network change
# to last byte (the engine only).
#
#   bench/run.sh                                            # everything, ~20 min on 2 cores
#   BENCH_SIZES=64M BENCH_RUNS=1 BENCH_RSS_SIZES= BENCH_KILL_TRIALS=2 bench/run.sh   # smoke run
#   BENCH_PHASES=kill bench/run.sh                          # one phase
#   BENCH_PHASES=throughput,https,link,small BENCH_SIZES=256M bench/run.sh   # issue 16's tables
#
# Environment (defaults in brackets; sizes take numfmt IEC suffixes):
#   BENCH_PHASES [throughput,https,link,small,rss,kill,cut]
#   BENCH_SIZES [256M 1G]          throughput files (random bytes); their runs count for RSS too
#   BENCH_RUNS [3]                 throughput (and HTTPS) runs per tool and file (medians reported)
#   BENCH_HTTPS_SIZES [256M]       HTTPS phase files (random bytes): a second vod-sim with --tls
#   BENCH_LINK_SIZE [64M]          file for the long-and-lossy-link phase (random bytes)
#   BENCH_LINK_BANDWIDTH [12500000] link rate in bytes/s (12,500,000 = 100 Mbit/s)
#   BENCH_LINK_LATENCY_MS [150]    latency the simulator adds to every response (a round trip)
#   BENCH_LINK_RESET [0.01]        share of requests whose connection is reset (0 for none)
#   BENCH_LINK_RUNS [3]
#   BENCH_SMALL_COUNT [300]        files in the many-small-files phase (random bytes), of sizes
#   BENCH_SMALL_MIN [64K]          drawn uniformly (seeded by BENCH_SEED) between these two
#   BENCH_SMALL_MAX [512K]
#   BENCH_SMALL_RUNS [3]
#   BENCH_SMALL_LATENCY_MS [0]     latency added to every response in that phase
#   BENCH_RSS_SIZES [4G]           extra peak-RSS files (sparse: no disk reads), one run per tool
#   BENCH_KILL_SIZE [128M]         file for the kill -9 phase (random bytes)
#   BENCH_KILL_TRIALS [8]          kill points per tool (the same random points for every tool)
#   BENCH_KILL_BANDWIDTH [20000000] link rate (bytes/s) in the kill phase, 0 for none (unthrottled,
#                                  the Go SDK rewrites its checkpoint ~1000 times a second, which
#                                  makes a torn checkpoint far likelier than on any real link)
#   BENCH_CUT_TRIALS [5]           network switches per link (40 MiB/s, and 5,000,000 B/s with 50 ms)
#   BENCH_SEED [1]                 seed of the kill points
#   BENCH_PART_SIZE [1048576]      part size in bytes (the engine's default)
#   BENCH_PARALLEL [5]             parts in parallel (the engine's default)
#   BENCH_SIG [v1]                 OSS signature version, v1 or v4
#   BENCH_ONLY []                  comma-separated subset: vod-upload,oss2,aliyun-oss-go-sdk,plain-put,
#                                  plain-put-copy (the throughput phase only)
#   BENCH_BUILD [1]                0: use the binaries already copied to $BENCH_DIR/bin
#   BENCH_DIR [bench/out]          private binaries, the Go peer, results.json, results.md (git-ignored)
#   BENCH_TMPDIR [$TMPDIR or /tmp] where the test files and the simulator's data go (removed at the end)
#   CARGO_TARGET_DIR, VOD_VENV, PYTHON as for tests/conformance/run.sh
# Extra arguments go to harness.py (e.g. --timeout 600).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
venv="${VOD_VENV:-$repo/target/conformance-venv}"
python="${PYTHON:-python3}"
bench_dir="${BENCH_DIR:-$here/out}"
bin="$bench_dir/bin"
log() { echo "bench: $*" >&2; }
mkdir -p "$bin"

# 1. Release binaries, copied at once to a private directory: the target dir may be shared with
#    other checkouts (cargo names artifacts without the checkout's path), and a concurrent build
#    must not swap a binary mid-run. Touching the sources first makes cargo rebuild from THIS tree.
if [ "${BENCH_BUILD:-1}" != 0 ]; then
    log "building release binaries from $repo"
    touch "$repo/src/lib.rs" "$repo"/crates/*/src/*.rs
    (cd "$repo" && cargo build --release --quiet -p vod-sim -p vod-upload-cli)
    cp "$target/release/vod-sim" "$target/release/vod-upload" "$bin/"
    (cd "$repo" && cargo build --release --quiet -p vod-upload --example measure)
    cp "$target/release/examples/measure" "$bin/"
fi
for b in vod-sim vod-upload measure; do
    [ -x "$bin/$b" ] || { log "$bin/$b missing (run with BENCH_BUILD=1)"; exit 1; }
done

# 2. Peers: the virtualenv (same pinned SDKs as the conformance test) and the Go module.
# shellcheck source=../tests/conformance/venv.sh
. "$repo/tests/conformance/venv.sh"
venv_ready || { log "virtualenv setup failed"; exit 1; }
log "building the Go peer"
(cd "$here/peers/go" && GOFLAGS=-mod=readonly go build -o "$bin/oss-go-upload" . &&
    GOFLAGS=-mod=readonly go build -o "$bin/rusage" ./rusage)

# 3. Test files in a temporary directory, removed on exit (the simulator's data dir is the
#    harness's own temporary directory, removed by it).
tmp_root="${BENCH_TMPDIR:-${TMPDIR:-/tmp}}"
files_dir="$(mktemp -d "$tmp_root/vod-bench-files.XXXXXX")"
trap 'rm -rf "$files_dir"' EXIT
trap 'exit 130' INT TERM

bytes_of() { numfmt --from=iec "$1"; }
# make_file SIZE random|sparse -> path (made once per size and fill; the directory starts empty)
make_file() {
    local f="$files_dir/file-$1-$2.mp4"
    if [ ! -f "$f" ]; then
        log "making $f ($2)"
        case "$2" in
            random) head -c "$(bytes_of "$1")" /dev/urandom >"$f" ;;
            sparse) truncate -s "$(bytes_of "$1")" "$f" ;;
        esac
    fi
    echo "$f"
}

phases="${BENCH_PHASES:-throughput,https,link,small,rss,kill,cut}"
has() { [[ ",$phases," == *",$1,"* ]]; }
sizes="${BENCH_SIZES-256M 1G}"
https_sizes="${BENCH_HTTPS_SIZES-256M}"
rss_sizes="${BENCH_RSS_SIZES-4G}"
link_size="${BENCH_LINK_SIZE:-64M}"
kill_size="${BENCH_KILL_SIZE:-128M}"

# Disk: random files, plus the simulator holding the largest object twice (parts + the assembled
# object) before the harness deletes it.
need=0 largest=0
for s in $sizes $link_size $kill_size $rss_sizes; do
    b="$(bytes_of "$s")"
    [ "$b" -gt "$largest" ] && largest="$b"
done
for s in $sizes $https_sizes $link_size $kill_size; do need=$((need + $(bytes_of "$s"))); done
need=$((need + ${BENCH_SMALL_COUNT:-300} * $(bytes_of "${BENCH_SMALL_MAX:-512K}")))
need=$((need + 2 * largest + (1 << 30)))
avail=$(($(df --output=avail -B1 "$tmp_root" | tail -1)))
if [ "$avail" -lt "$need" ]; then
    log "$tmp_root has $((avail >> 20)) MiB free, the run needs about $((need >> 20)) MiB (set BENCH_TMPDIR)"
    exit 1
fi

args=()
if has throughput || has rss; then for s in $sizes; do args+=(--file "$(make_file "$s" random)"); done; fi
if has https; then for s in $https_sizes; do args+=(--https-file "$(make_file "$s" random)"); done; fi
has link && args+=(--link-file "$(make_file "$link_size" random)")
if has small; then
    small_dir="$files_dir/small"
    mkdir -p "$small_dir"
    log "making ${BENCH_SMALL_COUNT:-300} small files in $small_dir"
    python3 - "$small_dir" "${BENCH_SMALL_COUNT:-300}" "$(bytes_of "${BENCH_SMALL_MIN:-64K}")" \
        "$(bytes_of "${BENCH_SMALL_MAX:-512K}")" "${BENCH_SEED:-1}" <<'PY'
import os, random, sys
d, n, lo, hi, seed = sys.argv[1], *map(int, sys.argv[2:])
rng = random.Random(seed)
for i in range(n):
    with open(os.path.join(d, f"clip-{i:04d}.mp4"), "wb") as f:
        f.write(os.urandom(rng.randint(lo, hi)))
PY
    args+=(--small-files "$small_dir")
fi
if has rss; then for s in $rss_sizes; do args+=(--rss-file "$(make_file "$s" sparse)"); done; fi
has kill && args+=(--kill-file "$(make_file "$kill_size" random)")
# The test files were just written: flush them now, not as writeback during the first runs.
sync
# Throughput files are only measured in the throughput phase; rss alone uses its own files.
has throughput || args=("${args[@]/#--file/--rss-file}")

go_sdk="$(cd "$here/peers/go" && go list -m -f '{{.Version}}' github.com/aliyun/aliyun-oss-go-sdk)"
versions=(
    --version "$("$bin/vod-upload" --version) (release profile), $(rustc --version)"
    --version "aliyun-oss-go-sdk $go_sdk ($(go version | cut -d' ' -f3))"
)

# 4. Run. Tables on stdout (and in $bench_dir/results.md), progress on stderr.
"$venv/bin/python" "$here/harness.py" \
    --sim "$bin/vod-sim" \
    --python "$venv/bin/python" \
    --go-peer "$bin/oss-go-upload" \
    --vod-upload "$bin/vod-upload" \
    --rusage "$bin/rusage" \
    --measure "$bin/measure" \
    --phases "$phases" \
    --runs "${BENCH_RUNS:-3}" \
    --link-runs "${BENCH_LINK_RUNS:-3}" \
    --link-bandwidth "${BENCH_LINK_BANDWIDTH:-12500000}" \
    --link-latency-ms "${BENCH_LINK_LATENCY_MS:-150}" \
    --link-reset "${BENCH_LINK_RESET:-0.01}" \
    --small-runs "${BENCH_SMALL_RUNS:-3}" \
    --small-latency-ms "${BENCH_SMALL_LATENCY_MS:-0}" \
    --kill-trials "${BENCH_KILL_TRIALS:-8}" \
    --kill-bandwidth "${BENCH_KILL_BANDWIDTH:-20000000}" \
    --cut-trials "${BENCH_CUT_TRIALS:-5}" \
    --cut-link "$((40 << 20)):0" \
    --cut-link "5000000:50" \
    --seed "${BENCH_SEED:-1}" \
    --part-size "${BENCH_PART_SIZE:-1048576}" \
    --parallel "${BENCH_PARALLEL:-5}" \
    --sig "${BENCH_SIG:-v1}" \
    ${BENCH_ONLY:+--only "$BENCH_ONLY"} \
    "${versions[@]}" \
    --json-out "$bench_dir/results.json" \
    "${args[@]}" "$@" | tee "$bench_dir/results.md"
