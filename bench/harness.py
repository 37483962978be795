#!/usr/bin/env python3
"""Benchmark harness: upload tools side by side against ONE running vod-sim.

Started by bench/run.sh (which builds everything, makes the files and cleans up). Every tool gets
the same file, part size, parallelism and signature version. Phases (--phases):

  throughput  each file, --runs times, the tools in rotation (the starting tool shifts every run so
              drift spreads evenly); measured from outside: wall time, user+sys CPU and peak RSS of
              the process (os.wait4 rusage), bytes the simulator received, the simulator's own CPU,
              and the rest of the machine's CPU (other processes) during the run. Throughput is
              file size / the upload time the tool reports itself (after its VOD call for the
              peers; from the engine's Started event, VOD call included, for vod-upload).
  link        the simulator throttled (POST /_sim/throttle) to --link-bandwidth and --link-latency-ms:
              each tool's achieved share of the link (throughput / link rate).
  rss         peak RSS of one upload of each --rss-file (the throughput files count as well).
  kill        bytes re-sent after kill -9 at random points: a tool is killed when the simulator
              has received a random fraction of the file (the same fractions for every tool), then
              run again with the same arguments and checkpoint until it succeeds.
  cut         the engine only (the CLI and the peers have no network hook): examples/measure.rs
              switches the engine from Wi-Fi to cellular (policy Wi-Fi only) mid-upload and times
              the last byte the simulator receives.

Tables go to stdout (Markdown), progress to stderr, every raw run to --json-out.
"""

import argparse
import datetime
import json
import os
import platform
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
MiB = 1024 * 1024
GiB = 1024 * MiB
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
PEERS = ("vod-upload", "oss2", "aliyun-oss-go-sdk")  # tools with a checkpoint (the kill phase)
CEILING = "plain-put"
COPY_PUT = "plain-put-copy"  # throughput phase only


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------

class Tool:
    """One contender: its command line (per file and work dir) and how to find its result line."""

    def __init__(self, name, command, result_line):
        self.name = name
        self.command = command  # (file, workdir) -> argv
        self.result_line = result_line  # stdout lines -> dict with bytes/seconds/bucket/object


def last_json(lines, pred):
    for line in reversed(lines):
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict) and pred(d):
            return d
    return None


def make_tools(a, sim):
    """The tools, talking to `sim` (plain HTTP, or HTTPS trusting its private CA)."""
    info_line = json.dumps(sim.info)
    info = sim.info
    ca = sim.ca
    tools = [
        Tool(
            "vod-upload",
            # Mode 2 with the account key, a state database per work dir (fresh per run; the same
            # one for the re-runs after a kill). Several files: one process, one after the other
            # (the engine's default of one file at a time).
            lambda fs, wd: [
                a.vod_upload, "upload", "--json",
                "--access-key-id", info["access_key_id"],
                "--access-key-secret", info["access_key_secret"],
                "--vod-endpoint", info["vod_endpoint"],
                *(["--ca-cert", str(ca)] if ca else ["--allow-http"]),
                "--region", info["region"],
                *a.engine_args,
                "--signature-version", a.sig,
                "--state-db", str(wd / "state.db"),
                *[str(f) for f in fs],
            ],
            lambda lines: engine_result(lines),
        ),
        Tool(
            "oss2",
            lambda fs, wd: [
                a.python, str(HERE / "peers" / "oss2_upload.py"), "--sim-info", info_line,
                *[x for f in fs for x in ("--file", str(f))],
                "--part-size", str(a.part_size), "--threads", str(a.parallel),
                "--sig", a.sig, "--checkpoint-dir", str(wd), "--vod-state", str(wd / "vod.json"),
                *(["--ca-file", str(ca)] if ca else []),
            ],
            lambda lines: peer_result(lines, "oss2"),
        ),
        Tool(
            "aliyun-oss-go-sdk",
            lambda fs, wd: [
                a.go_peer, "-sim-info", info_line, *[x for f in fs for x in ("-file", str(f))],
                "-part-size", str(a.part_size),
                "-threads", str(a.parallel), "-sig", a.sig, "-checkpoint-dir", str(wd),
                "-vod-state", str(wd / "vod.json"),
                *(["-ca-file", str(ca)] if ca else []),
            ],
            lambda lines: peer_result(lines, "aliyun-oss-go-sdk"),
        ),
        Tool(
            CEILING,
            lambda fs, wd: [a.go_peer, "-mode", "put", "-sim-info", info_line,
                            *[x for f in fs for x in ("-file", str(f))],
                            *(["-ca-file", str(ca)] if ca else [])],
            lambda lines: peer_result(lines, CEILING),
        ),
        Tool(
            # The plain PUT without sendfile: the file read into user space and written to the
            # socket, as any client that checksums or encrypts must (plain HTTP only: over TLS
            # plain-put copies already). Not a peer: it explains the ceiling's CPU.
            COPY_PUT,
            lambda fs, wd: [a.go_peer, "-mode", "put-copy", "-sim-info", info_line,
                            *[x for f in fs for x in ("-file", str(f))]],
            lambda lines: peer_result(lines, COPY_PUT),
        ),
    ]
    if ca:
        tools = [t for t in tools if t.name != COPY_PUT]
    if a.only:
        wanted = set(a.only.split(","))
        unknown = wanted - {t.name for t in tools}
        if unknown:
            raise SystemExit(f"--only: unknown tool(s) {sorted(unknown)}")
        tools = [t for t in tools if t.name in wanted]
    return tools


