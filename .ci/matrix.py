#!/usr/bin/env python3
"""Renders the results of the real-server tests (JSON lines written by
tests/integration/servers.rs to FTPSYNC_MATRIX_OUT) into README.md, between the markers
<!-- interop-matrix:start --> and <!-- interop-matrix:end --> under the heading
"Server interoperability" (created when missing).

    python3 .ci/matrix.py MATRIX.jsonl README.md
"""

import datetime
import json
import sys

START, END = "<!-- interop-matrix:start -->", "<!-- interop-matrix:end -->"
HEADING = "## Server interoperability"
OPERATIONS = ["names", "missing", "untrusted", "upload", "replan", "active", "edits", "sync", "nochange", "drift", "download", "primitives", "rollback", "recover", "key"]
LABELS = {"key": "Key login", "nochange": "No-change sync", "primitives": "Staging", "rollback": "Rollback", "recover": "Recovery"}
MODES = {"plain": "FTP", "tls": "FTPS (explicit, CA-verified)", "sftp": "SFTP (host key verified)"}
INTRO = """\
`bash .ci/run` starts these servers on loopback (`.ci/servers.sh`; ftpsync's own server,
`ftpsync serve`, runs inside the test) and runs `tests/integration/servers.rs` against each,
in plain FTP and, where the server offers it, explicit FTPS (`AUTH TLS`, the server
certificate verified against a test CA). The fixture has more than 300 files in nested
folders: names with spaces, `#`, `%` (also `%41`), `'`, `(`, non-ASCII letters, `日本`, emoji,
glob characters, a leading dash (`-la`), 200 characters; dotfiles, empty folders, empty,
binary and CR/LF files, one of 1.5 MB. FTPS rows exist where the server offers `AUTH TLS`:
GNU inetutils ftpd, Twisted and aioftp do not, and netkit's TLS (`ftpd-ssl`) fails its
handshake, with curl too (`sslv3 alert handshake failure`).

- **Names**: a second client (suppaftp) stores one name of each kind and lists it back; a kind
  the server cannot store is left out of that server's fixture (the note gives the proof).
- **Missing**: opening a remote folder that does not exist reports it as missing, not empty.
- **Untrusted** (FTPS only): trusting another CA than the test CA, the connection is refused.
- **Upload** into an empty remote folder: the served folder then has the same bytes (and
  modification times, where the server can set them), and nothing else.
- **Replan**: a second plan has nothing to do.
- **Active**: the same scan, and a download, in active mode (the server connects back).
- **Edits**: the files with the hardest names, changed locally, are uploaded over their copies.
- **Sync** after edits on both sides (changed, new and deleted files, new and deleted
  folders): both sides end up with the expected tree, and a further plan is empty.
- **No-change sync**: a sync with nothing changed plans nothing and changes nothing on either
  side.
- **Drift**: a file changed on the server after the plan was made: apply refuses, names it,
  and changes nothing.
- **Download** into an empty local folder gives the served tree.
- **Key login** (SFTP only): the key-only login uploads with `--ssh-key` (ed25519, no
  password anywhere), and the password login then plans nothing.

SFTP rows (`tests/integration/servers/sftp.rs`): OpenSSH's sshd (chrooted `internal-sftp`) and
proftpd's `mod_sftp`, through the binary as a user runs it (password from `FTPSYNC_PASSWORD`,
host key checked against `~/.ssh/known_hosts`), with the same fixture and checks, staging,
rollback and recovery included; SFTP sets modification times, so the served files must carry
the local times.

Every apply above is staged (the default). And (`tests/integration/servers/staged.rs`):

- **Staging**: `check_staging_primitives` (`src/backend/conformance.rs`) in a fresh folder:
  staged names are not listed as content, files and folders are renamed with their content,
  several at once, and trees removed.
- **Rollback**: a staged apply of a release (files replaced, added and deleted, a new folder)
  whose staging the server refuses partway (a folder made unwritable on disk after the plan):
  exit 1, `result: rolled_back`, and the served folder byte for byte and time for time as
  before, with no temporary name, journal or lock left.
- **Recovery**: the state a commit cut short leaves (staged entries, the journal, only the first
  renames done) is resolved by `ftpsync recover`: completed when every staged entry is there,
  undone when one is missing; the served tree is then exactly the new or the old one.

The table is generated from that run by `.ci/matrix.py`; do not edit it by hand."""


