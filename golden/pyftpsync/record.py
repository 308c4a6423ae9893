#!/usr/bin/env python3
"""Record reference results of the real pyftpsync 4.1.0 for the golden scenarios.

Builds the fixtures of spec §5.1/§5.2 (shared/spec/pyftpsync-behaviour.md) in a
temporary directory, runs every FS->FS scenario of §5.4 (plus the dry-run variants of
§5.3) through the pyftpsync library at verbose 4, and writes one `<KEY>.json` per
scenario next to this script.

Usage (from this directory):  python3 record.py
pyftpsync 4.1.0 is expected in the venv /tmp/pyenv; when the running interpreter cannot
import it, the script restarts itself with /tmp/pyenv/bin/python.  Create the venv with
    python3 -m venv /tmp/pyenv && /tmp/pyenv/bin/pip install pyftpsync==4.1.0

Determinism: upstream processes directory entries in raw `os.listdir` order, which
differs between file systems, and a few results depend on that order (metadata, see
spec §11 item 19).  The recorded run therefore lists every directory sorted by name.
Each scenario is run a second time with reverse-sorted listings; the top-level fields
that come out different are named in `order_dependent`.

Output fields per scenario (besides those of the brief): `messages` holds the printed
lines that are not action lines (header, "Cannot resolve ..."), in print order, with the
temporary roots replaced by <LOCAL> / <REMOTE>; `order_dependent` is described above.
"""

import calendar
import contextlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time

VENV_DIR = "/tmp/pyenv"
VENV_PYTHON = os.path.join(VENV_DIR, "bin", "python")
PYFTPSYNC_VERSION = "4.1.0"

# Compact meta files, whatever ~/.pyftpsyncrc says (must be set before the import).
os.environ["PYFTPSYNC_VERBOSE_META"] = "false"

try:
    import ftpsync
except ImportError:
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV_DIR) or not (
        os.path.exists(VENV_PYTHON)
    ):
        sys.exit(
            "pyftpsync is not installed; run: python3 -m venv /tmp/pyenv && "
            f"/tmp/pyenv/bin/pip install pyftpsync=={PYFTPSYNC_VERSION}"
        )
    os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(__file__), *sys.argv[1:]])

from ftpsync.metadata import DirMetadata
from ftpsync.synchronizers import (
    BiDirSynchronizer,
    DownloadSynchronizer,
    UploadSynchronizer,
)
from ftpsync.targets import FsTarget
from ftpsync.util import set_pyftpsync_logger

assert ftpsync.__version__ == PYFTPSYNC_VERSION, ftpsync.__version__

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
META = DirMetadata.META_FILE_NAME

# --- Fixture content (spec §5.1 content codes) ----------------------------------------


def utc_stamp(text):
    """'YYYY-MM-DD HH:MM:SS' interpreted as UTC -> POSIX seconds."""
    return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S"))


T12 = utc_stamp("2014-01-01 12:00:00")
T13 = utc_stamp("2014-01-01 13:00:00")
T1305 = utc_stamp("2014-01-01 13:00:05")

L13 = ("local 13:00", T13)
L1305 = ("local 13:00:05", T1305)
R13 = ("remote 13:00", T13)
R1305 = ("remote 13:00:05", T1305)
R13_PLUS = ("remote 13:00 with other content", T13)

# Edits of the modified fixture (§5.2 step 3), in upstream order:
# ("write", path, (content, mtime)) | ("rm", path) | ("rmtree", path)
MODIFY_EDITS = [
    ("write", "local/file2.txt", L13),
    ("rm", "local/file3.txt"),
    ("write", "remote/file4.txt", R13),
    ("rm", "remote/file5.txt"),
    ("write", "local/file6.txt", L13),
    ("write", "remote/file6.txt", R1305),
    ("write", "local/file7.txt", L1305),
    ("write", "remote/file7.txt", R13),
    ("rm", "local/file8.txt"),
    ("write", "remote/file8.txt", R13),
    ("write", "local/file9.txt", L13),
    ("rm", "remote/file9.txt"),
    ("write", "local/folder2/file2_1.txt", L13),
    ("rmtree", "local/folder3"),
    ("rmtree", "local/folder4"),
    ("write", "remote/folder4/file4_1.txt", R13),
    ("write", "remote/folder5/file5_1.txt", R13),
    ("rmtree", "remote/folder6"),
    ("write", "local/folder7/file7_1.txt", L13),
    ("rmtree", "remote/folder7"),
    ("write", "local/new_file1.txt", L13),
    ("write", "remote/new_file2.txt", R13),
    ("write", "local/new_file3.txt", L13),
    ("write", "remote/new_file3.txt", L13),
    ("write", "local/new_file4.txt", L13),
    ("write", "remote/new_file4.txt", R13_PLUS),
    ("write", "local/new_file5.txt", L13),
    ("write", "remote/new_file5.txt", R1305),
    ("write", "local/new_file6.txt", L1305),
    ("write", "remote/new_file6.txt", R13),
]

# Extra edits of the X fixture (§5.4: X1/X2 remove the delete/modify conflicts).
X_EDITS = [("rm", "remote/file8.txt"), ("rm", "local/file9.txt")]

