#!/usr/bin/env python3
"""How long each tool leaves the site mixed, and what staging costs ftpsync (issue 13, point 3).

The set-up of bench/ftp_bench.py (pure-ftpd in a network namespace behind a relay of RTT ms,
2,000 files of 4 KiB in 100 folders, 8 connections per tool), three workloads in a row on the
same remote folder:

  W1   initial upload into an empty folder
  W3   the upload after changing 1% of the files (20 files)
  REL  a release: 200 files changed, 10 new folders of 5 files each, 20 files deleted
       (every tool with its delete option: ftpsync/pyftpsync/lftp --delete, rclone sync)

Tools: ftpsync (staged apply, the default), ftpsync --no-stage (the streaming apply: each file
renamed into place right after its upload), lftp mirror -R, rclone, pyftpsync 4.1. The runs are
interleaved (run 1 of every tool, then run 2...) so that the machine's load falls on all alike.

Measured per run:
  * the total time of the tool's run (wall clock, as ftp_bench.py);
  * ftpsync's own commit window, `commit_window_ms` of its `--report`;
  * the time the site was mixed, from the server's side: the relay writes down every byte of
    the control connections with the time the server receives or sends it (bench/netlab.py);
    bench/ftplog.py pairs each command with its reply and takes the time between the first
    and the last visible change (a STOR, DELE, MKD, RMD of a final name, an RNTO from or onto
    one; ftpsync's temporary, backup, lock and journal names are not final).

Needs root (namespaces, a system user, apt for lftp and rclone).

usage: sudo python3 bench/commit_window.py [--rtt 20] [--runs 5] [--peer-runs 1]
                                           [--tools ftpsync,ftpsync-no-stage,lftp,rclone,pyftpsync]
"""
import argparse
import collections
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplog  # noqa: E402
from ftp_bench import (PORT, SETS_MTIME, STAMP, WORK, change_one_percent, commands, install, make_tree,  # noqa: E402
                       start_server, timed, tree_files, verify)
from netlab import SLOW_SRV, Lab  # noqa: E402

LOG = os.path.join(WORK, "control.log")
WORKLOADS = ("W1", "W3", "REL")
NAMES = {"W1": "W1 (initial upload)", "W3": "W3 (1% changed)", "REL": "release (200 changed, 10 new folders, 20 deleted)"}


def release(root):
    """The release of issue 13 point 2 on the tree of make_tree: 200 files changed (every tenth,
    from the fifth), 10 new folders of 5 files, 20 files deleted (every hundredth, from the
    seventh: none of them changed)."""
    files = sorted(tree_files(root))
    t = STAMP + 2 * 86400
    changed = [p for n, p in enumerate(files) if n % 10 == 5]
    deleted = [p for n, p in enumerate(files) if n % 100 == 7]
    for rel in changed:
        with open(os.path.join(root, rel), "ab") as fh:
            fh.write(b"release")
        os.utime(os.path.join(root, rel), (t, t))
    for rel in deleted:
        os.remove(os.path.join(root, rel))
    for d in range(10):
        folder = os.path.join(root, f"new{d:02d}")
        os.makedirs(folder)
        for f in range(5):
            path = os.path.join(folder, f"page{f}.html")
            seed = hashlib.sha256(f"new{d}/{f}".encode()).digest()
            with open(path, "wb") as fh:
                fh.write(seed * 128)
            os.utime(path, (t, t))
    return len(changed), 10, len(deleted)


def tool_command(tool, exe, local, remote_dir, home, workload, report):
    base = "ftpsync" if tool.startswith("ftpsync") else tool
    cmd = commands(base, exe, local, remote_dir, SLOW_SRV, home)
    if tool == "ftpsync-baseline":
        cmd[0] = exe["baseline"]
    delete = workload == "REL"
    if base == "ftpsync":
        cmd += ["--report", report] + (["--no-stage"] if tool == "ftpsync-no-stage" else [])
        cmd += ["--delete"] if delete else []
    elif base == "pyftpsync" and delete:
        cmd += ["--delete"]
    elif base == "lftp" and delete:
        cmd[-1] = cmd[-1].replace("mirror -R ", "mirror -R --delete ")
    elif base == "rclone" and delete:
        cmd[1] = "sync"
    return cmd


