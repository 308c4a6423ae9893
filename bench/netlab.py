"""A two-host network on one machine, with latency: for benchmarks that must not run on
loopback's zero round-trip time.

Two network namespaces, `ftpb-cli` (the client tools) and `ftpb-srv` (the FTP server), joined
twice:
  * a veth pair, 198.18.0.1 <-> 198.18.0.2: no added delay (throughput runs);
  * two TUN devices bridged by a userspace relay that holds every packet DELAY ms in each
    direction, 198.18.1.1 <-> 198.18.1.2 (this kernel has no netem; see
    shared/spec/test-servers.md §4). The relay is this module run as a script.

The relay can also write down the payload of every TCP segment to or from one server port (the
FTP control connections), stamped with the time the server receives it or sends it: a command
log with the server's view of time, for any client (`Lab(rtt_ms, log=PATH, log_port=PORT)`;
bench/ftplog.py reads it).

Addresses come from 198.18.0.0/15, the range reserved for benchmarks. Needs root.

Two labs can run side by side on one machine (two people benchmarking): the environment
variable NETLAB_NAME (a few letters, default `ftpb`) names the namespaces and TUN devices;
without it, a second lab would tear down the first one's namespaces on start.

    with Lab(rtt_ms=20) as lab:
        lab.server(["pure-ftpd", ...])          # started in ftpb-srv
        lab.client(["lftp", "-c", ...])         # command line prefix for ftpb-cli
"""
import fcntl
import heapq
import os
import select
import signal
import struct
import subprocess
import sys
import time

# NETLAB_NAME (default "ftpb") names the namespaces and the relay's devices, so that two
# benchmarks (bench/ftp_bench.py, bench/sftp_bench.py) can run at once without one's setup
# tearing down the other's lab; the relay, a child process, reads the same variable.
NAME = os.environ.get("NETLAB_NAME", "ftpb")
CLI, SRV = f"{NAME}-cli", f"{NAME}-srv"
TUN_CLI, TUN_SRV = f"t{NAME}c"[:15], f"t{NAME}s"[:15]
FAST_CLI, FAST_SRV = "198.18.0.1", "198.18.0.2"
SLOW_CLI, SLOW_SRV = "198.18.1.1", "198.18.1.2"