# --- Fixture building (spec §5.2) -----------------------------------------------------


def write_file(root, rel, content, stamp):
    """Text-mode write (creating parent folders), then atime = mtime = stamp."""
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(content)
    os.utime(path, (stamp, stamp))


def apply_edits(root, edits):
    for op, rel, *args in edits:
        path = os.path.join(root, rel)
        if op == "write":
            write_file(root, rel, *args[0])
        elif op == "rm":
            os.remove(path)
        else:
            shutil.rmtree(path)


def prepare_initial_local(root):
    """Step 1: local/ with file1..9 and folder1..7/fileN_1 at 12:00, empty remote/."""
    for name in os.listdir(root):
        shutil.rmtree(os.path.join(root, name))
    for i in range(1, 10):
        write_file(root, f"local/file{i}.txt", f"local{i}", T12)
    for i in range(1, 8):
        write_file(root, f"local/folder{i}/file{i}_1.txt", f"local{i}_1", T12)
    os.mkdir(os.path.join(root, "remote"))


def prepare_initial_synced(root):
    """Step 2: step 1, then a silent BiDir sync (creates the local metadata)."""
    prepare_initial_local(root)
    local, remote = make_targets(root)
    s = BiDirSynchronizer(local, remote, {"verbose": 0})
    s.run()
    stats = s.get_stats()
    assert stats["files_written"] == 16 and stats["dirs_created"] == 7, stats


def prepare_modified(root):
    """Step 3 on top of step 2."""
    prepare_initial_synced(root)
    apply_edits(root, MODIFY_EDITS)


def prepare_no_meta(root):
    """Step 4: step 1, remote/ replaced by a plain copy of local/, then step 3."""
    prepare_initial_local(root)
    shutil.rmtree(os.path.join(root, "remote"))
    shutil.copytree(os.path.join(root, "local"), os.path.join(root, "remote"))
    apply_edits(root, MODIFY_EDITS)


def prepare_x(root):
    """Modified fixture without the delete/modify conflicts of file8/file9."""
    prepare_modified(root)
    apply_edits(root, X_EDITS)


FIXTURES = {"modified": prepare_modified, "no_meta": prepare_no_meta, "x": prepare_x}

# --- Scenarios (spec §5.4; dry-run variants of §5.3) ----------------------------------

SYNCHRONIZERS = {
    "sync": BiDirSynchronizer,
    "upload": UploadSynchronizer,
    "download": DownloadSynchronizer,
}

UP_MIRROR = {"resolve": "local", "delete": True, "force": True}
DOWN_MIRROR = {"resolve": "remote", "delete": True, "force": True}
UNMATCHED = {"delete_unmatched": True, "match": "*1.txt"}

# (key, command, fixture, options without the common verbose level)
SCENARIOS = [
    ("B1", "sync", "modified", {}),
    ("B2", "sync", "modified", {"resolve": "local"}),
    ("B3", "sync", "modified", {"resolve": "remote"}),
    ("N1", "sync", "no_meta", {}),
    ("X1", "sync", "x", {"resolve": "new"}),
    ("X2", "sync", "x", {"resolve": "old"}),
    ("U1", "upload", "modified", {}),
    ("U2", "upload", "modified", {"resolve": "skip", "delete": True}),
    ("U3", "upload", "modified", {"force": True}),
    ("U4", "upload", "modified", {"resolve": "local"}),
    ("U5", "upload", "modified", UP_MIRROR),
    ("U6", "upload", "modified", {**UP_MIRROR, **UNMATCHED}),
    ("N2", "upload", "no_meta", {}),
    ("N4", "upload", "no_meta", {"delete": True}),
    ("D1", "download", "modified", {}),
    ("D2", "download", "modified", {"resolve": "skip", "delete": True}),
    ("D3", "download", "modified", {"force": True}),
    ("D4", "download", "modified", {"resolve": "remote"}),
    ("D5", "download", "modified", DOWN_MIRROR),
    ("D6", "download", "modified", {**DOWN_MIRROR, **UNMATCHED}),
    ("N3", "download", "no_meta", {}),
    ("N5", "download", "no_meta", {"delete": True}),
    ("B2_DRY", "sync", "modified", {"resolve": "local", "dry_run": True}),
    ("U5_DRY", "upload", "modified", {**UP_MIRROR, "dry_run": True}),
    ("D5_DRY", "download", "modified", {**DOWN_MIRROR, "dry_run": True}),
]
VERBOSE = 4

# Stats that depend on the clock (durations, rates) or on the lengths of meta files,
# which contain time stamps and the temporary remote path (meta_bytes_*).
UNSTABLE_STATS = {
    "elap_secs", "elap_str", "write_time", "upload_write_time", "download_write_time",
    "upload_rate_str", "download_rate_str", "meta_bytes_read", "meta_bytes_written",
}
# Time-dependent keys inside meta files.
META_TIME_KEYS = {
    "_time", "_time_str", "u", ":last_sync", ":last_sync_str",
    "mtime_str", "uploaded_str",
}

ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# "[(DRY-RUN) ]TAG(padded to 16) SYM(3) NAME", TAG = upper-case words (spec §6.3)
ACTION_RE = re.compile(r"(\(DRY-RUN\) )?[A-Z][A-Z. ]{15} .{3} \S.*")

