#!/usr/bin/env python3
"""Benchmark harness: upload tools side by side against ONE running vod-sim.

Started by bench/run.sh (which builds everything and makes the files). For every file and every
run it starts each tool once (round-robin, so drift spreads evenly), with the same part size,
parallelism and signature version, and measures from outside:
  wall      process wall time (interpreter start and the VOD call included),
  upload    the upload time the tool reports itself (its own clock around the upload),
  cpu       user + sys CPU seconds of the process (os.wait4 rusage),
  rss       peak resident set size of the process (ru_maxrss),
  sent      bytes the simulator received during the run / file size (re-sent data shows here).
Then it prints a table (medians over runs; RSS is the max) and can write every raw run as JSON.
"""

import argparse
import json
import os
import shlex
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


class Tool:
    """One contender: how to build its command line and read its result line."""

    def __init__(self, name, command, result_line):
        self.name = name
        self.command = command  # (ctx, file, workdir) -> argv
        self.result_line = result_line  # stdout lines -> dict with bytes/seconds, or None


def last_json(lines, pred=lambda d: True):
    for line in reversed(lines):
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict) and pred(d):
            return d
    return None


def make_tools(a):
    info_line = json.dumps(a.info)
    tools = []

    # ---------------------------------------------------------------------------------------
    # SLOT: vod-upload (our CLI, issue 6). Runs only when the binary exists and `upload --help`
    # works, so the harness is usable before the CLI lands.
    # ---------------------------------------------------------------------------------------
    if a.vod_upload and cli_ready(a.vod_upload):
        tools.append(Tool(
            "vod-upload",
            lambda ctx, f, wd: [
                a.vod_upload, "upload", "--json",
                "--access-key-id", a.info["access_key_id"],
                "--access-key-secret", a.info["access_key_secret"],
                "--vod-endpoint", a.info["vod_endpoint"], "--allow-http",
                "--region", a.info["region"],
                "--part-size", str(a.part_size), "--parallel", str(a.parallel),
                "--signature-version", a.sig,
                "--state-db", str(wd / "state.db"),
                str(f),
            ],
            lambda lines: last_json(lines, lambda d: d.get("event") == "succeeded"),
        ))
    elif a.vod_upload:
        print(f"note: {a.vod_upload} is not a working `vod-upload upload`; its slot is skipped",
              file=sys.stderr)

    tools.append(Tool(
        "oss2",
        lambda ctx, f, wd: [
            a.python, str(HERE / "peers" / "oss2_upload.py"), "--sim-info", info_line,
            "--file", str(f), "--part-size", str(a.part_size), "--threads", str(a.parallel),
            "--sig", a.sig, "--checkpoint-dir", str(wd),
        ],
        lambda lines: last_json(lines, lambda d: d.get("tool") == "oss2"),
    ))
    tools.append(Tool(
        "aliyun-oss-go-sdk",
        lambda ctx, f, wd: [
            a.go_peer, "-sim-info", info_line, "-file", str(f), "-part-size", str(a.part_size),
            "-threads", str(a.parallel), "-sig", a.sig, "-checkpoint-dir", str(wd),
        ],
        lambda lines: last_json(lines, lambda d: d.get("tool") == "aliyun-oss-go-sdk"),
    ))
    tools.append(Tool(
        "plain-put (ceiling)",
        lambda ctx, f, wd: [a.go_peer, "-mode", "put", "-sim-info", info_line, "-file", str(f)],
        lambda lines: last_json(lines, lambda d: d.get("tool") == "plain-put"),
    ))
    if a.only:
        wanted = set(a.only.split(","))
        tools = [t for t in tools if t.name.split(" ")[0] in wanted]
    return tools