def json_lines(lines):
    for line in lines:
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict):
            yield d


def engine_result(lines):
    """The engine's result: its `succeeded` line for one file; for several, the files, their
    bytes and the objects (for deleting them), from every `succeeded` line."""
    done = [d for d in json_lines(lines) if d.get("event") == "succeeded"]
    if len(done) == 1:
        return dict(done[0], objects=[done[0]])
    if not done:
        return None
    return {"files": len(done), "bytes": sum(int(d["bytes"]) for d in done),
            "seconds": sum(float(d["seconds"]) for d in done), "objects": done}


def peer_result(lines, tool):
    """A peer's result: its one line for one file, its summary line (plus the per-file lines,
    for deleting the objects) for several."""
    mine = [d for d in json_lines(lines) if d.get("tool") == tool]
    if not mine:
        return None
    last = dict(mine[-1])
    last["objects"] = [d for d in mine if d.get("object")]
    return last


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------

def proc_cpu(pid):
    """user+sys CPU seconds of a running process (its threads included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy():
    """CPU seconds all cores spent busy since boot (everything but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / CLK_TCK


def load_avg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


class Sim:
    """The one vod-sim process of the run."""

    def __init__(self, binary, work, tls=False):
        name = "vod-sim-tls" if tls else "vod-sim"
        self.log_path = work / f"{name}.log"
        # HTTPS: the simulator's private CA, written before it prints its line.
        self.ca = work / f"{name}-ca.pem" if tls else None
        self.ssl = None
        extra = ["--tls", "--tls-cert-out", str(self.ca)] if tls else []
        (work / f"data-{name}").mkdir()
        self.proc = subprocess.Popen(
            [binary, "--data-dir", str(work / f"data-{name}"), *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=open(self.log_path, "wb"),
        )
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"vod-sim exited before printing its line; see {self.log_path}")
        self.info = json.loads(line)
        self.base = self.info["oss_endpoint"].rstrip("/")
        if tls:
            import ssl
            self.ssl = ssl.create_default_context(cafile=str(self.ca))
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stats(self):
        with urllib.request.urlopen(self.base + "/_sim/stats", timeout=30, context=self.ssl) as r:
            return json.loads(r.read())

    def received(self):
        return self.stats()["bytes_received"]

    def throttle(self, bandwidth, latency_ms):
        req = urllib.request.Request(
            self.base + "/_sim/throttle", method="POST",
            data=json.dumps({"bandwidth": bandwidth, "latency_ms": latency_ms}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30, context=self.ssl) as r:
            r.read()

    def faults(self, rules):
        """Replaces the fault rules (POST /_sim/faults); [] removes them."""
        req = urllib.request.Request(
            self.base + "/_sim/faults", method="POST", data=json.dumps({"rules": rules}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30, context=self.ssl) as r:
            r.read()

    def cpu(self):
        return proc_cpu(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_tool(a, sim, argv, kill_at=None):
    """Run argv to its end (or kill -9 it once the simulator has received kill_at bytes in all).

    The tool runs under the rusage helper (see bench/peers/go/rusage), which reports its user+sys
    CPU and peak RSS. Returns those, wall time, exit code, output, the simulator's bytes and CPU
    during the run and the CPU the rest of the machine used meanwhile.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(suffix=".json", dir=a.work) as ru_file:
        st0, sim_cpu0, busy0 = sim.stats(), sim.cpu(), machine_busy()
        recv0 = st0["bytes_received"]
        start = time.perf_counter()
        proc = subprocess.Popen([a.rusage, ru_file.name, *argv], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err)
        killed = False
        deadline = start + a.timeout
        while proc.poll() is None:
            if time.perf_counter() > deadline or (
                    kill_at is not None and not killed and sim.received() >= kill_at):
                proc.send_signal(signal.SIGUSR1)  # the helper kills the tool with SIGKILL
                killed = True
                proc.wait()
                break
            time.sleep(0.002 if kill_at is not None else 0.02)
        wall = time.perf_counter() - start
        st1, sim_cpu1, busy1 = sim.stats(), sim.cpu(), machine_busy()
        recv1 = st1["bytes_received"]
        ru = json.loads(Path(ru_file.name).read_text() or "{}")
        out.seek(0)
        err.seek(0)
        cpu_user, cpu_sys = ru.get("user_s", 0.0), ru.get("sys_s", 0.0)
        cpu = cpu_user + cpu_sys
        sim_cpu = sim_cpu1 - sim_cpu0
        return {
            "rc": proc.returncode, "killed": killed, "wall": wall,
            "cpu": cpu, "cpu_user": cpu_user, "cpu_sys": cpu_sys,
            "rss_mib": ru.get("maxrss_kib", 0) / 1024,
            "sim_bytes": recv1 - recv0, "sim_cpu": sim_cpu,
            # What the simulator saw: requests, TCP connections, connections reset by a fault.
            **{f"sim_{k}": st1[k] - st0[k] for k in ("requests", "connections", "connections_reset")},
            # Whatever else ran meanwhile (other builds on a shared machine), as a share of all cores.
            "background": max(0.0, (busy1 - busy0) - cpu - sim_cpu) / (wall * NCPU),
            "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace")[-4000:],
        }


class Cleaner:
    """Deletes uploaded objects so the simulator's data dir stays flat (account key, oss2)."""

    def __init__(self, sim):
        import oss2  # the harness runs in the peers' virtualenv
        self.oss2 = oss2
        info = sim.info
        self.auth = oss2.Auth(info["access_key_id"], info["access_key_secret"])
        self.endpoint = info["oss_endpoint"]
        self.session = oss2.Session()
        if sim.ca:
            # Not REQUESTS_CA_BUNDLE from the environment: the simulator's CA.
            self.session.session.trust_env = False
            self.session.session.verify = str(sim.ca)
        self.warned = False

    def delete(self, result):
        for obj in (result or {}).get("objects", []):
            if not obj.get("bucket") or not obj.get("object"):
                continue
            try:
                self.oss2.Bucket(self.auth, self.endpoint, obj["bucket"], session=self.session) \
                    .delete_object(obj["object"])
            except Exception as e:  # noqa: BLE001 (best effort: only disk use depends on it)
                if not self.warned:
                    log(f"note: could not delete uploaded objects ({e}); the simulator's data dir grows")
                    self.warned = True
                return


def one_run(a, sim, tool, f, phase, **extra):
    """One complete upload of f (a file, or a list of files uploaded by one process) by tool in
    a fresh work dir; returns the run record."""
    files = f if isinstance(f, list) else [f]
    size = sum(x.stat().st_size for x in files)
    wd = Path(tempfile.mkdtemp(prefix="run-", dir=a.work))
    m = run_tool(a, sim, tool.command(files, wd))
    shutil.rmtree(wd, ignore_errors=True)
    result = tool.result_line(m["stdout"].splitlines()) if m["rc"] == 0 else None
    ok = bool(result) and int(result.get("bytes", -1)) == size and \
        int(result.get("files", 1)) == len(files)
    run = {
        "phase": phase, "tool": tool.name, "file": str(files[0]) if len(files) == 1 else f"{len(files)} files",
        "files": len(files), "size": size, "ok": ok,
        "upload": (result or {}).get("seconds"),
        "result": {k: v for k, v in (result or {}).items() if k != "objects"} or None,
        **{k: v for k, v in m.items() if k not in ("stdout", "stderr")}, **extra,
    }
    status = "ok" if ok else f"FAILED rc={m['rc']}: {m['stderr'].strip()[-600:]}"
    mibs = f"{size / MiB / run['upload']:.0f} MiB/s" if ok and run["upload"] else "-"
    log(f"  {phase:10} {tool.name:18} {human(size):>8} {mibs:>10} wall {m['wall']:6.2f}s "
        f"cpu {m['cpu']:5.2f}s rss {m['rss_mib']:4.0f}MiB sim-cpu {m['sim_cpu']:5.2f}s "
        f"bg {m['background'] * 100:3.0f}% req {m['sim_requests']} conn {m['sim_connections']} "
        f"resets {m['sim_connections_reset']} {status}")
    sim.cleaner.delete(result)
    return run


# --------------------------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------------------------

def rotation(tools, i):
    return tools[i % len(tools):] + tools[:i % len(tools)]


def phase_throughput(a, sim, tools):
    runs = []
    for f in a.file:
        for i in range(a.runs):
            for tool in rotation(tools, i):
                runs.append(one_run(a, sim, tool, f, "throughput", run=i + 1))
    return runs


def phase_https(a, sim, tools):
    """Throughput and CPU again, against the simulator serving HTTPS (tools bound to it)."""
    runs = []
    for f in a.https_file:
        for i in range(a.runs):
            for tool in rotation(tools, i):
                runs.append(one_run(a, sim, tool, f, "https", run=i + 1))
    return runs


def phase_link(a, sim, tools):
    tools = [t for t in tools if t.name != COPY_PUT]
    runs = []
    sim.throttle(a.link_bandwidth, a.link_latency_ms)
    if a.link_reset:
        # Any request (OSS or VOD) may be cut: about half its body read, then a TCP RST.
        sim.faults([{"op": "*", "action": "reset", "probability": a.link_reset}])
    try:
        for i in range(a.link_runs):
            for tool in rotation(tools, i):
                runs.append(one_run(a, sim, tool, a.link_file, "link", run=i + 1))
    finally:
        sim.faults([])
        sim.throttle(None, 0)
    return runs


def phase_small(a, sim, tools):
    """Many small files, all of them uploaded by one process per tool, one after the other."""
    tools = [t for t in tools if t.name != COPY_PUT]
    runs = []
    if a.small_latency_ms:
        sim.throttle(None, a.small_latency_ms)
    try:
        for i in range(a.small_runs):
            for tool in rotation(tools, i):
                runs.append(one_run(a, sim, tool, a.small_files, "small", run=i + 1))
    finally:
        sim.throttle(None, 0)
    return runs


def phase_rss(a, sim, tools):
    tools = [t for t in tools if t.name != COPY_PUT]
    return [one_run(a, sim, tool, f, "rss") for f in a.rss_file for tool in tools]


def phase_kill(a, sim, tools):
    if a.kill_bandwidth:
        sim.throttle(a.kill_bandwidth, 0)
    try:
        return kill_trials(a, sim, tools)
    finally:
        sim.throttle(None, 0)


def kill_trials(a, sim, tools):
    f = a.kill_file
    size = f.stat().st_size
    rng = random.Random(a.seed)
    # The same kill points (fractions of the file received by the simulator) for every tool.
    fractions = [rng.uniform(0.05, 0.95) for _ in range(a.kill_trials)]
    runs = []
    for tool in [t for t in tools if t.name in PEERS]:
        # An uninterrupted run first: its bytes beyond the file size (CompleteMultipartUpload XML,
        # VOD form bodies) are protocol overhead, not re-sent data.
        base = one_run(a, sim, tool, f, "kill-base")
        runs.append(base)
        overhead = base["sim_bytes"] - size if base["ok"] else 0
        for t, frac in enumerate(fractions):
            wd = Path(tempfile.mkdtemp(prefix="kill-", dir=a.work))
            argv = tool.command(f, wd)
            st0 = sim.stats()
            first = run_tool(a, sim, argv, kill_at=st0["bytes_received"] + int(frac * size))
            # The checkpoint files as the kill left them (an empty one explains a restart).
            cp_files = {str(p.relative_to(wd)): p.stat().st_size for p in wd.rglob("*") if p.is_file()}
            reruns, last = 0, first
            while last["rc"] != 0 and reruns < a.kill_max_reruns:
                reruns += 1
                last = run_tool(a, sim, argv)
            st1 = sim.stats()
            shutil.rmtree(wd, ignore_errors=True)
            result = tool.result_line(last["stdout"].splitlines()) if last["rc"] == 0 else None
            total = st1["bytes_received"] - st0["bytes_received"]
            run = {
                "phase": "kill", "tool": tool.name, "file": str(f), "size": size, "trial": t + 1,
                "fraction": frac, "ok": result is not None, "killed": first["killed"],
                "reruns": reruns, "sim_bytes": total, "overhead": overhead,
                "resent": total - size - overhead,
                "left_open": st1["multipart_uploads_in_progress"] - st0["multipart_uploads_in_progress"],
                "cp_files_after_kill": cp_files,
                "result": result, "stderr": last["stderr"][-600:] if result is None else "",
            }
            runs.append(run)
            log(f"  kill       {tool.name:18} {human(size):>8} trial {t + 1}: kill at {frac:.0%} "
                f"({'killed' if first['killed'] else 'finished first'}), {reruns} re-run(s), "
                f"re-sent {run['resent'] / MiB:.2f} MiB, uploads left open {run['left_open']}"
                + (f"; checkpoint files after the kill {cp_files}" if run["left_open"] else "")
                + ("" if run["ok"] else f" FAILED: {run['stderr']}"))
            sim.cleaner.delete(result)
    return runs


def phase_cut(a, sim):
    runs = []
    for bandwidth, latency in a.cut_links:
        argv = [a.measure, "--sim-info", json.dumps(sim.info), "--trials", str(a.cut_trials),
                "--bandwidth", str(bandwidth), "--latency-ms", str(latency), "--json", "cut"]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=a.timeout)
        if r.returncode != 0:
            log(f"  cut: measure failed rc={r.returncode}: {r.stderr[-600:]}")
            runs.append({"phase": "cut", "bandwidth": bandwidth, "latency_ms": latency, "ok": False})
            continue
        for line in r.stdout.splitlines():
            d = json.loads(line)
            d.update(phase="cut", ok=True)
            runs.append(d)
            log(f"  cut        {bandwidth} B/s {latency} ms trial {d['trial']}: last byte "
                f"{d['last_byte_ms']:.0f} ms after the switch, {d['bytes_after']} bytes after it")
    return runs


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------

def human(n):
    return f"{n / GiB:g} GiB" if n >= GiB else f"{n / MiB:g} MiB"


def table(cols, rows):
    widths = [max(len(str(x)) for x in [c] + [row[i] for row in rows]) for i, c in enumerate(cols)]
    line = lambda vals: "| " + " | ".join(str(v).ljust(w) for v, w in zip(vals, widths)) + " |"  # noqa: E731
    print(line(cols))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    print()


def groups(runs, phase):
    """(size, tool) -> runs of that phase, in first-seen order."""
    out = {}
    for r in runs:
        if r["phase"] == phase:
            out.setdefault((r["size"], r["tool"]), []).append(r)
    return out


def mibs(r):
    return r["size"] / MiB / r["upload"]


def print_throughput(runs, tools, phase="throughput"):
    g = groups(runs, phase)
    if not g:
        return {}
    if phase == "https":
        print("### Throughput and CPU over HTTPS (TLS 1.3, the simulator's private CA; unthrottled; "
              "medians over the runs)\n")
    else:
        print("### Throughput and CPU over plain HTTP (unthrottled; medians over the runs)\n")
    summary = {}
    rows = []
    for (size, tool), rs in g.items():
        good = [r for r in rs if r["ok"]]
        if not good:
            rows.append([tool, human(size), f"0/{len(rs)}"] + ["-"] * 8)
            continue
        med = lambda k: statistics.median(r[k] for r in good)  # noqa: E731
        speeds = [mibs(r) for r in good]
        summary[(size, tool)] = {
            "mibs": statistics.median(speeds), "cpu_gib": med("cpu") / (size / GiB),
            "rss": max(r["rss_mib"] for r in good),
        }
        rows.append([
            tool, human(size), f"{len(good)}/{len(rs)}",
            f"{statistics.median(speeds):.0f}", f"{min(speeds):.0f}–{max(speeds):.0f}",
            f"{size / MiB / med('wall'):.0f}",
            f"{med('cpu_user'):.2f}+{med('cpu_sys'):.2f}", f"{med('cpu') / (size / GiB):.2f}",
            f"{med('sim_cpu') / (size / GiB):.2f}",
            f"{max(r['rss_mib'] for r in good):.0f}",
            f"{statistics.median(r['background'] for r in good) * 100:.0f}%",
        ])
    for row in rows:  # % of the ceiling, same file
        size = next(s for (s, t) in g if human(s) == row[1])
        ceil = summary.get((size, CEILING))
        me = summary.get((size, row[0]))
        row.insert(4, f"{me['mibs'] / ceil['mibs'] * 100:.0f}%" if ceil and me else "-")
    table(["tool", "file", "ok", "MiB/s", "of ceiling", "min–max", "MiB/s (wall)", "cpu user+sys s",
           "cpu s/GiB", "sim cpu s/GiB", "peak RSS MiB", "other load"], rows)
    return summary


def print_link(runs, a):
    g = groups(runs, "link")
    if not g:
        return
    rate = a.link_bandwidth
    resets = f", connection resets at {a.link_reset * 100:g}% of requests" if a.link_reset else ""
    print(f"### Share of a long, lossy link ({rate:,} B/s = {rate * 8 / 1e6:g} Mbit/s, "
          f"{a.link_latency_ms} ms added to every response{resets}; medians)\n")
    rows = []
    for (size, tool), rs in g.items():
        good = [r for r in rs if r["ok"]]
        resets_hit = sum(r["sim_connections_reset"] for r in rs)
        if not good:
            rows.append([tool, human(size), f"0/{len(rs)}", "-", "-", "-", "-", str(resets_hit), "-"])
            continue
        up = statistics.median(r["upload"] for r in good)
        wall = statistics.median(r["wall"] for r in good)
        shares = [r["size"] / r["upload"] / rate for r in good]
        rows.append([
            tool, human(size), f"{len(good)}/{len(rs)}", f"{size / up:,.0f}",
            f"{statistics.median(shares) * 100:.1f}%",
            f"{min(shares) * 100:.1f}–{max(shares) * 100:.1f}%", f"{size / wall / rate * 100:.1f}%",
            str(resets_hit),
            f"{statistics.median(r['sim_requests'] for r in good):.0f}",
        ])
    table(["tool", "file", "ok", "B/s", "share of link", "min–max", "share (wall)",
           "resets (all runs)", "requests"], rows)


def print_small(runs, a):
    g = groups(runs, "small")
    if not g:
        return
    lat = f", {a.small_latency_ms} ms added to every response" if a.small_latency_ms else ", unthrottled"
    sizes = [f.stat().st_size for f in a.small_files]
    print(f"### Many small files ({len(sizes)} files of {min(sizes) / 1024:.0f}–{max(sizes) / 1024:.0f} KiB, "
          f"{sum(sizes) / MiB:.0f} MiB in all, one process per tool{lat}; medians)\n")
    rows = []
    for (size, tool), rs in g.items():
        good = [r for r in rs if r["ok"]]
        if not good:
            rows.append([tool, f"0/{len(rs)}"] + ["-"] * 7)
            continue
        n = good[0]["files"]
        med = lambda k: statistics.median(r[k] for r in good)  # noqa: E731
        rows.append([
            tool, f"{len(good)}/{len(rs)}", f"{n / med('wall'):.1f}",
            f"{min(n / r['wall'] for r in good):.1f}–{max(n / r['wall'] for r in good):.1f}",
            f"{med('cpu_user'):.2f}+{med('cpu_sys'):.2f}", f"{med('cpu') / n * 1000:.1f}",
            f"{med('sim_requests') / n:.1f}", f"{med('sim_connections') / n:.2f}",
            f"{med('sim_cpu') / n * 1000:.1f}",
        ])
    table(["tool", "ok", "files/s", "min–max", "cpu user+sys s", "cpu ms/file", "requests/file",
           "connections/file", "sim cpu ms/file"], rows)


def print_rss(runs, summary):
    per_tool = {}
    for (size, tool), s in summary.items():
        per_tool.setdefault(tool, {})[size] = s["rss"]
    for (size, tool), rs in groups(runs, "rss").items():
        good = [r for r in rs if r["ok"]]
        per_tool.setdefault(tool, {})[size] = max(r["rss_mib"] for r in good) if good else None
    if not per_tool:
        return per_tool
    sizes = sorted({s for d in per_tool.values() for s in d})
    print("### Peak RSS (MiB, max over runs; part size and parallelism as above)\n")
    table(["tool"] + [human(s) for s in sizes],
          [[t] + [("-" if d.get(s) is None else f"{d[s]:.0f}") for s in sizes] for t, d in per_tool.items()])
    return per_tool


def print_kill(runs, a):
    g = {}
    for r in runs:
        if r["phase"] == "kill":
            g.setdefault((r["size"], r["tool"]), []).append(r)
    if not g:
        return
    link = f"a {a.kill_bandwidth:,} B/s link" if a.kill_bandwidth else "no throttle"
    print(f"### Bytes re-sent after kill -9 at random points (part size {a.part_size:,} B = "
          f"{a.part_size / MiB:g} MiB; {link})\n")
    rows = []
    for (size, tool), rs in g.items():
        good = [r for r in rs if r["ok"]]
        killed = [r for r in good if r["killed"]]
        res = [r["resent"] for r in killed]
        rows.append([
            tool, human(size), f"{len(good)}/{len(rs)}", f"{len(killed)}",
            f"{statistics.mean(res) / MiB:.2f}" if res else "-",
            f"{max(res) / MiB:.2f}" if res else "-",
            f"{statistics.mean(res) / a.part_size:.1f}" if res else "-",
            f"{sum(r['reruns'] for r in good)}", f"{sum(r['left_open'] for r in rs)}",
            f"{rs[0]['overhead']:,}",
        ])
    table(["tool", "file", "ok", "killed mid-upload", "re-sent mean MiB", "re-sent max MiB",
           "mean in parts", "re-runs", "uploads left open", "protocol overhead B"], rows)


def print_cut(runs):
    cut = [r for r in runs if r["phase"] == "cut"]
    if not cut:
        return
    print("### Network-state change (Wi-Fi → cellular, policy Wi-Fi only) to the last byte "
          "received: vod-upload engine only\n")
    rows = []
    for key in dict.fromkeys((r["bandwidth"], r["latency_ms"]) for r in cut):
        rs = [r for r in cut if (r["bandwidth"], r["latency_ms"]) == key and r["ok"]]
        if not rs:
            rows.append([f"{key[0]:,} B/s, {key[1]} ms", "0", "-", "-", "-", "-"])
            continue
        last = [r["last_byte_ms"] for r in rs]
        after = [r["bytes_after"] for r in rs]
        rows.append([
            f"{key[0]:,} B/s, {key[1]} ms", str(len(rs)),
            f"{statistics.median(r['set_network_state_ms'] for r in rs):.3f}",
            f"{statistics.median(last):.0f} / {max(last):.0f}",
            f"{statistics.median(after) / MiB:.2f} / {max(after) / MiB:.2f}",
            f"{statistics.median(r['uploaded_at_cut'] for r in rs) / MiB:.0f}",
        ])
    table(["link", "trials", "set_network_state ms (median)", "last byte ms (median / max)",
           "MiB after the call (median / max)", "MiB uploaded at the cut (median)"], rows)


def print_targets(summary, rss, https=None):
    if not summary and not https:
        return
    print("### Targets (issues 6 and 16)\n")
    lines = []
    for size, tool in sorted(https or {}):
        me, p = (https or {}).get((size, "vod-upload")), https[(size, tool)]
        if me and tool != "vod-upload":
            lines.append(f"- HTTPS {human(size)} vs {tool}: {me['mibs']:.0f} vs {p['mibs']:.0f} MiB/s, "
                         f"{me['cpu_gib']:.2f} vs {p['cpu_gib']:.2f} CPU s/GiB")
    for size in sorted({s for s, _ in summary}):
        me = summary.get((size, "vod-upload"))
        if not me:
            continue
        for peer in ("oss2", "aliyun-oss-go-sdk"):
            p = summary.get((size, peer))
            if p:
                lines.append(f"- {human(size)} throughput vs {peer}: {me['mibs']:.0f} vs {p['mibs']:.0f} MiB/s "
                             f"({(me['mibs'] / p['mibs'] - 1) * 100:+.0f}%) "
                             f"{'MET' if me['mibs'] > p['mibs'] else 'MISSED'}")
                lines.append(f"- {human(size)} CPU per GiB vs {peer}: {me['cpu_gib']:.2f} vs {p['cpu_gib']:.2f} s "
                             f"{'MET' if me['cpu_gib'] < p['cpu_gib'] else 'MISSED'}")
        c = summary.get((size, CEILING))
        if c:
            cpu = me["cpu_gib"] / c["cpu_gib"]
            lines.append(f"- {human(size)} CPU per GiB within 2x of the plain PUT: {me['cpu_gib']:.2f} vs "
                         f"{c['cpu_gib']:.2f} s = {cpu:.1f}x {'MET' if cpu <= 2 else 'MISSED'}")
            cp = summary.get((size, COPY_PUT))
            if cp:
                lines.append(f"- {human(size)} CPU per GiB vs a plain PUT that reads its bytes (no sendfile): "
                             f"{me['cpu_gib']:.2f} vs {cp['cpu_gib']:.2f} s = {me['cpu_gib'] / cp['cpu_gib']:.1f}x")
            ratio = me["mibs"] / c["mibs"]
            lines.append(f"- {human(size)} within 10% of the plain-PUT ceiling: {ratio * 100:.0f}% of "
                         f"{c['mibs']:.0f} MiB/s {'MET' if ratio >= 0.9 else 'MISSED'}")
    mine = {s: v for s, v in rss.get("vod-upload", {}).items() if v is not None}
    if mine:
        worst = max(mine.values())
        lines.append(f"- peak RSS under 64 MiB (sizes {', '.join(human(s) for s in sorted(mine))}): max "
                     f"{worst:.0f} MiB {'MET' if worst < 64 else 'MISSED'}")
    print("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------

def header(a):
    try:
        model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except StopIteration:
        model = platform.processor()
    mem = next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    import oss2
    print(f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}")
    print(f"- machine: {NCPU} CPUs ({model}), {int(mem) / 1024 / 1024:.1f} GiB RAM, "
          f"Linux {platform.release()}; load average {load_avg()} at the start")
    for v in a.version or []:
        print(f"- {v}")
    print(f"- oss2 {oss2.__version__} (Python {platform.python_version()})")
    print(f"- settings: part size {a.part_size:,} B, parallel {a.parallel}, signature {a.sig}; "
          f"{a.runs} throughput (and HTTPS) run(s), {a.link_runs} link run(s), {a.small_runs} small-file "
          f"run(s), {a.kill_trials} kill trial(s) "
          f"({f'{a.kill_bandwidth:,} B/s' if a.kill_bandwidth else 'unthrottled'}), "
          f"{a.cut_trials} cut trial(s) per link, seed {a.seed}")
    print()


def main(argv):
    p = argparse.ArgumentParser(description="Upload tools side by side against one vod-sim.")
    p.add_argument("--sim", required=True, help="vod-sim binary")
    p.add_argument("--python", required=True, help="python of the virtualenv with oss2 + aliyun SDKs")
    p.add_argument("--go-peer", required=True, help="the built bench/peers/go binary")
    p.add_argument("--vod-upload", required=True, help="vod-upload binary")
    p.add_argument("--rusage", required=True, help="the built bench/peers/go/rusage helper")
    p.add_argument("--measure", help="the measure example binary (the cut phase)")
    p.add_argument("--phases", default="throughput,link,rss,kill,cut")
    p.add_argument("--file", action="append", type=Path, default=[], help="throughput file (repeatable)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--link-file", type=Path)
    p.add_argument("--link-runs", type=int, default=3)
    p.add_argument("--link-bandwidth", type=int, default=12_500_000, help="bytes/s")
    p.add_argument("--link-latency-ms", type=int, default=150)
    p.add_argument("--link-reset", type=float, default=0.01,
                   help="share of requests whose connection is reset in the link phase (0: none)")
    p.add_argument("--https-file", action="append", type=Path, default=[],
                   help="file for the HTTPS phase (repeatable)")
    p.add_argument("--small-files", type=Path,
                   help="directory of the many-small-files phase (every file in it, sorted)")
    p.add_argument("--small-runs", type=int, default=3)
    p.add_argument("--small-latency-ms", type=int, default=0,
                   help="latency added to every response in the small-files phase")
    p.add_argument("--rss-file", action="append", type=Path, default=[], help="extra RSS file (repeatable)")
    p.add_argument("--kill-file", type=Path)
    p.add_argument("--kill-trials", type=int, default=8)
    p.add_argument("--kill-bandwidth", type=int, default=20_000_000,
                   help="link rate (bytes/s) during the kill phase; 0: unthrottled")
    p.add_argument("--kill-max-reruns", type=int, default=5)
    p.add_argument("--cut-trials", type=int, default=5)
    p.add_argument("--cut-link", action="append", default=[],
                   help="BYTES_PER_SEC:LATENCY_MS for the cut phase (repeatable)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--part-size", type=int, default=1 * MiB)
    p.add_argument("--parallel", type=int, default=5)
    p.add_argument("--sig", choices=["v1", "v4"], default="v1")
    p.add_argument("--only", help="comma-separated tool names (vod-upload,oss2,aliyun-oss-go-sdk,plain-put,"
                   "plain-put-copy)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per tool run")
    p.add_argument("--version", action="append", help="a version line for the header (repeatable)")
    p.add_argument("--json-out", help="write every raw run here")
    a = p.parse_args(argv)
    phases = [x for x in a.phases.split(",") if x]
    a.small_files = sorted(p for p in a.small_files.iterdir() if p.is_file()) if a.small_files else []
    a.engine_args = ["--part-size", str(a.part_size), "--parallel", str(a.parallel)]
    needs = {"throughput": a.file, "https": a.https_file, "link": a.link_file,
             "small": a.small_files, "rss": a.rss_file or a.file, "kill": a.kill_file, "cut": a.measure}
    for ph in phases:
        if ph not in needs:
            raise SystemExit(f"unknown phase {ph}")
        if not needs[ph]:
            raise SystemExit(f"phase {ph} needs its file/binary argument")
    a.cut_links = [tuple(int(x) for x in c.split(":")) for c in a.cut_link] or [(40 * MiB, 0), (5_000_000, 50)]

    # SIGTERM unwinds like Ctrl-C, so the simulator is stopped and the temporary files removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    a.work = Path(tempfile.mkdtemp(prefix="vod-bench-"))
    sim = Sim(a.sim, a.work)
    sims = [sim]
    a.info = sim.info
    runs = []
    t0 = time.perf_counter()
    try:
        sim.cleaner = Cleaner(sim)
        tools = make_tools(a, sim)
        header(a)
        for ph in phases:
            log(f"phase {ph} (load average {load_avg()})")
            if ph == "throughput":
                runs += phase_throughput(a, sim, tools)
            elif ph == "https":
                # A second simulator, serving HTTPS; the plain one stays idle meanwhile.
                tls_sim = Sim(a.sim, a.work, tls=True)
                sims.append(tls_sim)
                tls_sim.cleaner = Cleaner(tls_sim)
                try:
                    runs += phase_https(a, tls_sim, make_tools(a, tls_sim))
                finally:
                    tls_sim.stop()
            elif ph == "small":
                runs += phase_small(a, sim, tools)
            elif ph == "link":
                runs += phase_link(a, sim, tools)
            elif ph == "rss":
                runs += phase_rss(a, sim, tools)
            elif ph == "kill":
                runs += phase_kill(a, sim, tools)
            elif ph == "cut":
                runs += phase_cut(a, sim)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except OSError:  # urllib's URLError included
        gone = [s for s in sims if s.proc.poll() is not None and s.proc.returncode != 0]
        if not gone:
            raise
        # The simulator went away (e.g. a Ctrl-C reached it first): say so, not a traceback.
        tail = gone[0].log_path.read_bytes()[-2000:].decode(errors="replace")
        log(f"vod-sim exited with status {gone[0].proc.returncode}; its log ends with:\n{tail}")
        return 130 if gone[0].proc.returncode == -signal.SIGINT else 1
    finally:
        for s in sims:
            s.stop()
        shutil.rmtree(a.work, ignore_errors=True)

    summary = print_throughput(runs, tools)
    https = print_throughput(runs, tools, "https")
    print_link(runs, a)
    print_small(runs, a)
    rss = print_rss(runs, summary)
    print_kill(runs, a)
    print_cut(runs)
    print_targets(summary, rss, https)
    print(f"Total time {time.perf_counter() - t0:.0f} s; load average {load_avg()} at the end.")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps({
            "part_size": a.part_size, "parallel": a.parallel, "sig": a.sig, "runs": runs,
        }, indent=1))
    return 0 if runs and all(r.get("ok") for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
