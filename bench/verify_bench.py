#!/usr/bin/env python3
"""verify benchmark (issue 15): proving what a server holds, three ways, same files, one run.

FILES files of 4 KiB in DIRS folders are uploaded once (ftpsync upload --report) to proftpd in
the server namespace of bench/netlab.py; then, over the path with RTT ms of round-trip time:

  hash       ftpsync verify REPORT            proftpd with mod_digest: HASH SHA-256, nothing
                                              downloaded
  download   ftpsync verify REPORT --download the same folder served by a second proftpd
                                              without mod_digest: every file streamed and hashed
  rclone     rclone check LOCAL REMOTE --download   (rclone's FTP backend has no hashes: with
                                              --download it reads every file and compares bytes)

Every tool gets 8 connections (--workers 8, --checkers 8). Each is run RUNS times, interleaved;
the table shows medians and the ratio to `hash`. Every run must report a match (exit 0).

The namespaces are netlab's with the prefix `vfyb` (NETLAB_NAME), so that this can run while
bench/ftp_bench.py does. Needs root and a release build of ftpsync (built here).

usage: sudo python3 bench/verify_bench.py [--rtt 20] [--runs 3] [--files 2000] [--dirs 100]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

os.environ.setdefault("NETLAB_NAME", "vfyb")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftp_bench  # noqa: E402
from ftp_bench import make_tree, timed  # noqa: E402
from netlab import SLOW_SRV, Lab  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = "/tmp/verifybench"
# timed() keeps its scratch file in the benchmark's folder: ours, not ftp_bench's.
ftp_bench.WORK = WORK
USER, PASSWORD, UID_NAME = "bench", "benchpw", "ftpbench"
PORT_HASH, PORT_PLAIN = 2121, 2122


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def proftpd_conf(name, port, home, digest):
    """A proftpd configuration serving `home` to USER on `port`, with or without mod_digest."""
    d = os.path.join(WORK, name)
    os.makedirs(d, exist_ok=True)
    uid = subprocess.run(["id", "-u", UID_NAME], capture_output=True, text=True, check=True).stdout.strip()
    gid = subprocess.run(["id", "-g", UID_NAME], capture_output=True, text=True, check=True).stdout.strip()
    hashed = subprocess.run(["openssl", "passwd", "-6", PASSWORD], capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(d, "passwd"), "w") as f:
        f.write(f"{USER}:{hashed}:{uid}:{gid}::{home}:/usr/sbin/nologin\n")
    os.chmod(os.path.join(d, "passwd"), 0o600)
    digest_lines = ("LoadModule mod_digest.c\n<IfModule mod_digest.c>\n  DigestEngine on\n  DigestAlgorithms all\n"
                    "  DigestCache off\n</IfModule>\n") if digest else ""
    conf = f"""ServerName "verify bench {name}"
