"""pyftpdlib for the interoperability tests: one user, plain FTP and optional explicit FTPS
(AUTH TLS) on one port, a passive range, GMT times; started as root, it binds, loads its
certificate and then runs as an unprivileged user (its files are that user's).

Started by .ci/servers.sh with the interpreter of a venv of the system Python, whose standard
library stays readable once root is dropped (everything from the venv is imported before).
"""

import argparse
import logging
import os
import pwd

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import TLS_FTPHandler
from pyftpdlib.log import config_logging
from pyftpdlib.servers import FTPServer


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--passive", required=True, help="LO-HI")
    p.add_argument("--user", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--run-as", required=True)
    a = p.parse_args()

    config_logging(level=logging.INFO)
    authorizer = DummyAuthorizer()
    # The password comes from the environment, not the command line (which anybody can read).
    authorizer.add_user(a.user, os.environ.pop("PYFTPD_PASSWORD"), a.root, perm="elradfmwMT")
    handler = TLS_FTPHandler
    handler.authorizer = authorizer
    handler.certfile, handler.keyfile = a.cert, a.key
    handler.tls_control_required = False
    handler.tls_data_required = False
    lo, hi = (int(x) for x in a.passive.split("-"))
    handler.passive_ports = list(range(lo, hi + 1))
    handler.use_gmt_times = True
    handler.get_ssl_context()  # reads the key while still root
    server = FTPServer((a.host, a.port), handler)

    who = pwd.getpwnam(a.run_as)
    os.setgroups([])
    os.setgid(who.pw_gid)
    os.setuid(who.pw_uid)
    os.umask(0o022)
    server.serve_forever()


if __name__ == "__main__":
    main()
