#!/usr/bin/env python3
"""Round trips per phase of every tool run in a control log of bench/ftp_bench.py --log
(issue 17: where ftpsync spends round trips a peer does not).

The relay's log (bench/netlab.py) has every command of every control connection with the time
the server got it and the time it answered (bench/ftplog.py pairs them). On one connection,
the commands sent in one write (pipelined: each arrives before the reply to the one before it
left) form a group; a group costs one round trip plus the time the server took between the
first command's arrival and the last reply, in round trips (an `EPSV` + `MLSD` group costs
about four: the data connection's handshake and the listing's own close). A group of only
`EPSV`/`PASV` (a data connection announced ahead) is counted with the group after it, or with
the one before it where no transfer follows (announced at the end of a scan, then `QUIT`).

Phases, by the first command of a group (other than EPSV/PASV) and its argument:

  login      USER PASS AUTH PBSZ PROT FEAT OPTS TYPE SYST CLNT LANG HOST, the first CWD/PWD,
             QUIT; for ftpsync also the look for an interrupted commit's journal at the start
  scan       listings (MLSD LIST NLST STAT), MDTM/MLST/SIZE of files, NOOP/PWD fences,
             before the lock is first touched (a peer's listings, whenever they come)
  lock       anything naming .pyftpsync-lock.json (or ftpsync's temporary name for it)
             before the first transfer; `unlock` after the last transfer
  meta-read  RETR of .pyftpsync-meta.json
  recheck    listings and MLST/MDTM/SIZE of final names after the lock is first touched
  transfer   STOR/APPE/RETR of content and what checks it (SIZE, MFMT, MDTM, MLST, SITE) of
             the same temporary name, RNFR/RNTO of a file onto its own name (streaming),
             MKD, DELE of content
  meta-write STOR/SIZE/MFMT/RNFR/RNTO of a .pyftpsync-meta.json (or its temporary name)
  commit     ftpsync's journal (.ftpsync-journal.json and the temporary names written as it),
             renames to and from staged and backup names, DELE of backups

Per phase: commands, round trips (summed over connections), and the wall time from its first
command's arrival to its last reply (phases overlap across connections). The last column is the
run's whole span in round trips: what the user waits for.

usage: python3 bench/roundtrips.py WORK/control-SERVER.log WORK/segments-SERVER.txt [--rtt 20]
                                   [--tools ftpsync,rclone] [--workloads W2,W3] [--markdown]
                                   [--commands TOOL WORKLOAD RUN]
"""
import argparse
import collections
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplog  # noqa: E402

PHASES = ("login", "scan", "lock", "meta-read", "recheck", "transfer", "meta-write", "commit", "unlock")
LOGIN = {"USER", "PASS", "AUTH", "PBSZ", "PROT", "FEAT", "OPTS", "TYPE", "SYST", "QUIT", "CLNT", "LANG", "HOST"}
ANNOUNCE = {"EPSV", "PASV", "PORT", "EPRT"}
LISTINGS = {"MLSD", "LIST", "NLST", "STAT"}
LOOKS = {"MDTM", "MLST", "SIZE", "NOOP", "PWD", "XPWD", "CWD", "CDUP"}
TRANSFERS = {"STOR", "APPE", "RETR"}
LOCK = ".pyftpsync-lock.json"
META = ".pyftpsync-meta.json"
JOURNAL = ".ftpsync-journal.json"


def groups(rows):
    """The commands of one connection in groups sent in one write: [[row...]]."""
    out = []
    for row in rows:
        t = row[0]
        if out and t < out[-1][-1][3]:
            out[-1].append(row)
        else:
            out.append([row])
    return out


def cost(group, rtt):
    """Round trips of one group: one, plus the server's time on it."""
    span = max(r[3] for r in group) - group[0][0]
    return 1 + round(span * 1e3 / rtt)


def arg_of(row):
    return row[2] or ""