def log_size():
    return os.path.getsize(LOG) if os.path.exists(LOG) else 0


def one_run(tool, exe, home, env, master, r):
    """The three workloads of one tool, one after the other; {workload: measurements}."""
    local = os.path.join(WORK, "local", tool)
    shutil.rmtree(local, ignore_errors=True)
    shutil.copytree(master, local)
    remote_dir = f"{tool}-{r}"
    served = os.path.join(WORK, "srv", remote_dir)
    out = {}
    for w in WORKLOADS:
        if w == "W3":
            change_one_percent(local, 0)
        elif w == "REL":
            release(local)
        report = os.path.join(WORK, f"report-{tool}-{w}-{r}.json")
        cmd = tool_command(tool, exe, local, remote_dir, home, w, report)
        start = log_size()
        secs, _mib = timed(cmd, env)
        time.sleep(0.1)  # the relay's last lines (the QUIT) written
        end = log_size()
        problem = verify(local, served, SETS_MTIME[tool.split("-")[0]])
        if problem:
            raise RuntimeError(f"{tool} {w}: wrong result: {problem}")
        with open(os.path.join(WORK, "segments.txt"), "a") as f:
            f.write(f"{tool} {w} {r} {start} {end}\n")  # for `python3 bench/ftplog.py LOG START END`
        sessions = ftplog.parse(LOG, start, end)
        seen = ftplog.changes(sessions, "/" + remote_dir)
        by_cmd = sorted(t for t, _ in ftplog.change_commands(sessions, "/" + remote_dir))
        (first_cmd, last_reply), (first_stor, last_stor) = ftplog.timeline(sessions)
        m = {"total": secs, "changes": len(seen),
             "mixed_ms": (seen[-1][0] - seen[0][0]) * 1e3 if seen else 0.0,
             "mixed_cmd_ms": (by_cmd[-1] - by_cmd[0]) * 1e3 if by_cmd else 0.0,
             "first_change_s": seen[0][0] - first_cmd if seen else None,
             "stor_s": (last_stor - first_stor) if first_stor else None,
             "after_last_change_s": last_reply - seen[-1][0] if seen else None}
        if tool.startswith("ftpsync"):
            with open(report) as f:
                m["commit_window_ms"] = json.load(f).get("commit_window_ms")
        out[w] = m
        cw = f", commit_window_ms {m['commit_window_ms']}" if m.get("commit_window_ms") is not None else ""
        print(f"  {tool:<17} {w:<3} run {r + 1}: {secs:6.2f} s, {len(seen):4d} visible changes over "
              f"{m['mixed_ms']:8.1f} ms{cw}", flush=True)
    return out


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, unit="", digits=0):
    return "–" if v is None else f"{v:.{digits}f}{unit}"


