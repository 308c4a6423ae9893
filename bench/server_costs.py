#!/usr/bin/env python3
"""What a scan's listing costs pyftpdlib itself, without any network delay (issue 17).

pyftpdlib serves every connection from one Python thread, so on it W2's and W3's scans are
bound by the server's own time, not by round trips. This measures that time for the three ways
of learning the exact modification time of every file of W1–W3's tree (2,000 files in 100
folders): plain `STAT` of every folder (times to the minute only), `MDTM` of every file, and
`MLSD` of every folder on a data connection. Each way is sent over 8 connections at once (as
ftpsync's scan does), pipelined where the protocol allows (`STAT`, `MDTM`: one write per
connection), to pyftpdlib on loopback; the time is from the first write to the last reply.

Usage:  python3 bench/server_costs.py [--runs 5] [--files 2000] [--dirs 100]

Needs the pyftpdlib that `.ci/servers.sh` installs (~/.cache/ftpsync-ci/servers/pyftpdlib-venv;
FTPSYNC_CI_DIR overrides the cache); starts it on a free loopback port and stops it.
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

CACHE = os.environ.get("FTPSYNC_CI_DIR", os.path.expanduser("~/.cache/ftpsync-ci"))
PYTHON = os.path.join(CACHE, "servers", "pyftpdlib-venv", "bin", "python")
CONNECTIONS = 8
SERVER = """
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
auth = DummyAuthorizer()
auth.add_user("bench", "bench", sys.argv[1], perm="elr")
FTPHandler.authorizer = auth
FTPServer(("127.0.0.1", int(sys.argv[2])), FTPHandler).serve_forever()
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Connection:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.file = self.sock.makefile("rb")
        self.reply()
        self.sock.sendall(b"USER bench\r\nPASS bench\r\n")
        self.reply()
        assert self.reply().startswith(b"230")

    def reply(self):
        """One whole reply (a multi-line one ends with its code and a space)."""
        first = self.file.readline()
        line = first
        while not (line[:3] == first[:3] and line[3:4] == b" "):
            line = self.file.readline()
            if not line:
                raise EOFError("the server closed the connection")
        return first

    def batch(self, commands):
        self.sock.sendall(b"".join(c.encode() + b"\r\n" for c in commands))
        for _ in commands:
            reply = self.reply()
            assert reply[:1] in (b"2",), reply

    def mlsd(self, folder):
        self.sock.sendall(b"EPSV\r\n")
        port = int(re.search(rb"\|\|\|(\d+)\|", self.reply()).group(1))
        with socket.create_connection(("127.0.0.1", port), timeout=30) as data:
            self.sock.sendall(f"MLSD {folder}\r\n".encode())
            assert self.reply()[:1] == b"1"  # 150, or 125: the connection is already open
            while data.recv(65536):
                pass
        assert self.reply().startswith(b"226")

    def close(self):
        self.sock.close()


def timed(port, folders, work):
    """Milliseconds for `work(connection, its folders)` on CONNECTIONS connections at once."""
    conns = [Connection(port) for _ in range(CONNECTIONS)]
    shares = [folders[i::CONNECTIONS] for i in range(CONNECTIONS)]
    failures = []

    def run(c, share):
        try:
            work(c, share)
        except Exception as e:  # reported below: a failed way has no time
            failures.append(e)

    threads = [threading.Thread(target=run, args=(c, s)) for c, s in zip(conns, shares)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = (time.perf_counter() - start) * 1000
    for c in conns:
        c.close()
    if failures:
        raise RuntimeError(f"{len(failures)} connection(s) failed: {failures[0]!r}")
    return took


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--dirs", type=int, default=100)
    args = ap.parse_args()
    if not os.path.exists(PYTHON):
        sys.exit(f"no pyftpdlib at {PYTHON}: run `bash .ci/run` (or .ci/servers.sh) once first")
    root = tempfile.mkdtemp(prefix="ftpsync-server-costs-")
    per = args.files // args.dirs
    folders = [f"/dir{d:03d}" for d in range(args.dirs)]
    for folder in folders:
        os.makedirs(root + folder)
        for f in range(per):
            with open(f"{root}{folder}/file{f:03d}.bin", "wb") as fh:
                fh.write(b"x" * 4096)
    port = free_port()
    server = subprocess.Popen([PYTHON, "-c", SERVER, root, str(port)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    sys.exit("pyftpdlib did not start")
                time.sleep(0.1)
        ways = {
            "plain STAT of every folder": lambda c, fs: c.batch([f"STAT {f}" for f in fs]),
            "MDTM of every file": lambda c, fs: c.batch(
                [f"MDTM {f}/file{i:03d}.bin" for f in fs for i in range(per)]
            ),
            "MLSD of every folder": lambda c, fs: [c.mlsd(f) for f in fs],
        }
        print(f"pyftpdlib on loopback, {args.files} files in {args.dirs} folders, "
              f"{CONNECTIONS} connections, {args.runs} runs (ms)\n")
        print("| way | median | runs |")
        print("|---|---:|---|")
        for name, work in ways.items():
            runs = [timed(port, folders, work) for _ in range(args.runs)]
            print(f"| {name} | {statistics.median(runs):.0f} | {', '.join(f'{r:.0f}' for r in runs)} |")
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