def cli_ready(path):
    if not os.access(path, os.X_OK):
        return False
    try:
        r = subprocess.run([path, "upload", "--help"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and b"--part-size" in r.stdout


def measure(argv, timeout):
    """Run argv; return wall time, rusage of the child (os.wait4), exit code and output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return {
            "rc": proc.returncode,
            "wall": wall,
            "cpu_user": ru.ru_utime,
            "cpu_sys": ru.ru_stime,
            "rss_kib": ru.ru_maxrss,  # KiB on Linux
            "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace")[-4000:],
        }


class SimProcess:
    def __init__(self, binary, data_dir, extra_args):
        self.proc = subprocess.Popen(
            [binary, "--data-dir", str(data_dir), *extra_args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=open(data_dir.parent / "vod-sim.log", "wb"),
        )
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"vod-sim exited before printing its line; see {data_dir.parent / 'vod-sim.log'}")
        self.info = json.loads(line)
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stats(self):
        url = self.info["oss_endpoint"].rstrip("/") + "/_sim/stats"
        with urllib.request.urlopen(url, timeout=30) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def delete_object(a, result):
    """Keep the simulator's disk use flat across runs (best effort: DeleteObject may be absent)."""
    if not result or not result.get("bucket") or not result.get("object"):
        return
    try:
        subprocess.run(
            [a.python, "-c",
             "import oss2,sys; i=__import__('json').loads(sys.argv[1]);"
             "oss2.Bucket(oss2.Auth(i['access_key_id'],i['access_key_secret']),i['oss_endpoint'],sys.argv[2])"
             ".delete_object(sys.argv[3])",
             json.dumps(a.info), result["bucket"], result["object"]],
            capture_output=True, timeout=60, check=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        if not a.warned_delete:
            print("note: could not delete uploaded objects; the simulator's data dir grows", file=sys.stderr)
            a.warned_delete = True


def human(n):
    return f"{n / GiB:g} GiB" if n >= GiB else f"{n / MiB:g} MiB"


def main(argv):
    p = argparse.ArgumentParser(description="Upload tools side by side against one vod-sim.")
    p.add_argument("--sim", required=True, help="vod-sim binary")
    p.add_argument("--sim-args", default="", help="extra vod-sim arguments, e.g. '--bandwidth 5000000 --latency-ms 50'")
    p.add_argument("--python", required=True, help="python of the virtualenv with oss2 + aliyun SDKs")
    p.add_argument("--go-peer", required=True, help="the built bench/peers/go binary")
    p.add_argument("--vod-upload", help="vod-upload binary (skipped if missing or not ready)")
    p.add_argument("--file", action="append", required=True, help="file to upload (repeatable)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--part-size", type=int, default=1 * MiB)
    p.add_argument("--parallel", type=int, default=5)
    p.add_argument("--sig", choices=["v1", "v4"], default="v1")
    p.add_argument("--only", help="comma-separated tool names (vod-upload,oss2,aliyun-oss-go-sdk,plain-put)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per tool run")
    p.add_argument("--json-out", help="write every raw run here")
    a = p.parse_args(argv)
    a.warned_delete = False

    work = Path(tempfile.mkdtemp(prefix="vod-bench-"))
    (work / "data").mkdir()
    sim = SimProcess(a.sim, work / "data", shlex.split(a.sim_args))
    a.info = sim.info
    print(f"vod-sim {a.sim_args + ' ' if a.sim_args.strip() else ''}at {sim.info['oss_endpoint']}; "
          f"part size {a.part_size}, parallel {a.parallel}, signature {a.sig}, {a.runs} run(s)", file=sys.stderr)
    runs = []
    try:
        tools = make_tools(a)
        for f in map(Path, a.file):
            size = f.stat().st_size
            for i in range(a.runs):
                for tool in tools:
                    wd = Path(tempfile.mkdtemp(prefix="run-", dir=work))
                    before = sim.stats()
                    m = measure(tool.command(a, f, wd), a.timeout)
                    after = sim.stats()
                    result = tool.result_line(m["stdout"].splitlines()) if m["rc"] == 0 else None
                    ok = bool(result) and int(result.get("bytes", -1)) == size
                    run = {
                        "tool": tool.name, "file": str(f), "size": size, "run": i + 1, "ok": ok,
                        "rc": m["rc"], "wall": m["wall"], "upload": (result or {}).get("seconds"),
                        "cpu": m["cpu_user"] + m["cpu_sys"], "cpu_user": m["cpu_user"], "cpu_sys": m["cpu_sys"],
                        "rss_mib": m["rss_kib"] / 1024,
                        "sim_bytes": after["bytes_received"] - before["bytes_received"],
                        "result": result,
                    }
                    runs.append(run)
                    status = "ok" if ok else f"FAILED rc={m['rc']}: {m['stderr'].strip()[-600:]}"
                    print(f"  {tool.name:20} {human(size):>9} run {i + 1}: wall {m['wall']:.2f}s "
                          f"cpu {run['cpu']:.2f}s rss {run['rss_mib']:.0f}MiB {status}", file=sys.stderr)
                    delete_object(a, result)
    finally:
        sim.stop()

    print_table(runs)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps({
            "sim_args": a.sim_args, "part_size": a.part_size, "parallel": a.parallel, "sig": a.sig,
            "runs": runs,
        }, indent=1))
    return 0 if runs and all(r["ok"] for r in runs) else 1


def print_table(runs):
    cols = ["tool", "file", "ok", "wall s", "upload s", "MiB/s", "cpu s", "cpu s/GiB", "peak RSS MiB", "sent/size"]
    rows = []
    keys = []
    for r in runs:
        k = (r["size"], r["tool"])
        if k not in keys:
            keys.append(k)
    for size, tool in keys:
        rs = [r for r in runs if r["size"] == size and r["tool"] == tool]
        good = [r for r in rs if r["ok"]]
        if not good:
            rows.append([tool, human(size), f"0/{len(rs)}"] + ["-"] * (len(cols) - 3))
            continue
        med = lambda k: statistics.median(r[k] for r in good)  # noqa: E731
        upload = med("upload")
        rows.append([
            tool, human(size), f"{len(good)}/{len(rs)}",
            f"{med('wall'):.2f}", f"{upload:.2f}", f"{size / MiB / upload:.0f}",
            f"{med('cpu'):.2f}", f"{med('cpu') / (size / GiB):.2f}",
            f"{max(r['rss_mib'] for r in good):.0f}", f"{med('sim_bytes') / size:.3f}",
        ])
    widths = [max(len(str(x)) for x in [c] + [row[i] for row in rows]) for i, c in enumerate(cols)]
    line = lambda vals: "| " + " | ".join(str(v).ljust(w) for v, w in zip(vals, widths)) + " |"  # noqa: E731
    print(line(cols))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