class Classifier:
    """Phase of each group of one tool run, in time order across its connections (the lock
    and the first transfer split the run)."""

    def __init__(self, peer=False, streaming=False):
        # A peer (lftp, rclone) has no lock, check or commit: its listings are its scan, even
        # while it transfers.
        self.peer = peer
        self.locked = False
        self.transferred_last = None  # time of the last content transfer
        self.journal_tmp = set()
        self.lock_tmp = set()
        self.journal = None  # None, "written", "removed"
        self.streaming = streaming  # no journal to wait for (--no-stage, the peers)

    def phase(self, group, first_cmd):
        verbs = [r[1] for r in group]
        if all(v in ANNOUNCE for v in verbs):
            return None  # counted with the group after it
        rows = [r for r in group if r[1] not in ANNOUNCE]
        row = rows[0]
        verb, arg = row[1], arg_of(row)
        name = arg.rsplit("/", 1)[-1]
        if first_cmd and verb in ("CWD", "PWD", "XPWD") or verb in ("PWD", "XPWD") and self.peer:
            return "login"
        if verb in LOGIN or all(v in LOGIN for v in verbs):
            return "login"
        if any(LOCK in arg_of(r) or arg_of(r).rsplit("/", 1)[-1] in self.lock_tmp for r in rows):
            self.locked = True
            if self.transferred_last is None:
                return "lock"
            # The commit's own look at the lock (staged apply) until its journal is gone.
            return "unlock" if self.journal == "removed" or self.journal is None and self.streaming else "commit"
        if not self.locked and any(JOURNAL in arg_of(r) for r in rows):
            return "login"  # the look for an interrupted commit every run makes at its start
        if any(JOURNAL in arg_of(r) for r in rows) or name in self.journal_tmp:
            if verb == "DELE" and JOURNAL in arg:
                self.journal = "removed"
            elif verb == "RNFR" and self.transferred_last is not None:
                self.journal = "written"
            return "commit"
        if verb == "RETR" and name == META:
            return "meta-read"
        if verb in ("RNFR", "RNTO", "DELE") and self.journal == "written":
            return "commit"
        if META in name and verb in ("STOR", "APPE", "SIZE", "MFMT", "RNFR", "RNTO", "DELE", "SITE"):
            return "meta-write"
        staged = re.match(r"\.ftpsync-tmp-\d+-(.)", name)
        if verb in ("RNFR", "RNTO", "DELE") and staged and staged.group(1) in ("b",):
            return "commit"
        if verb == "RNFR" and staged and staged.group(1) == "s":
            return "commit"
        if verb == "RNFR" and not staged and len(rows) > 1:
            # A final name moved aside (a backup, staged commit) or a file renamed into place.
            target = arg_of(rows[1]).rsplit("/", 1)[-1]
            if re.match(r"\.ftpsync-tmp-\d+-b", target):
                return "commit"
        if verb == "STOR" and re.match(r"\.ftpsync-tmp-\d+-\d+$", name):
            # ftpsync writes its journal under such names (the next groups check and rename).
            self.journal_tmp.add(name)
            return "commit"
        if staged and staged.group(1) == "s":
            self.transferred_last = row[0]
            return "transfer"
        if verb in TRANSFERS or verb in ("MFMT", "MKD", "XMKD", "DELE", "RNFR", "RNTO", "SITE") or (
                verb == "SIZE" and staged):
            self.transferred_last = row[0]
            return "transfer"
        if verb in LISTINGS or verb in LOOKS:
            if self.peer:
                return "scan"
            if self.transferred_last is not None:
                return "commit" if self.journal is None and self.locked else "recheck"
            return "recheck" if self.locked else "scan"
        return "transfer"


