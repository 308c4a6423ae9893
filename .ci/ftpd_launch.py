"""What the launchers of the Python FTP servers of the tests share (.ci/pyftpd.py,
.ci/twistedftpd.py, .ci/aioftpd.py): their command line, and dropping root once the server's
socket is bound and its key read. Standard library only: each launcher runs in its own venv."""

import argparse
import os
import pwd


def arguments(doc, tls=False):
    """The launcher's options; the password comes from the environment, not the command line
    (which anybody can read)."""
    p = argparse.ArgumentParser(description=doc)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--passive", required=True, help="LO-HI")
    p.add_argument("--user", required=True)
    p.add_argument("--root", required=True)
    if tls:
        p.add_argument("--cert", required=True)
        p.add_argument("--key", required=True)
    p.add_argument("--run-as", required=True)
    a = p.parse_args()
    lo, hi = (int(x) for x in a.passive.split("-"))
    a.passive_ports = range(lo, hi + 1)
    return a


def run_as(name):
    """Becomes the unprivileged user `name` (its files are that user's), working in `/`, as a
    daemon does: the folder it was started in may be closed to that user (a checkout under a
    `mktemp -d` folder is mode 700), and pyftpdlib returns to its working folder after every
    `CWD`, failing the session when it cannot."""
    os.chdir("/")
    who = pwd.getpwnam(name)
    os.setgroups([])
    os.setgid(who.pw_gid)
    os.setuid(who.pw_uid)
    os.umask(0o022)
