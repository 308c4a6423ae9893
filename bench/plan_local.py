#!/usr/bin/env python3
"""Local-to-local planning benchmark: ftpsync next to pyftpsync on the same tree.

Builds a tree of FILES files in DIRS folders, then times, several runs each, median:
  * "initial": planning against an empty remote folder (everything to upload);
  * "synced":  planning after a full sync (both sides equal, metadata in every folder).
ftpsync runs `ftpsync plan sync LOCAL REMOTE -o PLAN`; pyftpsync has no plan command, its
equivalent read-only run is `pyftpsync sync LOCAL REMOTE --dry-run`. Wall time and peak memory
(max RSS) of each run are measured with wait4(2).

usage: python3 bench/plan_local.py [--files 100000] [--dirs 1000] [--runs 3]
                                   [--pyftpsync PATH] [--work DIR]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--locked"], cwd=REPO, check=True)
    return os.path.join(REPO, "target", "release", "ftpsync")


def make_tree(root, files, dirs):
    """FILES small files spread over DIRS folders, all with the same old mtime."""
    shutil.rmtree(root, ignore_errors=True)
    local = os.path.join(root, "local")
    os.makedirs(os.path.join(root, "remote"))
    per_dir = files // dirs
    stamp = 1388577600
    for d in range(dirs):
        folder = os.path.join(local, f"dir{d:04d}")
        os.makedirs(folder)
        for f in range(per_dir):
            path = os.path.join(folder, f"file{f:05d}.txt")
            with open(path, "w") as fh:
                fh.write(f"content of dir {d} file {f}\n")
            os.utime(path, (stamp, stamp))
    return local, os.path.join(root, "remote")


def measure(cmd, env=None):
    """Runs cmd; returns (wall seconds, peak RSS in MiB)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    err = proc.stderr.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{cmd[0]} failed with exit {code}:\n{err}")
    return wall, usage.ru_maxrss / 1024.0


def bench(label, cmd, runs, env=None):
    results = [measure(cmd, env) for _ in range(runs)]
    wall = statistics.median(r[0] for r in results)
    rss = max(r[1] for r in results)
    print(f"  {label:<28} median {wall:7.2f} s   peak {rss:7.1f} MiB   ({', '.join(f'{r[0]:.2f}' for r in results)})", flush=True)
    return wall, rss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--dirs", type=int, default=1_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pyftpsync", default=os.environ.get("PYFTPSYNC") or shutil.which("pyftpsync"))
    ap.add_argument("--work", default="/tmp/ftpsync-bench-plan")
    args = ap.parse_args()

    ftpsync = build()
    home = os.path.join(args.work, "home")
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, HOME=home, NO_COLOR="1")
    print(f"tree: {args.files} files in {args.dirs} folders under {args.work}", flush=True)
    local, remote = make_tree(os.path.join(args.work, "tree"), args.files, args.dirs)
    plan = os.path.join(args.work, "plan.json")
    rows = []
    for scenario in ("initial", "synced"):
        if scenario == "synced":
            subprocess.run([ftpsync, "sync", local, remote, "-q", "--resolve", "skip"], check=True, env=env)
        print(f"{scenario}:", flush=True)
        ours = bench("ftpsync plan", [ftpsync, "plan", "sync", local, remote, "-o", plan, "-q"], args.runs, env)
        theirs = None
        if args.pyftpsync:
            theirs = bench("pyftpsync sync --dry-run", [args.pyftpsync, "sync", local, remote, "--dry-run", "--resolve", "skip", "-q"], args.runs, env)
        rows.append((scenario, ours, theirs))
    print("\n| scenario | ftpsync plan | peak memory | pyftpsync --dry-run | peak memory | speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    for scenario, (w, m), theirs in rows:
        if theirs:
            tw, tm = theirs
            print(f"| {scenario} | {w:.2f} s | {m:.0f} MiB | {tw:.2f} s | {tm:.0f} MiB | {tw / w:.1f}x |")
        else:
            print(f"| {scenario} | {w:.2f} s | {m:.0f} MiB | n/a | n/a | n/a |")


if __name__ == "__main__":
    main()
