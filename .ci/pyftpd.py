"""pyftpdlib for the interoperability tests: one user, plain FTP and optional explicit FTPS
(AUTH TLS) on one port, a passive range, GMT times; started as root, it binds, loads its
certificate and then runs as an unprivileged user (its files are that user's).

Started by .ci/servers.sh with the interpreter of a venv of the system Python, whose standard
library stays readable once root is dropped (everything from the venv is imported before).
"""

import logging
import os

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import TLS_FTPHandler
from pyftpdlib.log import config_logging
from pyftpdlib.servers import FTPServer

import ftpd_launch  # .ci/ftpd_launch.py, next to this script


def main():
    a = ftpd_launch.arguments(__doc__, tls=True)

    config_logging(level=logging.INFO)
    authorizer = DummyAuthorizer()
    # The password comes from the environment, not the command line (which anybody can read).
    authorizer.add_user(a.user, os.environ.pop("PYFTPD_PASSWORD"), a.root, perm="elradfmwMT")
    handler = TLS_FTPHandler
    handler.authorizer = authorizer
    handler.certfile, handler.keyfile = a.cert, a.key
    handler.tls_control_required = False
    handler.tls_data_required = False
    handler.passive_ports = list(a.passive_ports)
    handler.use_gmt_times = True
    handler.get_ssl_context()  # reads the key while still root
    server = FTPServer((a.host, a.port), handler)

    ftpd_launch.run_as(a.run_as)
    server.serve_forever()


if __name__ == "__main__":
    main()
