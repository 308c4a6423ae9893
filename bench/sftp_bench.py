#!/usr/bin/env python3
"""SFTP upload benchmark: ftpsync next to rsync over ssh, rclone, lftp mirror and pyftpsync 4.1,
same work, same server, one run (issue 14).

OpenSSH's sshd runs in its own network namespace (bench/netlab.py), reached over a path with
RTT ms of round-trip time (a userspace delay relay; default 20 ms) for the latency-bound
workloads. Workloads (bench/ftp_bench.py's, over SFTP):

  W1  initial upload of FILES files of 4 KiB in DIRS folders into an empty folder
  W2  the same upload again, nothing changed
  W3  the upload after changing 1% of the files
  W4  one SIZE_MIB MiB file over the server namespace's loopback, tmpfs on both ends (`scp` is
      the single-stream reference)

The server is one sshd (internal-sftp, no chroot: rsync needs a shell on the server) with one
login that accepts a key and a password. Every tool logs in with the key, except pyftpsync,
which has password login only; host keys are verified by every tool (a known_hosts file with
the server's key). Parallel tools get their parallelism: rclone `--transfers 8 --checkers 8`
(hash checks after upload off: they run `md5sum` on the server through a shell, which plain
SFTP servers do not offer), `lftp mirror -R --parallel=8`; rsync is `rsync -a` over one ssh
connection; ftpsync runs with its defaults (FTPSYNC_ARGS adds options). After each run the
served folder is compared with the local tree (content; modification time for the tools that
set it). Each workload is run RUNS times; the table shows medians, the ratio to ftpsync, and
peak memory (max RSS, GNU time).

Needs root (namespaces, a system user, apt for rsync, lftp, rclone, openssh).

FTPSYNC_BIN=PATH uses that ftpsync binary instead of building one.

usage: sudo python3 bench/sftp_bench.py [--rtt 20] [--runs 3] [--pyftpsync-runs N] [--w4-runs N]
                                        [--files 2000] [--dirs 100] [--size-mib 256]
                                        [--tools ftpsync,rsync,rclone,lftp,pyftpsync]
                                        [--workloads W1,W2,W3,W4]
"""
import argparse
import collections
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# A lab of its own (see bench/netlab.py), so an FTP benchmark may run at the same time.
os.environ.setdefault("NETLAB_NAME", "sftpb")
from ftp_bench import change_one_percent, make_tree, same_content, table, timed, tmpfs, tree_files  # noqa: E402
import ftp_bench  # noqa: E402
from netlab import SLOW_SRV, Lab  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("FTPSYNC_CI_DIR", os.path.expanduser("~/.cache/ftpsync-ci"))
WORK = "/tmp/sftpbench"
USER, PASSWORD = "sftpbench", "sftpbench-pw"
PORT = 2222
STAMP = 1577836800  # 2020-01-01: the generated files' modification time (ftp_bench's)

# ftp_bench's helpers write their scratch files (peak.txt) under its WORK.
ftp_bench.WORK = WORK


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


# --- installation ------------------------------------------------------------------------------

def install(build):
    """sshd, ssh/scp, rsync, lftp, rclone, GNU time (apt); pyftpsync 4.1 with pysftp and
    paramiko<4 (pysftp imports paramiko's DSSKey, gone in paramiko 4); a release ftpsync (when
    it is benchmarked: the peers alone check the harness)."""
    packages = {"/usr/sbin/sshd": "openssh-server", "/usr/bin/ssh": "openssh-client", "/usr/bin/rsync": "rsync",
                "/usr/bin/lftp": "lftp", "/usr/bin/rclone": "rclone", "/usr/bin/time": "time"}
    missing = [p for path, p in packages.items() if not os.path.exists(path)]
    if missing:
        # A maintainer script must not start sshd on port 22.
        policy = "/usr/sbin/policy-rc.d"
        made = not os.path.exists(policy)
        if made:
            with open(policy, "w") as f:
                f.write("#!/bin/sh\nexit 101\n")
            os.chmod(policy, 0o755)
        try:
            run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-qq"])
            run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "--no-install-recommends"]
                + missing, stdout=subprocess.DEVNULL, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        finally:
            if made:
                os.remove(policy)
    venv = os.path.join(CACHE, "venv")
    pyftpsync = os.path.join(venv, "bin", "pyftpsync")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(pyftpsync):
        run([sys.executable, "-m", "venv", venv])
        run([os.path.join(venv, "bin", "pip"), "install", "-q", "pyftpsync==4.1.0"])
    if subprocess.run([python, "-c", "import pysftp"], capture_output=True).returncode != 0:
        run([os.path.join(venv, "bin", "pip"), "install", "-q", "pysftp", "paramiko<4"])
    ftpsync = os.environ.get("FTPSYNC_BIN")  # a release build made elsewhere (stated in the report)
    if build and not ftpsync:
        run(["cargo", "build", "--release", "--quiet", "--locked"], cwd=REPO)
    return {"ftpsync": ftpsync or os.path.join(REPO, "target/release/ftpsync"), "pyftpsync": pyftpsync}