def account(sessions, rtt, peer=False):
    """{phase: [commands, round trips, first, last]} and the run's span in seconds."""
    per_conn = {port: groups(rows) for port, rows in sessions.items()}
    tagged = []
    for port, gs in per_conn.items():
        for n, g in enumerate(gs):
            tagged.append((g[0][0], port, n, g))
    tagged.sort()
    clf = Classifier(peer=peer)
    phase_of = {}
    for _t, port, n, g in tagged:
        phase_of[(port, n)] = clf.phase(g, n == 0)
    out = {p: [0, 0, None, None] for p in PHASES}
    for port, gs in per_conn.items():
        for n, g in enumerate(gs):
            later = [m for m in range(n, len(gs)) if phase_of[(port, m)]]
            if phase_of[(port, n)] is None and (not later or gs[later[0]][0][1] == "QUIT"):
                # Announced, and no transfer came: part of what the connection did before.
                earlier = [phase_of[(port, m)] for m in range(n) if phase_of[(port, m)]]
                phase = earlier[-1] if earlier else "login"
            else:
                phase = phase_of[(port, later[0])] if later else "transfer"
            acc = out[phase]
            acc[0] += len(g)
            acc[1] += cost(g, rtt)
            if g[0][1] == "QUIT":
                continue  # counted, but the wall time of the login phase is the logins'
            first, last = g[0][0], max(r[3] for r in g)
            acc[2] = first if acc[2] is None else min(acc[2], first)
            acc[3] = last if acc[3] is None else max(acc[3], last)
    rows = [r for rs in sessions.values() for r in rs]
    span = max(r[3] for r in rows) - min(r[0] for r in rows) if rows else 0.0
    return out, span


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log")
    ap.add_argument("segments")
    ap.add_argument("--rtt", type=float, default=20.0)
    ap.add_argument("--tools", default="ftpsync,lftp,rclone")
    ap.add_argument("--workloads", default="W2,W3")
    ap.add_argument("--markdown", action="store_true", help="one table per workload, medians over the runs")
    ap.add_argument("--commands", nargs=3, metavar=("TOOL", "WORKLOAD", "RUN"),
                    help="print that run's commands with their phases instead")
    args = ap.parse_args()
    tools, workloads = args.tools.split(","), args.workloads.split(",")
    runs = collections.defaultdict(list)
    with open(args.segments) as f:
        for line in f:
            tool, w, r, start, end = line.split()
            sessions = ftplog.parse(args.log, int(start), int(end))
            if args.commands and (tool, w, r) == tuple(args.commands):
                print_commands(sessions, args.rtt, peer=tool != "ftpsync")
                return
            if tool in tools and w in workloads:
                runs[(w, tool)].append(account(sessions, args.rtt, peer=tool != "ftpsync"))
    if args.markdown:
        for w in workloads:
            print(f"\n{w}: commands / round trips (summed over connections) / wall ms per phase, median of runs\n")
            print("| tool | " + " | ".join(PHASES) + " | whole run |")
            print("|---|" + "---:|" * (len(PHASES) + 1))
            for tool in tools:
                got = runs.get((w, tool))
                if not got:
                    continue
                cells = []
                for p in PHASES:
                    c = statistics.median(a[p][0] for a, _ in got)
                    rt = statistics.median(a[p][1] for a, _ in got)
                    ms = statistics.median((a[p][3] - a[p][2]) * 1e3 if a[p][2] is not None else 0 for a, _ in got)
                    cells.append("–" if c == 0 else f"{c:g} / {rt:g} / {ms:.0f}")
                whole = statistics.median(s for _, s in got)
                cells.append(f"{whole * 1e3:.0f} ms = {whole * 1e3 / args.rtt:.0f} RTT")
                print(f"| {tool} | " + " | ".join(cells) + " |")
        return
    for (w, tool), got in sorted(runs.items()):
        for n, (acc, span) in enumerate(got):
            parts = [f"{p} {a[0]}c/{a[1]}rt/{(a[3] - a[2]) * 1e3:.0f}ms" for p, a in acc.items() if a[0]]
            print(f"{tool} {w} run {n}: {span * 1e3:.0f} ms; " + ", ".join(parts))


def print_commands(sessions, rtt, peer=False):
    per_conn = {port: groups(rows) for port, rows in sessions.items()}
    tagged = sorted((g[0][0], port, n, g) for port, gs in per_conn.items() for n, g in enumerate(gs))
    clf = Classifier(peer=peer)
    t0 = tagged[0][0] if tagged else 0
    for t, port, n, g in tagged:
        phase = clf.phase(g, n == 0) or "(next)"
        cmds = "; ".join(f"{r[1]} {arg_of(r)}".strip() for r in g)
        print(f"{(t - t0) * 1e3:8.1f} {port:>5} {phase:<10} {cost(g, rtt):>2}rt {cmds}")


if __name__ == "__main__":
    main()
