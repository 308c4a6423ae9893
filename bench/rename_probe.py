#!/usr/bin/env python3
"""Probe how real FTP servers handle RNFR/RNTO, DELE/RMD, dot-file listings and pipelining.

Usage:  bash .ci/servers.sh ~/.cache/ftpsync-ci/servers /tmp/servers.env
        source /tmp/servers.env; cargo build; python3 bench/rename_probe.py [NAME ...]
        (then stop the servers: kill -- -PID for each of $FTPSYNC_SERVER_PIDS)

Servers: the plain ftp:// entries of FTPSYNC_TEST_SERVERS (disk folders from
FTPSYNC_TEST_SERVER_ROOTS), plus, when available, npm's ftp-srv (started here from
~/.cache/ftpsync-ci/ftp-srv with ftp_srv_plain.js) and ftpsync's built-in server
(`target/debug/ftpsync serve` of this checkout), each on a fresh temporary folder.

Every probe works inside a fresh folder `ftpsync-probe-<pid>` of the served folder, which is
removed at the end (over FTP, then on disk if something is left). The disk folder is used as
the ground truth for "what happened" (contents, mtimes). Writes rename_probe.md and
rename_probe.json into the current folder. The README's table of how servers rename
(*All or nothing*) comes from it.
"""
import ftplib
import io
import json
import re
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlparse, unquote

HERE = os.path.dirname(os.path.abspath(__file__))
PID = os.getpid()
PROBE = f"ftpsync-probe-{PID}"
TMP = f".ftpsync-tmp-{PID}"
STAMP = "20200102030405"  # 2020-01-02 03:04:05 UTC
STAMP_EPOCH = 1577934245
TIMEOUT = 10


# ---------------------------------------------------------------------------------------------
# helpers

def raw(ftp, line):
    """Send one command, return the full reply text (never raises on 4xx/5xx)."""
    try:
        ftp.putcmd(line)
        return ftp.getmultiline()
    except (EOFError, OSError) as e:
        return f"ERR {type(e).__name__}: {e}"


def code(reply):
    return reply[:3]


def short(reply, n=70):
    r = " ".join(reply.split())
    r = r.replace("|", "\\|")
    return r if len(r) <= n else r[: n - 1] + "…"


def put(ftp, name, data):
    try:
        ftp.storbinary(f"STOR {name}", io.BytesIO(data))
        return "ok"
    except ftplib.all_errors as e:
        return f"STOR failed: {e}"


def get(ftp, name):
    buf = io.BytesIO()
    try:
        ftp.retrbinary(f"RETR {name}", buf.write)
        return buf.getvalue()
    except ftplib.all_errors as e:
        return f"RETR failed: {e}"


def lines(ftp, cmd):
    out = []
    try:
        resp = ftp.retrlines(cmd, out.append)
        return out, resp
    except ftplib.all_errors as e:
        return None, str(e)


def snapshot(disk):
    """relpath -> bytes (file) or 'DIR', for everything under disk."""
    snap = {}
    for top, dirs, files in os.walk(disk):
        rel = os.path.relpath(top, disk)
        for d in dirs:
            snap[os.path.normpath(os.path.join(rel, d))] = "DIR"
        for f in files:
            p = os.path.join(top, f)
            try:
                with open(p, "rb") as fh:
                    snap[os.path.normpath(os.path.join(rel, f))] = fh.read()
            except OSError as e:
                snap[os.path.normpath(os.path.join(rel, f))] = f"unreadable {e}"
    return snap


def sub(snap, prefix):
    """The part of a snapshot under prefix, with prefix removed."""
    pre = prefix.rstrip("/") + "/"
    return {k[len(pre):]: v for k, v in snap.items() if k.startswith(pre)}


def exists(disk, rel):
    return os.path.lexists(os.path.join(disk, rel))


def isdir(disk, rel):
    return os.path.isdir(os.path.join(disk, rel))


def readf(disk, rel):
    try:
        with open(os.path.join(disk, rel), "rb") as fh:
            return fh.read()
    except OSError as e:
        return f"<{type(e).__name__}>"


def mkdirs_ftp(ftp, *names):
    for n in names:
        raw(ftp, f"MKD {n}")


def set_mtime(ftp, name, disk_path):
    """Try MFMT, SITE UTIME (two syntaxes); fall back to os.utime. Returns the method used."""
    r = raw(ftp, f"MFMT {STAMP} {name}")
    if code(r).startswith("2"):
        return "MFMT", r
    tried = [f"MFMT→{code(r)}"]
    for cmd in (f"SITE UTIME {STAMP} {name}",
                f"SITE UTIME {name} {STAMP} {STAMP} {STAMP} UTC"):
        r = raw(ftp, cmd)
        if code(r).startswith("2") and abs(os.stat(disk_path).st_mtime - STAMP_EPOCH) < 2:
            return cmd.split()[0] + " " + cmd.split()[1] + (" (5-arg)" if "UTC" in cmd else " (2-arg)"), r
        tried.append(f"{' '.join(cmd.split()[:2])}→{code(r)}")
    os.utime(disk_path, (STAMP_EPOCH, STAMP_EPOCH))
    return "disk os.utime (" + ", ".join(tried) + ")", ""


def mdtm(ftp, name):
    r = raw(ftp, f"MDTM {name}")
    return r.split()[1] if code(r) == "213" and len(r.split()) > 1 else f"{code(r)}"