def md(text):
    """Text for a Markdown table cell or list item (no HTML, no column breaks)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def render(rows):
    servers = []
    for r in rows:
        if r["server"] not in servers:
            servers.append(r["server"])
    version = {r["server"]: r["version"] for r in rows}
    cell = {}
    for r in rows:
        cell[(r["server"], r["mode"], r["operation"])] = r
    out = [f"Last run: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC.", ""]
    out.append("| Server | Version | Mode | Commands used | " + " | ".join(LABELS.get(o, o.capitalize()) for o in OPERATIONS) + " |")
    out.append("|---|---|---|---|" + "---|" * len(OPERATIONS))
    notes = {}  # (server, operation, text) -> [number, modes]

    def note(s, mode, r, text):
        n = notes.setdefault((s, r["operation"], text), [len(notes) + 1, []])
        n[1].append(MODES[mode])
        return n[0]

    for s in servers:
        for mode in MODES:
            if not any(k[0] == s and k[1] == mode for k in cell):
                continue
            cells = []
            for op in OPERATIONS:
                r = cell.get((s, mode, op)) or cell.get((s, mode, "connect"))
                if r is None:
                    cells.append("–")
                elif r.get("skipped") and op == "names":
                    # Not a failure: kinds of name the server cannot store (with the proof).
                    cells.append(f"⚠️ [{note(s, mode, r, r['detail'])}]")
                elif r["ok"] and op == "names":
                    cells.append("✅")
                elif r.get("skipped"):
                    cells.append(f"⚠️ not run [{note(s, mode, r, 'not run: ' + r['detail'])}]")
                elif r["ok"]:
                    cells.append(f"✅ {r['seconds']:.1f} s")
                elif r["detail"].startswith("not run (") and r["detail"].endswith(" failed)"):
                    # Left out because an earlier operation failed: that one has the note.
                    cells.append(f"❌ ({md(r['detail'][len('not run ('):-1])})")
                else:
                    cells.append(f"❌ [{note(s, mode, r, r['detail'])}]")
            used = next((r["protocol"] for k, r in cell.items() if k[:2] == (s, mode) and r.get("protocol")), "–")
            out.append(f"| {md(s)} | {md(version[s])} | {MODES[mode]} | {md(used)} | " + " | ".join(cells) + " |")
    ok = [r for r in rows if r["ok"] and not r.get("skipped")]
    details = [f"{op.capitalize()}: " + " / ".join(sorted({r["detail"] for r in ok if r["operation"] == op})) + "."
               for op in ("upload", "download") if any(r["operation"] == op for r in ok)]
    out.append("")
    if notes:
        out.append("Notes:")
        out.append("")
        for (s, op, text), (n, modes) in notes.items():
            out.append(f"{n}. {md(s)}, {op} ({', '.join(modes)}): {md(text)}")
        out.append("")
    if details:
        out.append("Per server and mode: " + md(" ".join(details)))
    return "\n".join(out)


def main():
    matrix, readme = sys.argv[1], sys.argv[2]
    with open(matrix, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if not rows:
        sys.exit(f"{matrix}: no results")
    block = f"{START}\n{render(rows)}\n{END}"
    try:
        with open(readme, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        text = "# ftpsync\n\nPlan-then-apply folder synchronisation with FTP/FTPS servers, compatible with pyftpsync.\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\n{INTRO}\n\n{block}\n"
    with open(readme, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"{readme}: interoperability matrix updated ({len(rows)} results)", file=sys.stderr)


if __name__ == "__main__":
    main()