def tables(args, results):
    lines = []
    ours, streaming = results.get("ftpsync", {}), results.get("ftpsync-no-stage", {})
    if ours and streaming:
        lines += ["\nftpsync staged (default) vs --no-stage (streaming): total time, median of runs\n",
                  "| workload | staged | --no-stage | staged / streaming | runs (staged; streaming) |",
                  "|---|---:|---:|---:|---|"]
        for w in WORKLOADS:
            a = [m["total"] for m in ours[w]]
            b = [m["total"] for m in streaming[w]]
            lines.append(f"| {NAMES[w]} | {med(a):.2f} s | {med(b):.2f} s | {med(a) / med(b):.3f} | "
                         f"{', '.join(f'{x:.2f}' for x in a)}; {', '.join(f'{x:.2f}' for x in b)} |")
    if ours:
        lines += ["\nftpsync's commit window, staged: its report, and the server's view from the log (by replies; "
                  "by commands: the change happened in between)\n",
                  "| workload | `commit_window_ms` (report), median | runs | log, by replies, median | runs | "
                  "by commands, median |", "|---|---:|---|---:|---|---:|"]
        for w in WORKLOADS:
            ms = ours[w]
            rep = [m["commit_window_ms"] for m in ms]
            log = [m["mixed_ms"] for m in ms]
            lines.append(f"| {NAMES[w]} | {fmt(med(rep), ' ms')} | {', '.join(fmt(x, '', 1) for x in rep)} | "
                         f"{med(log):.0f} ms | {', '.join(f'{x:.1f}' for x in log)} | "
                         f"{med([m['mixed_cmd_ms'] for m in ms]):.1f} ms |")
    lines += ["\nTime the site was mixed (first to last visible change, server's side, from the control "
              "log), median of runs; ftpsync's own `commit_window_ms` beside it\n",
              "| tool | runs | " + " | ".join(f"{w} mixed | {w} changes" for w in WORKLOADS) + " |",
              "|---|---:|" + "---:|---:|" * len(WORKLOADS)]
    for tool, per in results.items():
        cells = []
        for w in WORKLOADS:
            mixed = med([m["mixed_ms"] for m in per[w]])
            cw = med([m.get("commit_window_ms") for m in per[w]])
            extra = f" (report: {cw:.0f} ms)" if cw is not None else ""
            cells.append(f"{mixed:.0f} ms{extra} | {per[w][0]['changes']}")
        lines.append(f"| {tool} | {len(per['W1'])} | " + " | ".join(cells) + " |")
    if ours:
        lines += ["\nftpsync staged, where the time goes (median of runs; seconds from the run's first command)\n",
                  "| workload | total | STORs (first to last) | first visible change at | commit window (log) | "
                  "after the last change |", "|---|---:|---:|---:|---:|---:|"]
        for w in WORKLOADS:
            ms = ours[w]
            lines.append(f"| {w} | {med([m['total'] for m in ms]):.2f} s | {fmt(med([m['stor_s'] for m in ms]), ' s', 2)} | "
                         f"{fmt(med([m['first_change_s'] for m in ms]), ' s', 2)} | "
                         f"{med([m['mixed_ms'] for m in ms]):.0f} ms | "
                         f"{fmt(med([m['after_last_change_s'] for m in ms]), ' s', 2)} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rtt", type=float, default=20.0)
    ap.add_argument("--runs", type=int, default=5, help="runs of ftpsync, staged and --no-stage")
    ap.add_argument("--peer-runs", type=int, default=1, help="runs of lftp, rclone and pyftpsync")
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--dirs", type=int, default=100)
    ap.add_argument("--tools", default="ftpsync,ftpsync-no-stage,lftp,rclone,pyftpsync",
                    help="also ftpsync-baseline: the staged apply of the --baseline binary")
    ap.add_argument("--ftpsync", help="the ftpsync binary to measure (default: a release build of this checkout)")
    ap.add_argument("--baseline", help="another ftpsync binary, measured as the tool ftpsync-baseline")
    args = ap.parse_args()
    tools = args.tools.split(",")
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    exe = install(args.ftpsync)
    if args.baseline:
        exe["baseline"] = os.path.abspath(args.baseline)
    elif "ftpsync-baseline" in tools:
        sys.exit("ftpsync-baseline needs --baseline BINARY")
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    home = os.path.join(WORK, "home")
    os.makedirs(home)
    env = dict(os.environ, HOME=home, NO_COLOR="1")
    master = os.path.join(WORK, "master")
    make_tree(master, args.files, args.dirs, 4096)
    print(f"{args.files} files in {args.dirs} folders, RTT {args.rtt:g} ms", flush=True)
    results = collections.defaultdict(lambda: collections.defaultdict(list))
    with Lab(args.rtt, log=LOG, log_port=PORT) as lab:
        start_server(lab)
        for r in range(max(args.runs, args.peer_runs)):
            for tool in tools:
                if r >= (args.runs if tool.startswith("ftpsync") else args.peer_runs):
                    continue
                for w, m in one_run(tool, exe, home, env, master, r).items():
                    results[tool][w].append(m)
    print(f"\nCommand: `sudo python3 bench/commit_window.py --rtt {args.rtt:g} --runs {args.runs} "
          f"--peer-runs {args.peer_runs} --files {args.files} --dirs {args.dirs} --tools {args.tools}` "
          f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    print(tables(args, results))


if __name__ == "__main__":
    main()