ServerType standalone
DefaultServer on
Port {port}
SocketBindTight off
UseIPv6 off
User nobody
Group nogroup
Umask 022
MaxInstances 60
PidFile {d}/pid
ScoreboardFile {d}/scoreboard
DelayEngine off
SystemLog {d}/system.log
TransferLog {d}/xfer.log
WtmpLog off
UseReverseDNS off
PassivePorts {40000 if digest else 41000} {40999 if digest else 41999}
AuthOrder mod_auth_file.c
AuthUserFile {d}/passwd
RequireValidShell off
DefaultRoot ~
AllowOverwrite on
TimesGMT on
ModulePath /usr/lib/proftpd
{digest_lines}"""
    path = os.path.join(d, "proftpd.conf")
    with open(path, "w") as f:
        f.write(conf)
    return path


def wait_for(port):
    for _ in range(100):
        probe = subprocess.run(Lab.client(["curl", "-s", "--max-time", "2", f"ftp://{USER}:{PASSWORD}@{SLOW_SRV}:{port}/"]),
                               capture_output=True)
        if probe.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"proftpd on port {port} did not answer")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rtt", type=float, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--dirs", type=int, default=100)
    args = ap.parse_args()
    run(["cargo", "build", "--release", "--quiet", "--locked"], cwd=REPO)
    ftpsync = os.path.join(REPO, "target/release/ftpsync")
    shutil.rmtree(WORK, ignore_errors=True)
    home = os.path.join(WORK, "srv")
    os.makedirs(home)
    if subprocess.run(["id", "-u", UID_NAME], capture_output=True).returncode != 0:
        run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", UID_NAME])
    run(["chown", "-R", f"{UID_NAME}:{UID_NAME}", home])
    os.chmod(WORK, 0o755)
    local = os.path.join(WORK, "local")
    make_tree(local, args.files, args.dirs, 4096)
    env = dict(os.environ, FTPSYNC_PASSWORD=PASSWORD)
    url = {p: f"ftp://{USER}:{PASSWORD}@{SLOW_SRV}:{p}/site" for p in (PORT_HASH, PORT_PLAIN)}
    report = os.path.join(WORK, "report.json")
    obscured = subprocess.run(["rclone", "obscure", PASSWORD], capture_output=True, text=True, check=True).stdout.strip()
    tools = {
        "hash": [ftpsync, "verify", report, "--target", url[PORT_HASH], "--workers", "8", "-q"],
        "download": [ftpsync, "verify", report, "--target", url[PORT_PLAIN], "--download", "--workers", "8", "-q"],
        "rclone": ["rclone", "check", local, f":ftp,host={SLOW_SRV},port={PORT_PLAIN},user={USER},pass={obscured}:site",
                   "--download", "--checkers", "8", "--exclude", ".pyftpsync-*", "--config", os.path.join(WORK, "rclone.conf")],
    }
    times = {t: [] for t in tools}
    with Lab(rtt_ms=args.rtt) as lab:
        lab.server(["proftpd", "-n", "-q", "-c", proftpd_conf("hash", PORT_HASH, home, True)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lab.server(["proftpd", "-n", "-q", "-c", proftpd_conf("plain", PORT_PLAIN, home, False)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(PORT_HASH)
        wait_for(PORT_PLAIN)
        feat = subprocess.run(Lab.client(["curl", "-s", "-v", "--max-time", "5", "-Q", "FEAT",
                                          f"ftp://{USER}:{PASSWORD}@{SLOW_SRV}:{PORT_PLAIN}/"]),
                              capture_output=True, text=True).stderr
        assert " HASH " not in feat and "XSHA256" not in feat, "the plain proftpd must not hash"
        run(Lab.client([ftpsync, "upload", local, url[PORT_HASH], "--create-folder", "--workers", "8", "--report",
                        report, "--no-prompt", "--no-keyring", "--no-netrc", "-q"]), env=env)
        for n in range(args.runs):
            for tool, cmd in tools.items():
                secs, _ = timed(cmd, env)
                times[tool].append(secs)
                print(f"run {n + 1} {tool}: {secs:.2f} s", file=sys.stderr)
        xfer = open(os.path.join(WORK, "hash", "xfer.log")).read().splitlines()
    downloads = [l for l in xfer if l.split()[11:12] == ["o"] and ".pyftpsync-" not in l]
    base = statistics.median(times["hash"])
    load = open("/proc/loadavg").read().split()[:3]
    print(f"\nverify of {args.files} files of 4 KiB in {args.dirs} folders, RTT {args.rtt:g} ms, 8 connections each, "
          f"{args.runs} runs (medians); load average {' '.join(load)}")
    print(f"(files downloaded from the hashing proftpd during all runs: {len(downloads)})\n")
    print("| method | command | time | ratio to HASH |")
    print("|---|---|---:|---:|")
    label = {"hash": "`ftpsync verify REPORT` (proftpd HASH SHA-256)",
             "download": "`ftpsync verify REPORT --download` (proftpd without mod_digest)",
             "rclone": "`rclone check LOCAL REMOTE --download` (same proftpd)"}
    for tool in tools:
        m = statistics.median(times[tool])
        print(f"| {tool} | {label[tool]} | {m:.2f} s | {m / base:.2f}x |")


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