# --- Running and observing ------------------------------------------------------------


def make_targets(root):
    return FsTarget(os.path.join(root, "local")), FsTarget(os.path.join(root, "remote"))


@contextlib.contextmanager
def listing_order(reverse):
    """Make os.listdir return sorted (or reverse-sorted) names during a run."""
    raw_listdir = os.listdir
    os.listdir = lambda path=".": sorted(raw_listdir(path), reverse=reverse)
    try:
        yield
    finally:
        os.listdir = raw_listdir


def screen_lines(text):
    """Printed text as a terminal shows it: no ANSI codes, progress ticks ('...\\r')
    overwritten, trailing whitespace stripped, empty lines dropped."""
    lines = []
    for raw in ANSI_RE.sub("", text).split("\n"):
        line = raw.split("\r")[-1].rstrip()
        if line:
            lines.append(line)
    return lines


def read_tree(top):
    """Every regular file below `top` except meta files: rel path -> content, mtime."""
    tree = {}
    for dirpath, _dirnames, filenames in os.walk(top):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if name == META or not os.path.isfile(path):
                continue
            with open(path, encoding="utf-8") as f:
                content = f.read()
            rel = os.path.relpath(path, top).replace(os.sep, "/")
            tree[rel] = {"content": content, "mtime": int(os.lstat(path).st_mtime)}
    return tree


def normalise_meta(value, remote_id):
    """Replace time-dependent values by "<T>" and the remote peer id by "<REMOTE>"."""
    if isinstance(value, dict):
        return {
            ("<REMOTE>" if k == remote_id else k):
                ("<T>" if k in META_TIME_KEYS else normalise_meta(v, remote_id))
            for k, v in value.items()
        }
    return value


def read_metas(root, remote_id):
    """Every meta file on both sides, keyed '<side>/<rel dir>/.pyftpsync-meta.json'."""
    metas = {}
    for side in ("local", "remote"):
        for dirpath, _dirnames, filenames in os.walk(os.path.join(root, side)):
            if META in filenames:
                path = os.path.join(dirpath, META)
                with open(path, encoding="utf-8") as f:
                    data = json.load(f)
                key = os.path.relpath(path, root).replace(os.sep, "/")
                metas[key] = normalise_meta(data, remote_id)
    return metas


def summary_line(stats, dry_run):
    """The CLI's summary line (pyftpsync.py), without its ' Elap: ...' part."""
    return "{}Wrote {}/{} files in {} directories, skipped: {}, errors: {}.".format(
        "(DRY-RUN) " if dry_run else "",
        stats["files_written"],
        stats["local_files"],
        stats["local_dirs"],
        stats["conflict_files_skipped"],
        stats["errors"],
    )


def observe(root, command, fixture, options, reverse):
    """Build the fixture, run the scenario, return everything recorded about it."""
    FIXTURES[fixture](root)
    local, remote = make_targets(root)
    remote_id = remote.get_id()
    synchronizer = SYNCHRONIZERS[command](local, remote, dict(options))
    out = io.StringIO()
    with (
        listing_order(reverse),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(out),
    ):
        synchronizer.run()
    stats = synchronizer.get_stats()

    printed = [
        line.replace(local.root_dir, "<LOCAL>").replace(remote.root_dir, "<REMOTE>")
        for line in screen_lines(out.getvalue())
    ]
    return {
        "stats": {k: v for k, v in stats.items() if k not in UNSTABLE_STATS},
        "lines": sorted(line for line in printed if ACTION_RE.fullmatch(line)),
        "messages": [line for line in printed if not ACTION_RE.fullmatch(line)],
        "summary": summary_line(stats, options.get("dry_run", False)),
        "tree": {
            "local": read_tree(local.root_dir),
            "remote": read_tree(remote.root_dir),
        },
        "meta": read_metas(root, remote_id),
    }


def unordered(result, field):
    """A field of `observe`'s result, ignoring the print order of messages."""
    return sorted(result[field]) if field == "messages" else result[field]


def record(root, key, command, fixture, options):
    """Observe a scenario in sorted and reverse listing order, write <KEY>.json."""
    result = observe(root, command, fixture, options, reverse=False)
    other = observe(root, command, fixture, options, reverse=True)
    result["order_dependent"] = sorted(
        field for field in result if unordered(result, field) != unordered(other, field)
    )
    result.update(scenario=key, command=command, fixture=fixture, options=options)
    path = os.path.join(OUT_DIR, f"{key}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, sort_keys=True, indent=2, ensure_ascii=False)
        f.write("\n")
    return path


def main():
    set_pyftpsync_logger(None)  # library output via print(), so stdout can be captured
    with tempfile.TemporaryDirectory(prefix="pyftpsync-golden-") as root:
        for key, command, fixture, options in SCENARIOS:
            path = record(root, key, command, fixture, {"verbose": VERBOSE, **options})
            print(f"Wrote {os.path.relpath(path)}")


if __name__ == "__main__":
    main()