def mlst_modify(ftp, name):
    r = raw(ftp, f"MLST {name}")
    if not code(r).startswith("2"):
        return code(r)
    m = re.search(r"(?i)\bmodify=([0-9.]+)", r)
    return m.group(1) if m else "no modify fact"


# --- raw socket session for pipelining ---------------------------------------------------------

class RawSession:
    def __init__(self, host, port, user, pw, cwd):
        self.s = socket.create_connection((host, port), timeout=TIMEOUT)
        self.f = self.s.makefile("rb")
        self.reply()
        for cmd in (f"USER {user}", f"PASS {pw}", f"CWD {cwd}", "TYPE I"):
            self.send([cmd])
            r = self.reply()
            if cmd.startswith("USER") and r.startswith("230"):
                break
        # CWD after a 230 on USER is unusual, ignore
        self.send([f"CWD {cwd}"])
        self.reply()

    def send(self, cmds):
        self.s.sendall(b"".join(c.encode() + b"\r\n" for c in cmds))

    def reply(self):
        line = self.f.readline()
        if not line:
            raise EOFError("connection closed")
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if len(text) >= 4 and text[3] == "-":
            c = text[:3]
            while True:
                nxt = self.f.readline()
                if not nxt:
                    raise EOFError("connection closed in multi-line reply")
                t = nxt.decode("utf-8", "replace").rstrip("\r\n")
                text += "\n" + t
                if t[:3] == c and t[3:4] == " ":
                    break
        return text

    def replies(self, n):
        out = []
        try:
            for _ in range(n):
                out.append(self.reply())
        except (socket.timeout, OSError, EOFError) as e:
            out.append(f"ERR {type(e).__name__}")
        return out

    def close(self):
        try:
            self.send(["QUIT"])
            self.reply()
        except Exception:
            pass
        self.s.close()


# ---------------------------------------------------------------------------------------------
# the probe of one server

