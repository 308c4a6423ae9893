"""Reads the relay's control-connection log (bench/netlab.py, `log_segment`) back into FTP
commands and replies, and finds the changes a visitor of the site could see.

Each control connection's two byte streams are put back together (retransmitted bytes dropped,
segments put in order), cut into lines, and every command is paired with its final reply (FTP
answers the commands of one connection in order; 1xx replies are preliminary, the first reply
is the greeting). The time of a command's effect is the time the server sent its final reply:
for RNTO, DELE, MKD, RMD that is right after the file system call, for STOR right after the
file was closed. Paths are resolved against the connection's working folder (CWD, CDUP).

A visible change is a successful STOR, APPE, DELE, MKD, RMD of a final name, or an RNTO whose
source or destination is a final name. Final names are all names except ftpsync's temporary,
backup and staged names (a path with a part starting with `.ftpsync-tmp-`), the lock
(`.pyftpsync-lock.json`, ftpsync's and pyftpsync's) and ftpsync's journal.
"""
import collections
import posixpath

TEMP_PREFIX = ".ftpsync-tmp-"
BOOKKEEPING = {".pyftpsync-lock.json", ".ftpsync-journal.json"}
CHANGES = {"STOR", "APPE", "DELE", "MKD", "XMKD", "RMD", "XRMD", "RNTO"}


class Stream:
    """One direction of one TCP connection, put back in order."""

    def __init__(self):
        self.next = None
        self.pending = {}
        self.buf = b""
        self.lines = []  # (time, line)

    def add(self, t, seq, data):
        if self.next is None:
            self.next = seq
        self.pending.setdefault(seq, data)
        while True:
            # A segment that starts at or before the next expected byte and reaches past it.
            usable = None
            for s, d in self.pending.items():
                ahead = (s - self.next) % (1 << 32)
                behind = (self.next - s) % (1 << 32)
                if ahead == 0 or (behind < (1 << 31) and behind < len(d)):
                    usable = s
                    break
            if usable is None:
                # Wholly old segments (retransmissions) are dropped.
                for s in [s for s, d in self.pending.items() if 0 < (self.next - s) % (1 << 32) < (1 << 31)]:
                    del self.pending[s]
                return
            d = self.pending.pop(usable)
            d = d[(self.next - usable) % (1 << 32):]
            self.next = (self.next + len(d)) % (1 << 32)
            self.buf += d
            while b"\r\n" in self.buf:
                line, self.buf = self.buf.split(b"\r\n", 1)
                self.lines.append((t, line.decode("utf-8", "replace")))


def final_replies(lines):
    """(time, code, text) of each final reply: multi-line replies end at `CODE ` and count once,
    1xx replies are skipped."""
    out, multi = [], None
    for t, line in lines:
        if multi:
            if line.startswith(multi + " "):
                out.append((t, int(multi), line))
                multi = None
            continue
        code = line[:3]
        if len(line) >= 4 and code.isdigit() and line[3] == "-":
            multi = code
        elif code.isdigit():
            out.append((t, int(code), line))
    return [r for r in out if r[1] >= 200]


def visible(path, root):
    """A final name under the tool's remote folder `root` (the folder itself excluded)."""
    parts = [p for p in path.split("/") if p]
    if path.rstrip("/") == root.rstrip("/") or not parts:
        return False
    return not any(p.startswith(TEMP_PREFIX) for p in parts) and parts[-1] not in BOOKKEEPING


def segment(path, start, end):
    """The log's rows of [start, end) (byte offsets): [time, way, port, seq, payload] each."""
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start).decode()
    return [row.split(" ") for row in data.splitlines()]


def streams_of(rows):
    """What each connection sent, per side: {(port, "C" or "S"): Stream}, from the data lines
    (not the handshake's and the ends' lines, `C+` and `S+`)."""
    streams = collections.defaultdict(Stream)
    for t, way, port, seq, payload in rows:
        if way in ("C", "S"):
            streams[(port, way)].add(float(t), int(seq), bytes.fromhex(payload))
    return streams


def parse(path, start, end):
    """The log lines of [start, end) (byte offsets): per connection, [(cmd_time, verb, arg,
    reply_time, code)]."""
    streams = streams_of(segment(path, start, end))
    sessions = {}
    for port in {p for p, _ in streams}:
        cmds = streams[(port, "C")].lines
        replies = final_replies(streams[(port, "S")].lines)[1:]  # the greeting first
        rows = []
        for (t, line), reply in zip(cmds, replies):
            verb, _, arg = line.partition(" ")
            rows.append((t, verb.upper(), arg, reply[0], reply[1]))
        sessions[port] = rows
    return sessions


