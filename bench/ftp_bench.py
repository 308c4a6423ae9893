#!/usr/bin/env python3
"""FTP upload benchmark: ftpsync next to pyftpsync 4.1, lftp mirror and rclone, same work,
same server, one run.

An FTP server (pure-ftpd unless --server names others: proftpd, vsftpd, pure-ftpd, pyftpdlib,
as .ci/servers.sh installs them, each with a minimal configuration of its own here) runs in
its own network namespace (bench/netlab.py): reached over a path
with RTT ms of round-trip time (a userspace delay relay; default 20 ms) for the latency-bound
workloads, and over a plain veth pair for the throughput one. Workloads:

  W1  initial upload of FILES files of 4 KiB in DIRS folders into an empty folder
  W2  the same upload again, nothing changed
  W3  the upload after changing 1% of the files
  W4  one SIZE_MIB MiB file over loopback, tmpfs on both ends (curl -T is the single-stream
      reference)

(W5, local planning of 100,000 files, is bench/plan_local.py.)

Every parallel tool gets --workers/--parallel/--transfers 8. ftpsync runs with its defaults:
temporary-name uploads verified with SIZE, modification times set on the server. After each
run the served folder is compared with the local tree (content, and modification time for the
tools that set it). Each workload is run RUNS times, the tools' runs interleaved (run 1 of every
tool, then run 2...); the table shows medians, the ratio to
ftpsync, and peak memory (max RSS). ftpsync's FTP commands per workload are counted from its
-vvv protocol trace. With several servers, each gets its own lab and its own tables, the tools
side by side on it. With --log, the relay writes down the control connections
(WORK/control-SERVER.log, one byte range per tool run in WORK/segments-SERVER.txt) for
bench/roundtrips.py.

Needs root (namespaces, a system user, apt for lftp and rclone).

usage: sudo python3 bench/ftp_bench.py [--rtt 20] [--runs 3] [--pyftpsync-runs N] [--w4-runs N]
                                       [--files 2000] [--dirs 100]
                                       [--size-mib 256] [--tools ftpsync,pyftpsync,lftp,rclone]
                                       [--workloads W1,W2,W3,W4]
                                       [--server proftpd,vsftpd,pure-ftpd,pyftpdlib] [--log]
"""
import argparse
import collections
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlab import FAST_SRV, SLOW_SRV, Lab  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("FTPSYNC_CI_DIR", os.path.expanduser("~/.cache/ftpsync-ci"))
# Per lab (NETLAB_NAME, see bench/netlab.py): two benchmarks side by side keep their files apart.
# Seconds every timed run waits for the server to settle first (see bench_small).
SETTLE = 0.5
WORK = "/tmp/ftpbench" + (f"-{os.environ['NETLAB_NAME']}" if os.environ.get("NETLAB_NAME") else "")
USER, PASSWORD, UID_NAME = "bench", "benchpw", "ftpbench"
PORT = 2121
SERVERS = ("proftpd", "vsftpd", "pure-ftpd", "pyftpdlib")
PASSIVE = (30000, 30999)
STAMP = 1577836800  # 2020-01-01: the generated files' modification time


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


# --- installation ------------------------------------------------------------------------------

def install(ftpsync=None):
    """The servers (as .ci/servers.sh installs them), lftp, rclone, pyftpsync, a release ftpsync
    (built here unless `ftpsync` names one: a copy keeps measuring the same build while the
    checkout changes)."""
    run(["bash", os.path.join(REPO, ".ci/servers.sh"), os.path.join(CACHE, "servers"), "--install-only"])
    missing = [p for p in ("lftp", "rclone", "time") if not shutil.which(p) and not os.path.exists(f"/usr/bin/{p}")]
    if missing:
        run(["apt-get", "install", "-y", "-qq"] + missing, stdout=subprocess.DEVNULL)
    venv = os.path.join(CACHE, "venv")
    pyftpsync = os.path.join(venv, "bin", "pyftpsync")
    if not os.path.exists(pyftpsync):
        run([sys.executable, "-m", "venv", venv])
        run([os.path.join(venv, "bin", "pip"), "install", "-q", "pyftpsync==4.1.0"])
    if ftpsync:
        return {"ftpsync": os.path.abspath(ftpsync), "pyftpsync": pyftpsync}
    run(["cargo", "build", "--release", "--quiet", "--locked"], cwd=REPO)
    return {"ftpsync": os.path.join(REPO, "target/release/ftpsync"), "pyftpsync": pyftpsync}