def sh(*args, check=True):
    return subprocess.run(args, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Lab:
    def __init__(self, rtt_ms, log=None, log_port=None):
        self.rtt_ms = rtt_ms
        self.log = [log, str(log_port)] if log else []
        self.relay = None
        self.servers = []

    def __enter__(self):
        self.teardown()
        for ns in (CLI, SRV):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", "vcli", "netns", CLI, "type", "veth", "peer", "name", "vsrv", "netns", SRV)
        sh("ip", "-n", CLI, "addr", "add", f"{FAST_CLI}/30", "dev", "vcli")
        sh("ip", "-n", SRV, "addr", "add", f"{FAST_SRV}/30", "dev", "vsrv")
        sh("ip", "-n", CLI, "link", "set", "vcli", "up")
        sh("ip", "-n", SRV, "link", "set", "vsrv", "up")
        self.relay = subprocess.Popen([sys.executable, os.path.abspath(__file__), "relay", str(self.rtt_ms / 2)] + self.log)
        for _ in range(100):
            if sh("ip", "-n", CLI, "route", "get", SLOW_SRV, check=False).returncode == 0 and self._tun_up():
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("the delay relay did not come up")
        return self

    def _tun_up(self):
        out = subprocess.run(["ip", "-n", CLI, "addr", "show"], capture_output=True, text=True).stdout
        return SLOW_CLI in out

    def server(self, cmd, **kw):
        """Starts a long-running process in the server namespace."""
        proc = subprocess.Popen(["ip", "netns", "exec", SRV] + cmd, **kw)
        self.servers.append(proc)
        return proc

    @staticmethod
    def client(cmd):
        """A command line that runs `cmd` in the client namespace."""
        return ["ip", "netns", "exec", CLI] + cmd

    @staticmethod
    def on_server(cmd):
        """A command line that runs `cmd` in the server namespace (its loopback reaches the
        server at 127.0.0.1)."""
        return ["ip", "netns", "exec", SRV] + cmd

    def __exit__(self, *exc):
        for proc in self.servers:
            proc.terminate()
        for proc in self.servers:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.relay:
            self.relay.terminate()
            self.relay.wait(5)
        self.teardown()

    @staticmethod
    def teardown():
        for ns in (CLI, SRV):
            sh("ip", "netns", "del", ns, check=False)


def relay(delay_ms, log_path=None, log_port=None):
    """Moves packets between the TUN devices of the two namespaces, each `delay_ms` late; with
    `log_path`, writes down the TCP payload to and from `log_port` (see `log_segment`)."""
    tunsetiff, iff_tun, iff_no_pi = 0x400454CA, 0x0001, 0x1000

    def tun(name):
        fd = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(fd, tunsetiff, struct.pack("16sH", name.encode(), iff_tun | iff_no_pi))
        return fd

    fc, fs = tun(TUN_CLI), tun(TUN_SRV)
    for dev, ns, mine, peer in ((TUN_CLI, CLI, SLOW_CLI, SLOW_SRV), (TUN_SRV, SRV, SLOW_SRV, SLOW_CLI)):
        sh("ip", "link", "set", dev, "netns", ns)
        sh("ip", "-n", ns, "addr", "add", mine + "/32", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up", "mtu", "1500")
        sh("ip", "-n", ns, "route", "add", peer + "/32", "dev", dev)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    delay, other, queue, seq = delay_ms / 1000.0, {fc: fs, fs: fc}, [], 0
    # Line-buffered: a reader that sees a tool's run end finds all of its commands written.
    log = open(log_path, "w", buffering=1) if log_path else None
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
        ready, _, _ = select.select([fc, fs], [], [], timeout)
        now = time.monotonic()
        for fd in ready:
            packet = os.read(fd, 65535)
            if log:
                log_segment(log, int(log_port), packet, now, delay, fd == fc)
            heapq.heappush(queue, (now + delay, seq, other[fd], packet))
            seq += 1
        while queue and queue[0][0] <= time.monotonic():
            _, _, out, packet = heapq.heappop(queue)
            try:
                os.write(out, packet)
            except OSError:
                pass


def log_segment(log, port, packet, now, delay, from_client):
    """One line per TCP segment with payload to or from `port`: the time the server receives
    it (client to server: it leaves the relay `delay` later) or sends it (server to client: it
    just arrived), the direction (C: from the client, S: from the server), the client's port
    (which connection), the sequence number (to drop retransmissions) and the payload in hex.
    Times are CLOCK_MONOTONIC seconds, the same clock as the benchmark's time.monotonic().
    Segments with SYN, FIN or RST get a line of their own, `C+`/`S+` with the flags for payload."""
    if len(packet) < 40 or packet[0] >> 4 != 4 or packet[9] != 6:
        return
    ihl = (packet[0] & 15) * 4
    total = struct.unpack_from("!H", packet, 2)[0]
    sport, dport, tcp_seq = struct.unpack_from("!HHI", packet, ihl)
    start = ihl + (packet[ihl + 12] >> 4) * 4
    if port not in (sport, dport):
        return
    # The handshake and the ends, as `t C+ port seq FLAGS` / `t S+ ...` (no payload): where a
    # login's time goes before its greeting (a SYN retransmitted, a slow accept).
    flags = "".join(n for bit, n in ((2, "SYN"), (16, "ACK"), (1, "FIN"), (4, "RST")) if packet[ihl + 13] & bit)
    if packet[ihl + 13] & 7:
        if from_client and dport == port:
            log.write(f"{now + delay:.6f} C+ {sport} {tcp_seq} {flags}\n")
        elif not from_client and sport == port:
            log.write(f"{now:.6f} S+ {dport} {tcp_seq} {flags}\n")
    if start >= total:
        return
    if from_client and dport == port:
        log.write(f"{now + delay:.6f} C {sport} {tcp_seq} {packet[start:total].hex()}\n")
    elif not from_client and sport == port:
        log.write(f"{now:.6f} S {dport} {tcp_seq} {packet[start:total].hex()}\n")


if __name__ == "__main__" and len(sys.argv) in (3, 5) and sys.argv[1] == "relay":
    relay(float(sys.argv[2]), *sys.argv[3:])