# --- the server --------------------------------------------------------------------------------

def keys(home):
    """The client key (also in HOME/.ssh, where ftpsync and pyftpsync look) and the server's
    host key; returns (client key, known_hosts file)."""
    ssh = os.path.join(home, ".ssh")
    os.makedirs(ssh, mode=0o700, exist_ok=True)
    key = os.path.join(ssh, "id_ed25519")
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key])
    host = os.path.join(WORK, "host_ed25519")
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host])
    public = open(host + ".pub").read().split()
    known = os.path.join(ssh, "known_hosts")
    with open(known, "w") as f:
        for addr in (SLOW_SRV, "127.0.0.1"):
            # pysftp (pyftpsync) looks a host up without its port: the plain form too.
            f.write(f"[{addr}]:{PORT} {public[0]} {public[1]}\n{addr} {public[0]} {public[1]}\n")
    with open(os.path.join(WORK, "authorized_keys"), "w") as f:
        f.write(open(key + ".pub").read())
    os.chmod(os.path.join(WORK, "authorized_keys"), 0o644)
    return key, known


def start_server(lab):
    """sshd in the server namespace; the login's home is WORK/srv (served paths are absolute)."""
    home = os.path.join(WORK, "srv")
    os.makedirs(home, exist_ok=True)
    os.makedirs("/run/sshd", exist_ok=True)
    if subprocess.run(["id", "-u", USER], capture_output=True).returncode != 0:
        run(["useradd", "--system", "--no-create-home", "--home-dir", home, "--shell", "/bin/sh", USER])
    run(["usermod", "--home", home, USER])
    run(["chpasswd"], input=f"{USER}:{PASSWORD}\n".encode())
    run(["chown", "-R", f"{USER}:", home])
    os.chmod(WORK, 0o755)
    config = os.path.join(WORK, "sshd_config")
    with open(config, "w") as f:
        f.write(f"""Port {PORT}
HostKey {WORK}/host_ed25519
PidFile none
UsePAM yes
KbdInteractiveAuthentication no
PasswordAuthentication yes
PubkeyAuthentication yes
AllowUsers {USER}
AuthorizedKeysFile {WORK}/authorized_keys
# WORK is under /tmp (world-writable): sshd's ownership checks of the key file's folders would fail.
StrictModes no
MaxStartups 200:30:400
MaxSessions 100
UseDNS no
Subsystem sftp internal-sftp
""")
    lab.server(["/usr/sbin/sshd", "-D", "-f", config, "-E", os.path.join(WORK, "sshd.log")],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        probe = subprocess.run(Lab.client(["ssh-keyscan", "-T", "2", "-p", str(PORT), SLOW_SRV]), capture_output=True)
        if probe.returncode == 0 and probe.stdout.strip():
            return home
        time.sleep(0.1)
    raise RuntimeError("sshd did not answer; see " + os.path.join(WORK, "sshd.log"))


# --- tools -------------------------------------------------------------------------------------

def ssh_command(key, known):
    return (f"ssh -a -x -o BatchMode=yes -o IdentitiesOnly=yes -i {key} -o StrictHostKeyChecking=yes "
            f"-o UserKnownHostsFile={known} -o GlobalKnownHostsFile=/dev/null -p {PORT}")


def commands(tool, exe, local, remote, host, ctx):
    """The command line of `tool` that uploads the folder (or, for scp, the file) `local` to the
    absolute server path `remote`."""
    key, known = ctx["key"], ctx["known"]
    if tool == "ftpsync":
        return [exe["ftpsync"], "upload", local, f"sftp://{USER}@{host}:{PORT}{remote}", "--resolve", "skip",
                "--create-folder", "--ssh-key", key, "--no-prompt", "--no-keyring", "--no-netrc", "-q"] + ctx["extra"]
    if tool == "pyftpsync":
        return [exe["pyftpsync"], "upload", local, f"sftp://{USER}:{PASSWORD}@{host}:{PORT}{remote}", "--resolve", "skip",
                "--create-folder", "--no-prompt", "--no-keyring", "--no-netrc", "-q"]
    if tool == "rsync":
        return ["rsync", "-a", "-e", ssh_command(key, known), local + "/", f"{USER}@{host}:{remote}/"]
    if tool == "lftp":
        connect = ssh_command(key, known).replace(f" -p {PORT}", "")
        script = (f"set sftp:connect-program {shlex.quote(connect)}; set net:max-retries 2; set cmd:fail-exit yes; "
                  f"open -u {USER}, -p {PORT} sftp://{host}; mirror -R --parallel=8 {local} {remote}")
        return ["lftp", "-c", script]
    if tool == "rclone":
        remote_spec = (f":sftp,host={host},port={PORT},user={USER},key_file={key},known_hosts_file={known},"
                       f"disable_hashcheck=true:{remote}")
        return ["rclone", "copy", local, remote_spec, "--transfers", "8", "--checkers", "8",
                "--config", os.path.join(ctx["home"], "rclone.conf")]
    if tool == "scp":
        return ["scp", "-q", "-P", str(PORT), "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={known}", local, f"{USER}@{host}:{remote}/"]
    raise ValueError(tool)


def sets_mtime(local, served):
    """Whether the served copies carry the local modification times (reported, not required:
    pyftpsync keeps them in its metadata instead)."""
    return all(int(os.stat(os.path.join(local, rel)).st_mtime) == int(os.stat(os.path.join(served, rel)).st_mtime)
               for rel in tree_files(local))


def verify(local, served):
    want, got = set(tree_files(local)), set(tree_files(served))
    if want != got:
        return f"files differ: {len(want - got)} missing, {len(got - want)} extra"
    for rel in want:
        if not same_content(os.path.join(local, rel), os.path.join(served, rel)):
            return f"{rel}: content differs"
    return None


def mkdir_served(path):
    """scp and rsync need the parent of the target folder to exist."""
    os.makedirs(path, exist_ok=True)
    run(["chown", "-R", f"{USER}:", path])


# --- workloads ---------------------------------------------------------------------------------

def runs_of(args, tool, big=False):
    if big:
        return args.w4_runs or args.runs
    return args.pyftpsync_runs if tool == "pyftpsync" and args.pyftpsync_runs else args.runs


def bench_small(args, exe, ctx, served_root, env):
    """W1-W3, the tools' runs interleaved (run 1 of every tool, then run 2...) so that a change
    in the machine's load falls on all of them alike. Returns {workload: {tool: [(s, MiB)]}}
    and which tools kept modification times."""
    results = collections.defaultdict(lambda: collections.defaultdict(list))
    mtimes = {}
    master = os.path.join(WORK, "master")
    make_tree(master, args.files, args.dirs, 4096)
    for r in range(max(runs_of(args, t) for t in args.tools)):
        for tool in args.tools:
            if r >= runs_of(args, tool):
                continue
            local = os.path.join(WORK, "local", tool)
            shutil.rmtree(local, ignore_errors=True)
            shutil.copytree(master, local)
            served = os.path.join(served_root, f"{tool}-{r}")
            if tool == "rsync":
                mkdir_served(served)
            cmd = commands(tool, exe, local, served, SLOW_SRV, ctx)
            for w in ("W1", "W2", "W3"):
                if w not in args.workloads:
                    continue
                if w == "W3":
                    change_one_percent(local, args.files)
                results[w][tool].append(timed(cmd, env))
                problem = verify(local, served)
                if problem:
                    raise RuntimeError(f"{tool} {w}: wrong result: {problem}")
                mtimes.setdefault(tool, sets_mtime(local, served))
                print(f"  {tool:<10} {w} run {r + 1}: {results[w][tool][-1][0]:7.2f} s", flush=True)
            shutil.rmtree(served, ignore_errors=True)
    return results, mtimes


def bench_big(args, exe, ctx, served_root, env):
    """W4: one large file over the server namespace's loopback, tmpfs on both ends (see
    bench/ftp_bench.py's bench_big for why), next to scp."""
    results = collections.defaultdict(list)
    big_dir = os.path.join(WORK, "big")
    big = os.path.join(big_dir, "big.bin")
    with open(big, "wb") as fh:
        block = hashlib.sha256(b"big").digest() * 32768  # 1 MiB
        for _ in range(args.size_mib):
            fh.write(block)
    os.utime(big, (STAMP, STAMP))
    tools = [t for t in args.tools if t in ("ftpsync", "rsync", "rclone", "lftp")] + ["scp"]
    for r in range(max(runs_of(args, t, big=True) for t in tools)):
        for tool in tools:
            for name in os.listdir(big_dir):
                if name.startswith(".pyftpsync-"):
                    os.remove(os.path.join(big_dir, name))
            remote = os.path.join(served_root, "w4", f"{tool}-{r}")
            if tool in ("scp", "rsync"):
                mkdir_served(remote)
            source = big if tool == "scp" else big_dir
            secs, mib = timed(commands(tool, exe, source, remote, "127.0.0.1", ctx), env, where=Lab.on_server)
            stored = os.path.join(remote, "big.bin")
            if os.path.getsize(stored) != os.path.getsize(big) or not same_content(stored, big):
                raise RuntimeError(f"{tool} W4: the stored file differs from the source")
            shutil.rmtree(remote)
            results[tool].append((secs, mib))
            print(f"  {tool:<10} W4 run {r + 1}: {secs:7.2f} s ({args.size_mib / secs:.0f} MiB/s, peak {mib:.0f} MiB)",
                  flush=True)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rtt", type=float, default=20.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pyftpsync-runs", type=int, default=0, help="runs of pyftpsync on W1-W3 (default: --runs)")
    ap.add_argument("--w4-runs", type=int, default=0, help="runs of every tool on W4 (default: --runs)")
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--dirs", type=int, default=100)
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--tools", default="ftpsync,rsync,rclone,lftp,pyftpsync")
    ap.add_argument("--workloads", default="W1,W2,W3,W4")
    args = ap.parse_args()
    args.tools = args.tools.split(",")
    args.workloads = args.workloads.split(",")
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces, a system user)")
    exe = install(build="ftpsync" in args.tools)
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    home = os.path.join(WORK, "home")
    os.makedirs(home)
    key, known = keys(home)
    ctx = {"key": key, "known": known, "home": home, "extra": shlex.split(os.environ.get("FTPSYNC_ARGS", ""))}
    env = dict(os.environ, HOME=home, NO_COLOR="1")
    env.pop("SSH_AUTH_SOCK", None)
    load = open("/proc/loadavg").read().split()[:3]
    print(f"{args.files} files in {args.dirs} folders, RTT {args.rtt:g} ms, {args.runs} runs each, "
          f"load {' '.join(load)}", flush=True)
    mounts = []
    if "W4" in args.workloads:
        mounts = [tmpfs(os.path.join(WORK, "big"), args.size_mib + 16),
                  tmpfs(os.path.join(WORK, "srv", "w4"), args.size_mib + 64)]
    try:
        lab_run(args, exe, ctx, env)
    finally:
        for path in mounts:
            subprocess.run(["umount", path], check=False)
        shutil.rmtree(WORK, ignore_errors=True)