def start_server(lab, name="pure-ftpd"):
    """`name` in the server namespace, listening on PORT on every address, passive ports from
    PASSIVE, one login whose home is WORK/srv; returns that folder once the server answers.

    The logins: pure-ftpd, proftpd and pyftpdlib have a virtual user (USER) whose files belong
    to the system user UID_NAME; vsftpd logs in system users only (PAM), so it gets the
    account .ci/servers.sh makes for the tests, ftpsync-ci, with that script's password."""
    global USER, PASSWORD
    home = os.path.join(WORK, "srv")
    os.makedirs(home, exist_ok=True)
    if name == "vsftpd":
        owner = "ftpsync-ci"
        USER = owner
        with open(os.path.join(CACHE, "servers", "password")) as f:
            PASSWORD = f.read().strip()
    else:
        owner = UID_NAME
        USER, PASSWORD = "bench", "benchpw"
        if subprocess.run(["id", "-u", UID_NAME], capture_output=True).returncode != 0:
            run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", UID_NAME])
    uid = subprocess.run(["id", "-u", owner], capture_output=True, text=True, check=True).stdout.strip()
    gid = subprocess.run(["id", "-g", owner], capture_output=True, text=True, check=True).stdout.strip()
    run(["chown", "-R", f"{uid}:{gid}", home])
    # A fast password hash (pure-pw's argon2 makes every login take a second).
    digest = subprocess.run(["openssl", "passwd", "-6", PASSWORD], capture_output=True, text=True, check=True).stdout.strip()
    STARTERS[name](lab, home, uid, gid, digest)
    for _ in range(100):
        probe = subprocess.run(Lab.client(["curl", "-s", "--max-time", "2", f"ftp://{USER}:{PASSWORD}@{FAST_SRV}:{PORT}/"]),
                               capture_output=True)
        if probe.returncode == 0:
            return home
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not answer")