class Probe:
    def __init__(self, name, url, root):
        self.name = name
        u = urlparse(url)
        self.host, self.port = u.hostname, u.port or 21
        self.user, self.pw = unquote(u.username or "anonymous"), unquote(u.password or "")
        base = unquote(u.path or "/")
        self.base = base if base else "/"
        self.dir = self.base.rstrip("/") + "/" + PROBE  # FTP path of the probe folder
        self.disk = os.path.join(root, PROBE)  # same folder on disk
        self.r = {}

    def connect(self):
        ftp = ftplib.FTP(timeout=TIMEOUT)
        ftp.encoding = "utf-8"
        ftp.connect(self.host, self.port)
        ftp.login(self.user, self.pw)
        ftp.set_pasv(True)
        raw(ftp, "TYPE I")
        return ftp

    def fresh(self, ftp, label):
        """A fresh sub-folder of the probe folder for one question; cwd into it."""
        ftp.cwd(self.dir)
        raw(ftp, f"MKD {label}")
        ftp.cwd(f"{self.dir}/{label}")
        return os.path.join(self.disk, label)

    def run(self):
        ftp = self.connect()
        self.r["welcome"] = short(ftp.welcome or "", 60)
        feat = raw(ftp, "FEAT")
        self.r["feat"] = [l.strip() for l in feat.splitlines()[1:-1]]
        ftp.cwd(self.base)
        if os.path.exists(self.disk):
            shutil.rmtree(self.disk)
        mk = raw(ftp, f"MKD {PROBE}")
        if not os.path.isdir(self.disk):
            raise RuntimeError(f"MKD {PROBE} → {mk}; {self.disk} missing (wrong root?)")
        try:
            for q in (self.q1, self.q2, self.q3, self.q4, self.q5, self.q6, self.q7,
                      self.q8, self.q9, self.q10):
                try:
                    if ftp is None:
                        ftp = self.connect()
                    q(ftp)
                except Exception as e:  # keep going with the next question
                    self.r[q.__name__ + "_error"] = f"{type(e).__name__}: {e}"
                    try:
                        ftp.close()
                    except Exception:
                        pass
                    ftp = None
        finally:
            self.cleanup(ftp)
        return self.r

    # 1. plain rename, metadata preserved
    def q1(self, ftp):
        d = self.fresh(ftp, "q1")
        put(ftp, "a.txt", b"hello q1\n")
        method, _ = set_mtime(ftp, "a.txt", os.path.join(d, "a.txt"))
        before = (mdtm(ftp, "a.txt"), mlst_modify(ftp, "a.txt"), int(os.stat(os.path.join(d, "a.txt")).st_mtime))
        mode_before = oct(os.stat(os.path.join(d, "a.txt")).st_mode & 0o7777)
        r1 = raw(ftp, "RNFR a.txt")
        r2 = raw(ftp, "RNTO b.txt")
        after = (mdtm(ftp, "b.txt"), mlst_modify(ftp, "b.txt"),
                 int(os.stat(os.path.join(d, "b.txt")).st_mtime) if exists(d, "b.txt") else None)
        self.r["q1"] = {
            "rnfr": short(r1), "rnto": short(r2),
            "content_ok": readf(d, "b.txt") == b"hello q1\n" and not exists(d, "a.txt"),
            "mtime_set_by": method,
            "before(MDTM,MLST,disk)": before, "after(MDTM,MLST,disk)": after,
            "mtime_kept": before[2] == after[2] and before[0] == after[0],
            "mode_kept": mode_before == (oct(os.stat(os.path.join(d, "b.txt")).st_mode & 0o7777) if exists(d, "b.txt") else None),
        }

    # 2. RNTO onto an existing file
    def q2(self, ftp):
        d = self.fresh(ftp, "q2")
        put(ftp, "old.txt", b"OLD CONTENT\n")
        put(ftp, "new.txt", b"new content\n")
        r1 = raw(ftp, "RNFR new.txt")
        r2 = raw(ftp, "RNTO old.txt")
        c = readf(d, "old.txt")
        outcome = ("overwrote" if c == b"new content\n" and not exists(d, "new.txt")
                   else "refused (both kept)" if c == b"OLD CONTENT\n" and exists(d, "new.txt")
                   else f"other: old.txt={c!r} new.txt exists={exists(d, 'new.txt')}")
        self.r["q2"] = {"rnfr": short(r1), "rnto": short(r2), "outcome": outcome}

    # 3. RNTO onto an existing folder name
    def q3(self, ftp):
        d = self.fresh(ftp, "q3")
        res = {}
        # file -> empty folder
        put(ftp, "f1.txt", b"f1\n")
        raw(ftp, "MKD emptydir")
        a, b = raw(ftp, "RNFR f1.txt"), raw(ftp, "RNTO emptydir")
        res["file→empty folder"] = (short(a, 30), short(b),
                                    self._state(d, {"f1.txt": b"f1\n", "emptydir": "DIR"}, ["f1.txt", "emptydir", "emptydir/f1.txt"]))
        # file -> non-empty folder
        put(ftp, "f2.txt", b"f2\n")
        raw(ftp, "MKD fulldir")
        put(ftp, "fulldir/inner.txt", b"inner\n")
        a, b = raw(ftp, "RNFR f2.txt"), raw(ftp, "RNTO fulldir")
        res["file→non-empty folder"] = (short(a, 30), short(b),
                                        self._state(d, None, ["f2.txt", "fulldir", "fulldir/inner.txt", "fulldir/f2.txt"]))
        # folder -> existing empty folder
        raw(ftp, "MKD src1")
        put(ftp, "src1/s.txt", b"s1\n")
        raw(ftp, "MKD dst1")
        a, b = raw(ftp, "RNFR src1"), raw(ftp, "RNTO dst1")
        res["folder→existing empty folder"] = (short(a, 30), short(b),
                                               self._state(d, None, ["src1", "src1/s.txt", "dst1", "dst1/s.txt", "dst1/src1", "dst1/src1/s.txt"]))
        # folder -> existing non-empty folder
        raw(ftp, "MKD src2")
        put(ftp, "src2/s.txt", b"s2\n")
        raw(ftp, "MKD dst2")
        put(ftp, "dst2/keep.txt", b"keep\n")
        a, b = raw(ftp, "RNFR src2"), raw(ftp, "RNTO dst2")
        res["folder→existing non-empty folder"] = (short(a, 30), short(b),
                                                   self._state(d, None, ["src2", "src2/s.txt", "dst2/keep.txt", "dst2/s.txt", "dst2/src2", "dst2/src2/s.txt"]))
        # folder -> existing file
        raw(ftp, "MKD src3")
        put(ftp, "src3/s.txt", b"s3\n")
        put(ftp, "target.txt", b"t\n")
        a, b = raw(ftp, "RNFR src3"), raw(ftp, "RNTO target.txt")
        res["folder→existing file"] = (short(a, 30), short(b),
                                       self._state(d, None, ["src3", "target.txt", "target.txt/s.txt"]))
        self.r["q3"] = res

    def _state(self, d, _unused, rels):
        out = []
        for rel in rels:
            if exists(d, rel):
                out.append(rel + ("/" if isdir(d, rel) else ""))
        return "present: " + (", ".join(out) if out else "(none)")

    # 4. rename a non-empty folder
    def q4(self, ftp):
        d = self.fresh(ftp, "q4")
        raw(ftp, "MKD N1")
        put(ftp, "N1/f1.txt", b"one\n")
        raw(ftp, "MKD N1/sub")
        put(ftp, "N1/sub/f2.txt", b"two\n")
        want = sub(snapshot(d), "N1")
        a, b = raw(ftp, "RNFR N1"), raw(ftp, "RNTO N2")
        ok1 = sub(snapshot(d), "N2") == want and not exists(d, "N1")
        dot = f"{TMP}-s1"
        c, e = raw(ftp, "RNFR N2"), raw(ftp, f"RNTO {dot}")
        ok2 = sub(snapshot(d), dot) == want and not exists(d, "N2")
        # and back from the dot name (rollback path)
        f, g = raw(ftp, f"RNFR {dot}"), raw(ftp, "RNTO N3")
        ok3 = sub(snapshot(d), "N3") == want
        self.r["q4"] = {
            "to new name": (short(a, 20), short(b, 50), ok1),
            "to dot name": (short(c, 20), short(e, 50), ok2),
            "dot name back": (short(f, 20), short(g, 50), ok3),
        }

    # 5. across folders
    def q5(self, ftp):
        d = self.fresh(ftp, "q5")
        mkdirs_ftp(ftp, "a", "b", "a/sub")
        put(ftp, "a/x.txt", b"x\n")
        put(ftp, "a/sub/y.txt", b"y\n")
        a, b = raw(ftp, "RNFR a/x.txt"), raw(ftp, "RNTO b/x.txt")
        ok1 = readf(d, "b/x.txt") == b"x\n" and not exists(d, "a/x.txt")
        c, e = raw(ftp, "RNFR a/sub"), raw(ftp, "RNTO b/sub")
        ok2 = readf(d, "b/sub/y.txt") == b"y\n" and not exists(d, "a/sub")
        # absolute paths too
        put(ftp, "a/z.txt", b"z\n")
        f, g = raw(ftp, f"RNFR {self.dir}/q5/a/z.txt"), raw(ftp, f"RNTO {self.dir}/q5/b/z.txt")
        ok3 = readf(d, "b/z.txt") == b"z\n"
        # into a missing folder
        put(ftp, "a/w.txt", b"w\n")
        h, i = raw(ftp, "RNFR a/w.txt"), raw(ftp, "RNTO nosuch/w.txt")
        self.r["q5"] = {
            "file a/x.txt→b/x.txt": (short(a, 20), short(b, 50), ok1),
            "folder a/sub→b/sub": (short(c, 20), short(e, 50), ok2),
            "file, absolute paths": (short(f, 20), short(g, 50), ok3),
            "file→missing folder": (short(h, 20), short(i, 60), exists(d, "a/w.txt")),
        }

    # 6. dot names in listings
    def q6(self, ftp):
        d = self.fresh(ftp, "q6")
        fname, dname = f"{TMP}-s1", f"{TMP}-b1"
        put(ftp, fname, b"staged\n")
        raw(ftp, f"MKD {dname}")
        put(ftp, "visible.txt", b"v\n")
        res = {}
        for cmd in ("LIST", "LIST -a", "LIST -la", "NLST", "NLST -a", "MLSD", "STAT ."):
            if cmd == "MLSD":
                out, resp = lines(ftp, "MLSD")
            elif cmd == "STAT .":
                r = raw(ftp, "STAT .")
                out, resp = (r.splitlines()[1:-1], r) if code(r).startswith("2") else (None, r)
            else:
                out, resp = lines(ftp, cmd)
            if out is None:
                res[cmd] = f"error {short(resp, 40)}"
                continue
            text = "\n".join(out)
            vis = "visible.txt" in text
            f_ = fname in text
            d_ = dname in text
            if not (vis or f_ or d_):
                res[cmd] = f"no entries at all ({len(out)} lines)"
                continue
            res[cmd] = ("both shown" if f_ and d_ else "HIDDEN" if not f_ and not d_ else
                        f"file {'shown' if f_ else 'HIDDEN'}, folder {'shown' if d_ else 'HIDDEN'}") + \
                       ("" if vis else " (visible.txt missing!)")
        # explicit MLST / SIZE / MDTM on the hidden name
        r = raw(ftp, f"MLST {fname}")
        res["MLST name"] = code(r) + (" found" if fname in r and code(r).startswith("2") else "")
        raw(ftp, "TYPE I")
        res["SIZE name"] = short(raw(ftp, f"SIZE {fname}"), 30)
        self.r["q6"] = res

    # 7. pipelining
    def q7(self, ftp):
        d = self.fresh(ftp, "q7")
        N, M = 20, 100
        groups = {"seq": N, "pip": N, "big": M}
        for g, n in groups.items():
            for i in range(n):
                put(ftp, f"{g}{i:03d}", f"{g}{i}".encode())
        for i in range(10):
            put(ftp, f"mixa{i}", f"mixa{i}".encode())
            put(ftp, f"mixd{i}", f"mixd{i}".encode())
        cwd = f"{self.dir}/q7"
        res = {}

        def check(g, n):
            """(all renamed correctly, number of targets holding the WRONG file)"""
            ok = all(readf(d, f"{g}d{i:03d}") == f"{g}{i}".encode() and not exists(d, f"{g}{i:03d}") for i in range(n))
            wrong = sum(1 for i in range(n) if exists(d, f"{g}d{i:03d}") and readf(d, f"{g}d{i:03d}") != f"{g}{i}".encode())
            return ok, wrong

        def verdict(got, expect, wrong):
            if got == expect:
                txt = "replies in order"
            else:
                bad = next((k for k, (x, y) in enumerate(zip(got, expect)) if x != y), len(got))
                txt = f"{len([x for x in got if x[:1].isdigit()])}/{len(expect)} replies; first unexpected #{bad}: " + ",".join(got[bad:bad + 6])
            return txt + (f"; **{wrong} WRONG file(s) renamed**" if wrong else "")

        # sequential, one command at a time, on a raw socket
        s = RawSession(self.host, self.port, self.user, self.pw, cwd)
        t0 = time.perf_counter()
        got = []
        for i in range(N):
            for c in (f"RNFR seq{i:03d}", f"RNTO seqd{i:03d}"):
                s.send([c])
                got += [code(x) for x in s.replies(1)]
        t = time.perf_counter() - t0
        ok, wrong = check("seq", N)
        res["sequential"] = (f"{t / N * 1000:.2f} ms/pair", ok, verdict(got, ["350", "250"] * N, wrong))
        s.close()
        # pipelined: N and M pairs in one write, each on a fresh session
        for g, n, key in (("pip", N, "pipelined 20 pairs"), ("big", M, "pipelined 100 pairs")):
            s = RawSession(self.host, self.port, self.user, self.pw, cwd)
            cmds = []
            for i in range(n):
                cmds += [f"RNFR {g}{i:03d}", f"RNTO {g}d{i:03d}"]
            t0 = time.perf_counter()
            s.send(cmds)
            got = [code(x) if x[:1].isdigit() else x for x in s.replies(len(cmds))]
            t = time.perf_counter() - t0
            ok, wrong = check(g, n)
            complete = len(got) == len(cmds) and got[-1][:1].isdigit()
            res[key] = (f"{t / n * 1000:.2f} ms/pair" if complete else "", ok, verdict(got, ["350", "250"] * n, wrong))
            if key == "pipelined 20 pairs":
                s.send(["NOOP"])
                res["NOOP after"] = short(s.replies(1)[0], 30)
            s.close()
        # mix of RNFR/RNTO/DELE in one write
        s = RawSession(self.host, self.port, self.user, self.pw, cwd)
        cmds, expect = [], []
        for i in range(10):
            cmds += [f"RNFR mixa{i}", f"RNTO mixb{i}", f"DELE mixd{i}"]
            expect += ["350", "250", "250"]
        s.send(cmds)
        got = [code(x) if x[:1].isdigit() else x for x in s.replies(len(cmds))]
        ok = all(readf(d, f"mixb{i}") == f"mixa{i}".encode() and not exists(d, f"mixd{i}")
                 and not exists(d, f"mixa{i}") for i in range(10))
        wrong = sum(1 for i in range(10) if exists(d, f"mixb{i}") and readf(d, f"mixb{i}") != f"mixa{i}".encode())
        res["pipelined mix RNFR/RNTO/DELE"] = ("", ok, verdict(got, expect, wrong))
        s.close()
        self.r["q7"] = res

    # 8. RMD on non-empty folder, DELE on folder, RMD on file
    def q8(self, ftp):
        d = self.fresh(ftp, "q8")
        raw(ftp, "MKD full")
        put(ftp, "full/f.txt", b"f\n")
        raw(ftp, "MKD dir")
        put(ftp, "file.txt", b"x\n")
        res = {}
        r = raw(ftp, "RMD full")
        res["RMD non-empty"] = (short(r), exists(d, "full/f.txt"))
        r = raw(ftp, "DELE dir")
        res["DELE folder"] = (short(r), isdir(d, "dir"))
        r = raw(ftp, "RMD file.txt")
        res["RMD file"] = (short(r), exists(d, "file.txt"))
        r = raw(ftp, "DELE missing.txt")
        res["DELE missing"] = (short(r), None)
        r = raw(ftp, "RMD missingdir")
        res["RMD missing"] = (short(r), None)
        self.r["q8"] = res

    # 9. failed RNFR, stray RNTO, RNFR state across other commands
    def q9(self, ftp):
        d = self.fresh(ftp, "q9")
        res = {}
        a = raw(ftp, "RNFR missing.txt")
        b = raw(ftp, "RNTO whatever.txt")
        res["RNFR missing"] = short(a)
        res["RNTO after failed RNFR"] = short(b) + ("" if not exists(d, "whatever.txt") else " (CREATED whatever.txt!)")
        c = raw(ftp, "RNTO whatever2.txt")
        res["RNTO without RNFR"] = short(c)
        put(ftp, "k.txt", b"k\n")
        raw(ftp, "RNFR k.txt")
        n = raw(ftp, "NOOP")
        e = raw(ftp, "RNTO k2.txt")
        res["RNFR, NOOP, RNTO"] = short(e, 40) + (" → renamed" if exists(d, "k2.txt") else " → not renamed")
        put(ftp, "m1.txt", b"m1\n")
        put(ftp, "m2.txt", b"m2\n")
        x1 = raw(ftp, "RNFR m1.txt")
        x2 = raw(ftp, "RNFR m2.txt")
        f = raw(ftp, "RNTO m3.txt")
        res["RNFR a, RNFR b, RNTO c"] = f"{code(x1)},{code(x2)},{code(f)} → " + (
            "b renamed (last RNFR wins)" if readf(d, "m3.txt") == b"m2\n" else
            "a renamed (first RNFR wins)" if readf(d, "m3.txt") == b"m1\n" else "nothing renamed")
        # RNTO consumed? second RNTO right after a successful pair
        g = raw(ftp, "RNTO m4.txt")
        res["2nd RNTO after a pair"] = short(g, 40) + (" (RENAMED AGAIN)" if exists(d, "m4.txt") else "")
        # stale state: RNFR ok, RNFR of a missing name (fails), RNTO
        put(ftp, "s1.txt", b"s1\n")
        x1, x2, x3 = raw(ftp, "RNFR s1.txt"), raw(ftp, "RNFR missing.txt"), raw(ftp, "RNTO s2.txt")
        res["RNFR a, RNFR missing, RNTO c"] = f"{code(x1)},{code(x2)},{code(x3)} → " + (
            "**a renamed (stale RNFR)**" if exists(d, "s2.txt") else "nothing renamed")
        # stale state after a FAILED RNTO: RNFR a, RNTO (fails), RNFR missing, RNTO c
        put(ftp, "t1.txt", b"t1\n")
        y = [raw(ftp, c) for c in ("RNFR t1.txt", "RNTO nosuchdir/t.txt", "RNFR missing.txt", "RNTO t2.txt")]
        res["RNFR a, RNTO fails, RNFR missing, RNTO c"] = ",".join(code(v) for v in y) + " → " + (
            "**a renamed (stale RNFR)**" if exists(d, "t2.txt") else "nothing renamed")
        self.r["q9"] = res

    # 10. surprises
    def q10(self, ftp):
        d = self.fresh(ftp, "q10")
        res = {}
        # RNTO over a file that is being downloaded
        old = bytes(range(256)) * (4 * 4096)  # 4 MiB
        new = b"N" * len(old)
        put(ftp, "big.bin", old)
        put(ftp, "big.new", new)
        ftp2 = self.connect()
        ftp2.cwd(f"{self.dir}/q10")
        conn = ftp.transfercmd("RETR big.bin")
        conn.settimeout(TIMEOUT)
        got = bytearray()
        while len(got) < 65536:
            chunk = conn.recv(65536)
            if not chunk:
                break
            got += chunk
        a, b = raw(ftp2, "RNFR big.new"), raw(ftp2, "RNTO big.bin")
        while True:
            chunk = conn.recv(1 << 20)
            if not chunk:
                break
            got += chunk
        conn.close()
        end = ftp.getmultiline()
        res["RNTO over file being downloaded"] = (
            f"{code(a)}/{short(b, 40)}; download got "
            + ("OLD content complete" if bytes(got) == old else f"{len(got)} bytes, mixed/other")
            + "; file now " + ("new" if readf(d, "big.bin") == new else "old") + f"; end {code(end)}")
        # RNTO over a file being uploaded to? (skip: racy) -- rename the file being uploaded
        # case-only rename and case-insensitive lookup
        put(ftp, "Case.txt", b"c\n")
        r = raw(ftp, "RNFR CASE.TXT")
        res["RNFR wrong case (CASE.TXT for Case.txt)"] = short(r, 50)
        if code(r) == "350":
            raw(ftp, "ABOR")
            raw(ftp, "RNTO Case.txt")
        a, b = raw(ftp, "RNFR Case.txt"), raw(ftp, "RNTO case.txt")
        res["case-only rename Case.txt→case.txt"] = f"{code(a)}/{short(b, 40)} → disk has " + ",".join(
            sorted(n for n in os.listdir(d) if n.lower() == "case.txt"))
        # rename to itself
        put(ftp, "same.txt", b"s\n")
        a, b = raw(ftp, "RNFR same.txt"), raw(ftp, "RNTO same.txt")
        res["rename to itself"] = f"{code(a)}/{short(b, 40)}; content " + ("kept" if readf(d, "same.txt") == b"s\n" else "LOST")
        # folder into its own sub-folder
        raw(ftp, "MKD self")
        a, b = raw(ftp, "RNFR self"), raw(ftp, "RNTO self/inner")
        res["folder into itself"] = f"{code(a)}/{short(b, 50)}"
        # RNTO with a trailing slash / empty name
        put(ftp, "t.txt", b"t\n")
        a, b = raw(ftp, "RNFR t.txt"), raw(ftp, "RNTO ")
        res["RNTO empty name"] = f"{code(a)}/{short(b, 40)}"
        # name with spaces
        put(ftp, "with space.txt", b"w\n")
        a, b = raw(ftp, "RNFR with space.txt"), raw(ftp, "RNTO  lead space.txt")
        res["names with spaces (RNTO ' lead space.txt')"] = f"{code(a)}/{code(b)} → disk: " + ",".join(
            repr(n) for n in sorted(os.listdir(d)) if "space" in n)
        # DELE of the file being downloaded
        put(ftp, "dl.bin", old)
        conn = ftp.transfercmd("RETR dl.bin")
        conn.settimeout(TIMEOUT)
        got = bytearray(conn.recv(65536))
        x = raw(ftp2, "DELE dl.bin")
        while True:
            chunk = conn.recv(1 << 20)
            if not chunk:
                break
            got += chunk
        conn.close()
        ftp.getmultiline()
        res["DELE of file being downloaded"] = f"{short(x, 40)}; download " + (
            "complete" if bytes(got) == old else f"got {len(got)} bytes")
        ftp2.close()
        # is the RNFR state gone as soon as the RNTO's 250 arrives? (RNTO sent right after it)
        stale = {}
        for i in range(20):
            put(ftp, f"r{i}", b"r")
            raw(ftp, f"RNFR r{i}")
            raw(ftp, f"RNTO rr{i}")
            r = raw(ftp, f"RNTO rrr{i}")
            stale[short(r, 30)] = stale.get(short(r, 30), 0) + 1
        res["RNTO again right after a 250 (20 tries)"] = "; ".join(f"{v}× {k}" for k, v in stale.items())
        self.r["q10"] = res

    def cleanup(self, ftp):
        note = []
        try:
            if ftp is None:
                ftp = self.connect()
            ftp.cwd(self.base)
            # bottom-up over FTP, using the disk to know the names
            for top, dirs, files in os.walk(self.disk, topdown=False):
                rel = os.path.relpath(top, os.path.dirname(self.disk))
                for f in files:
                    raw(ftp, f"DELE {rel}/{f}")
                raw(ftp, f"RMD {rel}")
            ftp.quit()
        except Exception as e:
            note.append(f"ftp cleanup: {e}")
        if os.path.exists(self.disk):
            note.append("left over after FTP cleanup, removed on disk")
            shutil.rmtree(self.disk, ignore_errors=True)
        self.r["cleanup"] = "; ".join(note) or "ok (over FTP)"