def logins(path, start, end):
    """Per connection, how its login went, in the server's time: [(port, first SYN, every SYN
    after it (retransmissions), SYN-ACK, greeting sent, USER arrived, PASS answered, first
    command after the login arrived)]; a time the log does not have is None."""
    rows = segment(path, start, end)
    events = collections.defaultdict(list)
    for t, way, port, _seq, payload in rows:
        if way in ("C+", "S+"):
            events[port].append((float(t), way, payload))
    streams = streams_of(rows)
    out = []
    for port in sorted({p for p, _ in streams} | set(events)):
        syns = [t for t, way, flags in events[port] if way == "C+" and flags == "SYN"]
        synack = next((t for t, way, flags in events[port] if way == "S+" and "SYN" in flags), None)
        sent = streams[(port, "S")].lines
        cmds = streams[(port, "C")].lines
        greeting = sent[0][0] if sent else None
        user = next((t for t, line in cmds if line.upper().startswith("USER")), None)
        replies = final_replies(sent)[1:]
        passed = next((r[0] for (t, line), r in zip(cmds, replies) if line.upper().startswith("PASS")), None)
        after = next((t for t, line in cmds if line.split(" ")[0].upper() not in ("USER", "PASS")), None)
        out.append((port, syns[0] if syns else None, syns[1:], synack, greeting, user, passed, after))
    return out


def changes(sessions, root):
    """Every visible change: [(time, verb, path)], in time order."""
    out = []
    for rows in sessions.values():
        cwd, renaming = "/", None
        for _t, verb, arg, rt, code in rows:
            where = posixpath.normpath(posixpath.join(cwd, arg)) if arg else cwd
            if verb in ("CWD", "XCWD") and code == 250:
                cwd = where
            elif verb in ("CDUP", "XCUP") and code == 250:
                cwd = posixpath.dirname(cwd.rstrip("/")) or "/"
            elif verb == "RNFR":
                renaming = where if code == 350 else None
            elif verb in CHANGES and code < 300:
                if verb == "RNTO":
                    if renaming and (visible(renaming, root) or visible(where, root)):
                        out.append((rt, verb, f"{renaming} -> {where}"))
                    renaming = None
                elif visible(where, root):
                    out.append((rt, verb, where))
    return sorted(out)


def timeline(sessions):
    """(first command, last reply) of the whole segment, and of the STORs."""
    rows = [r for rs in sessions.values() for r in rs if r[1] != "QUIT"]
    stors = [r for r in rows if r[1] in ("STOR", "APPE")]
    span = (min(r[0] for r in rows), max(r[3] for r in rows)) if rows else (None, None)
    stor = (min(r[0] for r in stors), max(r[3] for r in stors)) if stors else (None, None)
    return span, stor



def windows(log, segments):
    """Per segment of WORK/segments.txt (tool workload run start end): the visible changes and
    the mixed time twice, between the first and last reply (when the server answered) and
    between the first and last command (when the server got it): the change itself happened
    in between, and a reply can wait in the server's send buffer (Nagle) while the change is
    done."""
    out = []
    with open(segments) as f:
        for line in f:
            tool, w, r, start, end = line.split()
            sessions = parse(log, int(start), int(end))
            root = f"/{tool}-{r}"
            seen = changes(sessions, root)
            cmds = sorted(t for t, _ in change_commands(sessions, root))
            out.append((tool, w, int(r), len(seen), (seen[-1][0] - seen[0][0]) * 1e3 if seen else 0.0,
                        (cmds[-1] - cmds[0]) * 1e3 if cmds else 0.0))
    return out


def change_commands(sessions, root):
    """The arrival times of the commands of `changes` (same rules, the command's time)."""
    flipped = {port: [(rt, v, a, t, c) for t, v, a, rt, c in rows] for port, rows in sessions.items()}
    return [(t, v) for t, v, _ in changes(flipped, root)]


if __name__ == "__main__":
    import sys

    if sys.argv[1] == "--windows":
        # python3 bench/ftplog.py --windows LOG SEGMENTS: the mixed time of every segment.
        print("tool workload run changes mixed_by_replies_ms mixed_by_commands_ms")
        for row in windows(sys.argv[2], sys.argv[3]):
            print("%s %s %d %d %.1f %.1f" % row)
        sys.exit()
    if sys.argv[1] == "--logins":
        # python3 bench/ftplog.py --logins LOG START END: each connection's handshake and
        # login, ms after the segment's first SYN (the relay logs SYNs since issue 17).
        rows = logins(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        t0 = min((r[1] for r in rows if r[1] is not None), default=0.0)

        def ms(t):
            return "-" if t is None else f"{(t - t0) * 1e3:.1f}"

        print("port syn syn_again synack greeting user pass_ok next_command")
        for port, syn, again, synack, greeting, user, passed, after in sorted(rows, key=lambda r: r[1] or 0):
            print(port, ms(syn), ",".join(ms(t) for t in again) or "-", ms(synack), ms(greeting), ms(user), ms(passed),
                  ms(after))
        sys.exit()
    # python3 bench/ftplog.py LOG START END: every command of a segment (offsets as written to
    # WORK/segments.txt by commit_window.py), in time order, with its reply.
    log, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rows = sorted((t, port, verb, arg, rt, code) for port, rs in parse(log, start, end).items()
                  for t, verb, arg, rt, code in rs)
    t0 = rows[0][0] if rows else 0
    for t, port, verb, arg, rt, code in rows:
        print(f"{(t - t0) * 1e3:9.1f} {(rt - t0) * 1e3:9.1f} {port:>5} {code} {verb} {arg}")