def start_pure_ftpd(lab, home, uid, gid, digest):
    pkgs = os.path.join(CACHE, "servers", "pkgs")
    passwd, pdb = os.path.join(WORK, "pureftpd.passwd"), os.path.join(WORK, "pureftpd.pdb")
    with open(passwd, "w") as f:
        f.write(f"{USER}:{digest}:{uid}:{gid}::{home}/./::::::::::::\n")
    run([os.path.join(pkgs, "usr/bin/pure-pw"), "mkdb", pdb, "-f", passwd])
    lab.server([os.path.join(pkgs, "usr/sbin/pure-ftpd"), "-S", f",{PORT}", "-l", f"puredb:{pdb}", "-E", "-H",
                "-c", "200", "-C", "200", "-p", f"{PASSIVE[0]}:{PASSIVE[1]}", "-Y", "0"],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_proftpd(lab, home, uid, gid, digest):
    """proftpd 1.3.8 (Debian's proftpd-basic) as .ci/servers.sh configures it, without TLS,
    listening on every address of the namespace (SocketBindTight off, DefaultServer on)."""
    conf_dir = os.path.join(WORK, "proftpd")
    os.makedirs(conf_dir, exist_ok=True)
    passwd = os.path.join(conf_dir, "ftpd.passwd")
    with open(passwd, "w") as f:
        f.write(f"{USER}:{digest}:{uid}:{gid}::{home}:/usr/sbin/nologin\n")
    os.chmod(passwd, 0o600)
    conf = os.path.join(conf_dir, "proftpd.conf")
    with open(conf, "w") as f:
        f.write(f"""ServerName "ftpsync bench proftpd"
ServerType standalone
DefaultServer on
Port {PORT}
DefaultAddress {SLOW_SRV}
SocketBindTight off
UseIPv6 off
User nobody
Group nogroup
Umask 022
MaxInstances 200
PidFile {conf_dir}/proftpd.pid
ScoreboardFile {conf_dir}/proftpd.scoreboard
DelayEngine off
SystemLog {conf_dir}/proftpd.system
WtmpLog off
UseReverseDNS off
PassivePorts {PASSIVE[0]} {PASSIVE[1]}
AuthOrder mod_auth_file.c
AuthUserFile {passwd}
RequireValidShell off
DefaultRoot ~
AllowOverwrite on
TimesGMT on
ModulePath /usr/lib/proftpd
LoadModule mod_site_misc.c
""")
    lab.server(["proftpd", "-n", "-q", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_vsftpd(lab, home, uid, gid, digest):
    """vsftpd 3.0.3 as .ci/servers.sh configures it, without TLS; the passive address is the
    control connection's own (no pasv_address), so both of the lab's paths work."""
    conf_dir = os.path.join(WORK, "vsftpd")
    empty = os.path.join(conf_dir, "empty")
    os.makedirs(empty, exist_ok=True)
    os.chmod(empty, 0o755)
    conf = os.path.join(conf_dir, "vsftpd.conf")
    with open(conf, "w") as f:
        f.write(f"""listen=YES
listen_ipv6=NO
listen_port={PORT}
background=NO
seccomp_sandbox=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
local_root={home}
chroot_local_user=YES
allow_writeable_chroot=YES
pam_service_name=ftpsync-ci-vsftpd
secure_chroot_dir={empty}
pasv_enable=YES
pasv_min_port={PASSIVE[0]}
pasv_max_port={PASSIVE[1]}
max_clients=200
max_per_ip=200
mdtm_write=YES
use_localtime=NO
xferlog_enable=NO
""")
    lab.server([os.path.join(CACHE, "servers", "pkgs", "usr/sbin/vsftpd"), conf],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_pyftpdlib(lab, home, uid, gid, digest):
    """pyftpdlib through .ci/pyftpd.py (its TLS is optional and unused here: a throwaway
    self-signed certificate satisfies the launcher)."""
    cert, key = os.path.join(WORK, "pyftpd-cert.pem"), os.path.join(WORK, "pyftpd-key.pem")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-keyout", key, "-out", cert], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    python = os.path.join(CACHE, "servers", "pyftpdlib-venv", "bin", "python")
    lab.server([python, os.path.join(REPO, ".ci", "pyftpd.py"), "--host", "0.0.0.0", "--port", str(PORT),
                "--passive", f"{PASSIVE[0]}-{PASSIVE[1]}", "--user", USER, "--root", home, "--cert", cert,
                "--key", key, "--run-as", UID_NAME],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, PYFTPD_PASSWORD=PASSWORD))


STARTERS = {"proftpd": start_proftpd, "vsftpd": start_vsftpd, "pure-ftpd": start_pure_ftpd,
            "pyftpdlib": start_pyftpdlib}


# --- trees -------------------------------------------------------------------------------------

def make_tree(root, files, dirs, size):
    shutil.rmtree(root, ignore_errors=True)
    per_dir = files // dirs
    for d in range(dirs):
        folder = os.path.join(root, f"dir{d:03d}")
        os.makedirs(folder)
        for f in range(per_dir):
            path = os.path.join(folder, f"file{f:03d}.bin")
            seed = hashlib.sha256(f"{d}/{f}".encode()).digest()
            with open(path, "wb") as fh:
                fh.write((seed * (size // len(seed) + 1))[:size])
            os.utime(path, (STAMP, STAMP))


def change_one_percent(root, files):
    """Rewrites every hundredth file: new content (one byte longer), new time."""
    changed = 0
    for n, path in enumerate(sorted(tree_files(root))):
        if n % 100 == 0:
            with open(os.path.join(root, path), "ab") as fh:
                fh.write(b"!")
            t = STAMP + 86400
            os.utime(os.path.join(root, path), (t, t))
            changed += 1
    return changed


def tree_files(root):
    out = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name.startswith(".pyftpsync-"):
                continue
            out.append(os.path.relpath(os.path.join(dirpath, name), root))
    return out


def verify(local, served, check_mtime):
    """The served folder holds exactly the local files (and times, where the tool sets them)."""
    want, got = set(tree_files(local)), set(tree_files(served))
    if want != got:
        return f"files differ: {len(want - got)} missing, {len(got - want)} extra"
    for rel in want:
        a, b = os.path.join(local, rel), os.path.join(served, rel)
        if open(a, "rb").read() != open(b, "rb").read():
            return f"{rel}: content differs"
        if check_mtime and int(os.stat(a).st_mtime) != int(os.stat(b).st_mtime):
            return f"{rel}: modification time differs"
    return None


# --- tools -------------------------------------------------------------------------------------

def commands(tool, exe, local, remote_dir, host, home, server="pure-ftpd"):
    url = f"ftp://{USER}:{PASSWORD}@{host}:{PORT}/{remote_dir}"
    if tool == "ftpsync":
        return [exe["ftpsync"], "upload", local, url, "--workers", "8", "--resolve", "skip", "--create-folder",
                "--no-prompt", "--no-keyring", "--no-netrc", "-q"]
    if tool == "pyftpsync":
        return [exe["pyftpsync"], "upload", local, url, "--resolve", "skip", "--create-folder", "--no-prompt",
                "--no-keyring", "--no-netrc", "-q"]
    if tool == "lftp":
        # vsftpd sets times with the MDTM of two arguments only (it has no MFMT), which lftp
        # sends only when told.
        mdtm = "set ftp:use-mdtm-overloaded yes; " if server == "vsftpd" else ""
        script = (f"set ftp:ssl-allow no; set net:max-retries 2; set cmd:fail-exit yes; {mdtm}"
                  f"open -u {USER},{PASSWORD} -p {PORT} {host}; mirror -R --parallel=8 {local} /{remote_dir}")
        return ["lftp", "-c", script]
    if tool == "rclone":
        obscured = subprocess.run(["rclone", "obscure", PASSWORD], capture_output=True, text=True, check=True).stdout.strip()
        return ["rclone", "copy", local, f":ftp,host={host},port={PORT},user={USER},pass={obscured}:{remote_dir}",
                "--transfers", "8", "--checkers", "8", "--config", os.path.join(home, "rclone.conf")]
    if tool == "curl":
        return ["curl", "-s", "--ftp-create-dirs", "-T", local, f"{url}/{os.path.basename(local)}"]
    raise ValueError(tool)


SETS_MTIME = {"ftpsync": True, "pyftpsync": False, "lftp": True, "rclone": True, "curl": False}
# rclone sets times with MFMT only, which vsftpd does not have.
NO_MTIME_ON = {("rclone", "vsftpd")}


def sets_mtime(tool, server):
    return SETS_MTIME[tool] and (tool, server) not in NO_MTIME_ON


def timed(cmd, env, where=Lab.client):
    """Runs cmd in a namespace (the client's unless told); returns (seconds, peak RSS MiB).

    The peak is the tool's own, measured by GNU time around it: the `ip netns exec` in front
    would otherwise add its own high-water mark (about 21-28 MiB) to every tool."""
    peak_file = os.path.join(WORK, "peak.txt")
    start = time.monotonic()
    proc = subprocess.run(where(["/usr/bin/time", "-f", "%M", "-o", peak_file] + cmd),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace")
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {err[-2000:]}")
    with open(peak_file) as f:
        kib = int(f.read().split()[-1])
    return elapsed, kib / 1024.0


def count_commands(cmd, env):
    """ftpsync's commands, by verb, from its -vvv trace."""
    out = subprocess.run(Lab.client(cmd[:-1] + ["-vvv"]), capture_output=True, text=True, env=env)
    verbs = collections.Counter()
    for line in out.stderr.splitlines():
        if line.startswith("*cmd* '"):
            verbs[line[7:].split(" ")[0].rstrip("'")] += 1
    return verbs


# --- workloads ---------------------------------------------------------------------------------

def runs_of(args, tool, big=False):
    """Runs of one tool: --runs, --w4-runs for W4 (a fraction of a second, and noisier), or
    --pyftpsync-runs for the slowest by far on W1-W3."""
    if big:
        return args.w4_runs or args.runs
    return args.pyftpsync_runs if tool == "pyftpsync" and args.pyftpsync_runs else args.runs


def bench_small(args, exe, home, served_root, env, server, log=None):
    """W1-W3 for each tool, the tools' runs interleaved; returns {workload: {tool: [(secs, mib)]}}
    and command counts. With `log` (the relay's control log), each timed run's byte range of it
    is appended to WORK/segments-SERVER.txt: tool workload run start end."""
    results = collections.defaultdict(lambda: collections.defaultdict(list))
    counts = {}
    master = os.path.join(WORK, "master")
    make_tree(master, args.files, args.dirs, 4096)
    segments = os.path.join(WORK, f"segments-{server}.txt")
    # Run 1 of every tool, then run 2...: a change in the machine's load falls on all alike.
    rounds = max(runs_of(args, t) for t in args.tools)
    for r, tool in ((r, t) for r in range(rounds) for t in args.tools if r < runs_of(args, t)):
        local = os.path.join(WORK, "local", tool)
        shutil.rmtree(local, ignore_errors=True)
        shutil.copytree(master, local)
        remote_dir = f"{tool}-w1-{r}"
        served = os.path.join(served_root, remote_dir)
        if tool == "rclone" and server == "pyftpdlib":
            # rclone does not make the target folder on pyftpdlib (a 501 it does not expect).
            os.makedirs(served)
            shutil.chown(served, *owner_of(served_root))
        cmd = commands(tool, exe, local, remote_dir, SLOW_SRV, home, server)
        for w in ("W1", "W2", "W3"):
            if w not in args.workloads:
                continue
            if w == "W3":
                change_one_percent(local, args.files)
            # Every timed run starts on a settled server: the sessions of what ran just before
            # (the tool's previous workload, or the bench's own check below) have ended. A
            # session of proftpd that ends takes its scoreboard lock, and one that starts then
            # sleeps 200 ms or more before it greets: before this pause, ftpsync's W3 (alone
            # after an untimed check of eight connections) waited 150-350 ms for its first
            # greeting, every other run about 20 ms.
            time.sleep(SETTLE)
            start = log_size(log)
            results[w][tool].append(timed(cmd, env))
            if log:
                time.sleep(0.1)  # the relay's last lines (the QUIT) written
                with open(segments, "a") as f:
                    f.write(f"{tool} {w} {r} {start} {log_size(log)}\n")
            problem = verify(local, served, sets_mtime(tool, server))
            if problem:
                raise RuntimeError(f"{tool} {w} on {server}: wrong result: {problem}")
            print(f"  {server:<10} {tool:<10} {w} run {r + 1}: {results[w][tool][-1][0]:7.2f} s", flush=True)
            if tool == "ftpsync" and w == "W2":
                plan = os.path.join(WORK, "plan.json")
                check = subprocess.run(Lab.client([exe["ftpsync"], "plan", "upload", local,
                                                   cmd[3], "-o", plan, "--detailed-exitcode", "-qq",
                                                   "--no-prompt", "--no-keyring", "--no-netrc"]), env=env,
                                       stdout=subprocess.DEVNULL)
                if check.returncode != 0:
                    raise RuntimeError("ftpsync W2: the plan after an unchanged upload is not empty")
        if tool == "ftpsync" and r == 0 and not args.no_counts:
            counts = measure_counts(args, exe, home, env, master, server)
    return results, counts


def owner_of(path):
    st = os.stat(path)
    return st.st_uid, st.st_gid


def log_size(log):
    return os.path.getsize(log) if log and os.path.exists(log) else 0


def measure_counts(args, exe, home, env, master, server):
    """ftpsync's commands per workload (an extra, untimed pass)."""
    local = os.path.join(WORK, "local", "ftpsync-count")
    shutil.rmtree(local, ignore_errors=True)
    shutil.copytree(master, local)
    cmd = commands("ftpsync", exe, local, "ftpsync-count", SLOW_SRV, home, server)
    counts = {"W1": count_commands(cmd, env), "W2": count_commands(cmd, env)}
    change_one_percent(local, args.files)
    counts["W3"] = count_commands(cmd, env)
    return counts


def tmpfs(path, mib):
    """A fresh tmpfs of `mib` MiB at `path`. Mounted before the server starts: the server's
    namespace does not see mounts made after it (start_server gives it to the server's user)."""
    os.makedirs(path, exist_ok=True)
    run(["mount", "-t", "tmpfs", "-o", f"size={mib}m,mode=0755", "tmpfs", path])
    return path


def bench_big(args, exe, home, served_root, env):
    """W4: one large file over the loopback interface of the server's namespace, the tools'
    runs interleaved (run 1 of every tool, then run 2...) so that a change in the machine's
    load falls on all of them alike. Source and destination are on tmpfs and each stored copy
    is removed after its check: with a disk behind them, the kernel's write-back throttles a
    256 MiB write to the disk's speed after a few runs, and the disk is what gets measured."""
    results = collections.defaultdict(list)
    big_dir = os.path.join(WORK, "big")
    big = os.path.join(big_dir, "big.bin")
    with open(big, "wb") as fh:
        block = hashlib.sha256(b"big").digest() * 32768  # 1 MiB
        for _ in range(args.size_mib):
            fh.write(block)
    os.utime(big, (STAMP, STAMP))
    tools = args.tools + ["curl"]
    for r in range(max(runs_of(args, t, big=True) for t in tools)):
        for tool in tools:
            if r >= runs_of(args, tool, big=True):
                continue
            remote_dir = f"w4/{tool}-{r}"
            source = big if tool == "curl" else big_dir
            # Metadata left by an earlier tool's run would be uploaded by the others.
            for name in os.listdir(big_dir):
                if name.startswith(".pyftpsync-"):
                    os.remove(os.path.join(big_dir, name))
            secs, mib = timed(commands(tool, exe, source, remote_dir, "127.0.0.1", home), env, where=Lab.on_server)
            served = os.path.join(served_root, remote_dir, "big.bin")
            if os.path.getsize(served) != os.path.getsize(big) or not same_content(served, big):
                raise RuntimeError(f"{tool} W4: the stored file differs from the source")
            shutil.rmtree(os.path.join(served_root, remote_dir))
            results[tool].append((secs, mib))
            print(f"  {tool:<10} W4 run {r + 1}: {secs:7.2f} s ({args.size_mib / secs:.0f} MiB/s, peak {mib:.0f} MiB)",
                  flush=True)
    return results


def same_content(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def table(title, per_tool, unit_work=None):
    lines = [f"\n{title}\n", "| tool | median | runs | peak memory | ftpsync is faster by |", "|---|---:|---|---:|---:|"]
    ours = statistics.median(s for s, _ in per_tool["ftpsync"]) if "ftpsync" in per_tool else None
    for tool, runs in per_tool.items():
        med = statistics.median(s for s, _ in runs)
        peak = max(m for _, m in runs)
        ratio = f"{med / ours:.2f}x" if ours and tool != "ftpsync" else "–"
        extra = f" ({unit_work / med:.0f} MiB/s)" if unit_work else ""
        lines.append(f"| {tool} | {med:.2f} s{extra} | {', '.join(f'{s:.2f}' for s, _ in runs)} | {peak:.0f} MiB | {ratio} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rtt", type=float, default=20.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pyftpsync-runs", type=int, default=0, help="runs of pyftpsync on W1-W3 (default: --runs)")
    ap.add_argument("--w4-runs", type=int, default=0, help="runs of every tool on W4 (default: --runs)")
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--dirs", type=int, default=100)
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--tools", default="ftpsync,pyftpsync,lftp,rclone")
    ap.add_argument("--workloads", default="W1,W2,W3,W4")
    ap.add_argument("--server", default="pure-ftpd",
                    help=f"comma-separated, run one after the other: {', '.join(SERVERS)}")
    ap.add_argument("--log", action="store_true",
                    help="the relay writes down the control connections (for bench/roundtrips.py)")
    ap.add_argument("--ftpsync", help="the ftpsync binary to measure (default: a release build of this checkout)")
    ap.add_argument("--no-counts", action="store_true", help="skip the untimed -vvv pass counting ftpsync's commands")
    args = ap.parse_args()
    args.tools = args.tools.split(",")
    args.workloads = args.workloads.split(",")
    args.server = args.server.split(",")
    unknown = [s for s in args.server if s not in SERVERS]
    if unknown:
        sys.exit(f"unknown server {', '.join(unknown)}: choose from {', '.join(SERVERS)}")
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    exe = install(args.ftpsync)
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    home = os.path.join(WORK, "home")
    os.makedirs(home)
    env = dict(os.environ, HOME=home, NO_COLOR="1")
    print(f"{args.files} files in {args.dirs} folders, RTT {args.rtt} ms, {args.runs} runs each", flush=True)
    mounts = []
    if "W4" in args.workloads:
        mounts = [tmpfs(os.path.join(WORK, "big"), args.size_mib + 16),
                  tmpfs(os.path.join(WORK, "srv", "w4"), args.size_mib + 64)]
    try:
        lab_run(args, exe, home, env)
    finally:
        for path in mounts:
            subprocess.run(["umount", path], check=False)


def lab_run(args, exe, home, env):
    reports = [f"Command: `sudo python3 bench/ftp_bench.py --rtt {args.rtt:g} --runs {args.runs} --files {args.files} "
               f"--dirs {args.dirs} --size-mib {args.size_mib}"
               f"{f' --pyftpsync-runs {args.pyftpsync_runs}' if args.pyftpsync_runs else ''}"
               f"{f' --w4-runs {args.w4_runs}' if args.w4_runs else ''}"
               f" --tools {','.join(args.tools)} --workloads {','.join(args.workloads)} --server {','.join(args.server)}"
               f"{' --log' if args.log else ''}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})"]
    for server in args.server:
        reports.append(server_run(args, exe, home, env, server))
    print("\n".join(reports))


def server_run(args, exe, home, env, server):
    """All workloads on one server, in a lab of its own; the report's text."""
    # The remote folders of an earlier server's runs (the W4 mount stays).
    srv = os.path.join(WORK, "srv")
    for name in os.listdir(srv) if os.path.isdir(srv) else []:
        if name != "w4":
            path = os.path.join(srv, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    log = os.path.join(WORK, f"control-{server}.log") if args.log else None
    with Lab(args.rtt, log=log, log_port=PORT if log else None) as lab:
        served_root = start_server(lab, server)
        report = [f"\n### {server} ({server_version(server)}), {time.strftime('%H:%M UTC', time.gmtime())}, "
                  f"load average {os.getloadavg()[0]:.1f}"]
        if set(args.workloads) & {"W1", "W2", "W3"}:
            small, counts = bench_small(args, exe, home, served_root, env, server, log)
            names = {"W1": "initial upload", "W2": "nothing changed", "W3": "1% changed"}
            for w in ("W1", "W2", "W3"):
                if w in small:
                    report.append(table(f"{w} on {server}: {names[w]}, {args.files} files of 4 KiB, RTT {args.rtt:g} ms",
                                        small[w]))
            report.append(best_peer(small))
            for w, verbs in counts.items():
                report.append(f"\nftpsync's FTP commands on {server}, {w}: {sum(verbs.values())} "
                              f"({', '.join(f'{v} {n}' for v, n in verbs.most_common())})")
        if "W4" in args.workloads:
            big = bench_big(args, exe, home, served_root, env)
            report.append(table(f"W4 on {server}: one {args.size_mib} MiB file over loopback (tmpfs on both ends)", big,
                                unit_work=args.size_mib))
        report.append(f"\n(load average at the end: {os.getloadavg()[0]:.1f})")
    text = "\n".join(report)
    print(text, flush=True)
    return text


def best_peer(small):
    """ftpsync against the faster of lftp and rclone, per workload (issue 17's measure)."""
    lines = ["\n| workload | ftpsync | faster of lftp, rclone | ftpsync is faster by |", "|---|---:|---:|---:|"]
    for w, per_tool in small.items():
        peers = {t: statistics.median(s for s, _ in per_tool[t]) for t in ("lftp", "rclone") if t in per_tool}
        if "ftpsync" not in per_tool or not peers:
            continue
        ours = statistics.median(s for s, _ in per_tool["ftpsync"])
        tool, best = min(peers.items(), key=lambda kv: kv[1])
        lines.append(f"| {w} | {ours:.2f} s | {best:.2f} s ({tool}) | {best / ours:.2f}x |")
    return "\n".join(lines)


def server_version(server):
    try:
        if server == "proftpd":
            return subprocess.run(["proftpd", "--version"], capture_output=True, text=True).stdout.strip()
        if server in ("vsftpd", "pure-ftpd"):
            debs = os.path.join(CACHE, "servers", "debs")
            deb = next(os.path.join(debs, n) for n in os.listdir(debs) if n.startswith(server + "_"))
            return f"{server} " + subprocess.run(["dpkg-deb", "-f", deb, "Version"], capture_output=True,
                                                 text=True).stdout.strip()
        python = os.path.join(CACHE, "servers", "pyftpdlib-venv", "bin", "python")
        return "pyftpdlib " + subprocess.run([python, "-c", "import pyftpdlib; print(pyftpdlib.__ver__)"],
                                             capture_output=True, text=True).stdout.strip()
    except OSError as e:
        return f"version unknown: {e}"


if __name__ == "__main__":
    main()