# ---------------------------------------------------------------------------------------------
# extra servers started here

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, secs=20):
    end = time.time() + secs
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def start_extras(tmp):
    """Yields (name, url, root, process) for ftp-srv and ftpsync serve when available."""
    extras, skipped = [], []
    install = os.path.expanduser("~/.cache/ftpsync-ci/ftp-srv")
    if os.path.isfile(os.path.join(install, "node_modules/ftp-srv/package.json")) and shutil.which("node"):
        root = os.path.join(tmp, "ftp-srv")
        os.makedirs(root)
        low = 21000 + PID % 50 * 100
        p = subprocess.Popen(["node", os.path.join(HERE, "rename_probe_ftp_srv.js"), root, "probe", "probe",
                              str(low), str(low + 99)], env=dict(os.environ, FTP_SRV_DIR=install),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = p.stdout.readline().decode().strip()
        if line.startswith("listening "):
            extras.append(("ftp-srv", f"ftp://probe:probe@127.0.0.1:{line.split()[1]}/", root, p))
        else:
            p.kill()
            skipped.append(f"ftp-srv did not start ({line!r})")
    else:
        skipped.append("ftp-srv not installed")
    exe = os.path.join(HERE, "..", "target", "debug", "ftpsync")
    if os.path.isfile(exe):
        root = os.path.join(tmp, "ftpsync-serve")
        os.makedirs(root)
        port = free_port()
        p = subprocess.Popen([exe, "serve", "--port", str(port), "--user", "probe", "--password", "probe",
                              "--passive-ports", "0", "-q", root],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait_port(port):
            extras.append(("ftpsync-serve", f"ftp://probe:probe@127.0.0.1:{port}/", root, p))
        else:
            p.kill()
            skipped.append("ftpsync serve did not start")
    else:
        skipped.append("ftpsync binary not built")
    return extras, skipped


# ---------------------------------------------------------------------------------------------
# report

def yn(v):
    return "yes" if v is True else "**NO**" if v is False else str(v)


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        out.append("| " + " | ".join(str(c).replace("\n", " ") for c in r) + " |")
    return "\n".join(out) + "\n"


def report(all_r, skipped):
    names = list(all_r)
    md = ["# RNFR/RNTO and related behaviour of real FTP servers\n",
          f"Generated by `rename_probe.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, plain FTP on loopback. "
          "Replies are quoted as the server sent them (whitespace collapsed, cut at ~70 chars). "
          "\"Disk\" facts come from looking at the served folder directly.\n"]
    vers = dict(kv.split("=", 1) for kv in os.environ.get("FTPSYNC_TEST_SERVER_VERSIONS", "").split(";") if "=" in kv)
    md.append(table(["server", "version", "FEAT (rename-relevant)", "errors during probe"],
                    [[n, vers.get(n, "npm 4.6.3" if n == "ftp-srv" else "libunftp (built-in)" if n == "ftpsync-serve" else "?"),
                      ", ".join(f for f in all_r[n].get("feat", []) if f.split()[0].upper() in ("MFMT", "MLST", "MDTM", "SITE", "UTF8", "RNFR"))
                      or "-",
                      "; ".join(f"{k}: {short(v, 80)}" for k, v in all_r[n].items() if k.endswith("_error") or k == "fatal") or "-"]
                     for n in names]))

    def g(n, q):
        return all_r[n].get(q) or {}

    md.append("\n## 1. RNFR + RNTO to a new name (same folder)\n")
    rows = []
    for n in names:
        q = g(n, "q1")
        if not q:
            rows.append([n] + ["-"] * 7)
            continue
        rows.append([n, q["rnfr"], q["rnto"], yn(q["content_ok"]), q["mtime_set_by"],
                     f"{q['before(MDTM,MLST,disk)']} → {q['after(MDTM,MLST,disk)']}", yn(q["mtime_kept"]), yn(q["mode_kept"])])
    md.append(table(["server", "RNFR", "RNTO", "content moved", "mtime set with", "(MDTM, MLST modify, disk epoch) before → after", "mtime kept", "mode kept"], rows))

    md.append("\n## 2. RNTO onto an existing file\n")
    md.append(table(["server", "RNFR", "RNTO", "outcome"],
                    [[n, g(n, "q2").get("rnfr", "-"), g(n, "q2").get("rnto", "-"), g(n, "q2").get("outcome", "-")] for n in names]))

    md.append("\n## 3. RNTO onto an existing folder name\n")
    cases = ["file→empty folder", "file→non-empty folder", "folder→existing empty folder",
             "folder→existing non-empty folder", "folder→existing file"]
    for c in cases:
        md.append(f"\n### {c}\n")
        md.append(table(["server", "RNFR", "RNTO", "afterwards on disk"],
                        [[n] + list(g(n, "q3").get(c, ("-", "-", "-"))) for n in names]))

    md.append("\n## 4. Rename a non-empty folder (files + sub-folder)\n")
    rows = []
    for n in names:
        q = g(n, "q4")
        rows.append([n] + [f"{v[0]} / {v[1]} → intact: {yn(v[2])}" if v else "-" for v in
                           (q.get("to new name"), q.get("to dot name"), q.get("dot name back"))])
    md.append(table(["server", "N1 → N2", f"N2 → {TMP.split('-')[0]}-…-s1 (dot name)", "dot name → N3"], rows))

    md.append("\n## 5. Rename across folders\n")
    rows = []
    for n in names:
        q = g(n, "q5")
        rows.append([n] + [f"{v[0]} / {v[1]} → {'done' if v[2] else '**not done**'}" if v and k != "file→missing folder"
                           else (f"{v[0]} / {v[1]}" if v else "-")
                           for k, v in ((k, q.get(k)) for k in ("file a/x.txt→b/x.txt", "folder a/sub→b/sub", "file, absolute paths", "file→missing folder"))])
    md.append(table(["server", "file a/x.txt → b/x.txt", "folder a/sub → b/sub", "file, absolute paths", "file → missing/w.txt"], rows))

    md.append("\n## 6. Are `.ftpsync-tmp-*` names listed? (a file and a folder)\n")
    cmds = ["LIST", "LIST -a", "LIST -la", "NLST", "NLST -a", "MLSD", "STAT .", "MLST name", "SIZE name"]
    md.append(table(["server"] + cmds, [[n] + [g(n, "q6").get(c, "-") for c in cmds] for n in names]))

    md.append("\n## 7. Pipelining (raw socket; commands sent in one write)\n")
    keys = ["sequential", "pipelined 20 pairs", "pipelined mix RNFR/RNTO/DELE", "pipelined 100 pairs"]
    rows = []
    for n in names:
        q = g(n, "q7")
        row = [n]
        for k in keys:
            v = q.get(k)
            row.append(f"{v[0]}{'; ' if v[0] else ''}all done: {yn(v[1])}; {v[2]}" if v else "-")
        row.append(q.get("NOOP after", "-"))
        rows.append(row)
    md.append(table(["server", "20 pairs one at a time", "20 pairs (40 cmds) in one write", "10×(RNFR,RNTO,DELE) in one write",
                     "100 pairs (200 cmds) in one write", "NOOP after the 20 pairs"], rows))

    md.append("\n## 8. RMD / DELE on the wrong kind of entry\n")
    keys = ["RMD non-empty", "DELE folder", "RMD file", "DELE missing", "RMD missing"]
    rows = []
    for n in names:
        q = g(n, "q8")
        row = [n]
        for k in keys:
            v = q.get(k)
            if not v:
                row.append("-")
            elif v[1] is None:
                row.append(v[0])
            else:
                row.append(v[0] + ("" if v[1] else " (**entry GONE**)"))
        rows.append(row)
    md.append(table(["server"] + ["RMD non-empty folder", "DELE on a folder", "RMD on a file", "DELE missing", "RMD missing"], rows))

    md.append("\n## 9. Failed RNFR, stray RNTO, RNFR state\n")
    keys = ["RNFR missing", "RNTO after failed RNFR", "RNTO without RNFR", "RNFR, NOOP, RNTO", "RNFR a, RNFR b, RNTO c", "2nd RNTO after a pair",
            "RNFR a, RNFR missing, RNTO c", "RNFR a, RNTO fails, RNFR missing, RNTO c"]
    md.append(table(["server"] + keys, [[n] + [g(n, "q9").get(k, "-") for k in keys] for n in names]))

    md.append("\n## 10. Other behaviour\n")
    keys = ["RNTO over file being downloaded", "DELE of file being downloaded", "RNFR wrong case (CASE.TXT for Case.txt)",
            "case-only rename Case.txt→case.txt", "rename to itself", "folder into itself", "RNTO empty name",
            "names with spaces (RNTO ' lead space.txt')", "RNTO again right after a 250 (20 tries)"]
    for k in keys:
        md.append(f"\n### {k}\n")
        md.append(table(["server", "result"], [[n, g(n, "q10").get(k, "-")] for n in names]))

    md.append("\n## Cleanup\n")
    md.append(table(["server", "probe folder removed"], [[n, all_r[n].get("cleanup", "-")] for n in names]))
    if skipped:
        md.append("\nNot probed: " + "; ".join(skipped) + "\n")
    extra = os.path.join(os.getcwd(), "rename_probe_consequences.md")
    if os.path.isfile(extra):  # hand-written conclusions, drawn from the run of 2026-12-06
        with open(extra) as fh:
            md.insert(2, fh.read() + "\n")
    return "\n".join(md)


def main():
    servers = []
    roots = dict(kv.split("=", 1) for kv in os.environ.get("FTPSYNC_TEST_SERVER_ROOTS", "").split(";") if "=" in kv)
    for kv in os.environ.get("FTPSYNC_TEST_SERVERS", "").split(";"):
        if "=" not in kv:
            continue
        n, url = kv.split("=", 1)
        if url.startswith("ftp://") and n in roots:
            servers.append((n, url, roots[n], None))
    only = set(sys.argv[1:])
    tmp = tempfile.mkdtemp(prefix="ftpsync-probe-")
    extras, skipped = ([], []) if only and not only & {"ftp-srv", "ftpsync-serve"} else start_extras(tmp)
    servers += extras
    if only:
        servers = [s for s in servers if s[0] in only]
    all_r = {}
    try:
        for n, url, root, _ in servers:
            print(f"== {n}", flush=True)
            t0 = time.time()
            try:
                all_r[n] = Probe(n, url, root).run()
            except Exception as e:
                all_r[n] = {"fatal": f"{type(e).__name__}: {e}"}
            print(f"   {time.time() - t0:.1f}s " + "; ".join(f"{k}={v}" for k, v in all_r[n].items() if k.endswith("error") or k == "fatal"), flush=True)
    finally:
        for *_, p in extras:
            p.terminate()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    def enc(o):
        return o.decode("latin-1") if isinstance(o, bytes) else str(o)
    with open(os.path.join(os.getcwd(), "rename_probe.json"), "w") as fh:
        json.dump(all_r, fh, indent=1, default=enc)
    text = report(all_r, skipped)
    out = os.path.join(os.getcwd(), "rename_probe.md" if not only else "rename_probe.partial.md")
    with open(out, "w") as fh:
        fh.write(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