def lab_run(args, exe, ctx, env):
    with Lab(args.rtt) as lab:
        served_root = start_server(lab)
        report = [f"Command: `sudo python3 bench/sftp_bench.py --rtt {args.rtt:g} --runs {args.runs} --files {args.files} "
                  f"--dirs {args.dirs} --size-mib {args.size_mib} --tools {','.join(args.tools)}"
                  f"{f' --pyftpsync-runs {args.pyftpsync_runs}' if args.pyftpsync_runs else ''}"
                  f"{f' --w4-runs {args.w4_runs}' if args.w4_runs else ''}` "
                  f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load before: "
                  f"{' '.join(open('/proc/loadavg').read().split()[:3])})"]
        if os.environ.get("FTPSYNC_BIN"):
            version = subprocess.run([exe["ftpsync"], "--version"], capture_output=True, text=True).stdout.strip()
            report.append(f"ftpsync binary: FTPSYNC_BIN={os.environ['FTPSYNC_BIN']} ({version})")
        if ctx["extra"]:
            report.append(f"ftpsync options: {' '.join(ctx['extra'])}")
        if set(args.workloads) & {"W1", "W2", "W3"}:
            small, mtimes = bench_small(args, exe, ctx, served_root, env)
            names = {"W1": "initial upload", "W2": "nothing changed", "W3": "1% changed"}
            for w in ("W1", "W2", "W3"):
                if w in small:
                    report.append(table(f"{w}: {names[w]}, {args.files} files of 4 KiB, RTT {args.rtt:g} ms", small[w]))
            report.append("\nmodification times kept on the server: "
                          + ", ".join(f"{t} {'yes' if kept else 'no'}" for t, kept in mtimes.items()))
        if "W4" in args.workloads:
            big = bench_big(args, exe, ctx, served_root, env)
            report.append(table(f"W4: one {args.size_mib} MiB file over loopback (tmpfs on both ends)", big,
                                unit_work=args.size_mib))
        report.append(f"\nload after: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    print("\n".join(report))


if __name__ == "__main__":
    main()
