"""Twisted's FTP server (twisted.protocols.ftp) for the interoperability tests: one user, plain
FTP only (Twisted's server has no AUTH TLS), on 127.0.0.1 with a passive range; started as
root, it binds and then runs as an unprivileged user (its files are that user's). Serves until
killed.

Twisted binds its passive data ports on every interface ("" or "::"); the protocol below binds
them to 127.0.0.1, so nothing of a test run listens beyond loopback. Nothing else is changed:
the server's quirks (no MLSD, no STAT listing, no MFMT, no APPE, `LIST -a PATH` answered with
550, a STOR that arrives in the same write as its EPSV/PASV/PORT aborted with 426 and the file
left empty) are what the tests are for.

Started by .ci/servers.sh with the interpreter of a venv of the system Python.
"""

import os
import sys

from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.portal import Portal
from twisted.internet import reactor
from twisted.protocols.ftp import FTP, BaseFTPRealm, FTPFactory
from twisted.python import filepath, log

import ftpd_launch  # .ci/ftpd_launch.py, next to this script


class LoopbackFTP(FTP):
    def getDTPPort(self, factory, interface=""):
        return FTP.getDTPPort(self, factory, interface="127.0.0.1")


class OneFolderRealm(BaseFTPRealm):
    def __init__(self, root):
        BaseFTPRealm.__init__(self, root)
        self.root = filepath.FilePath(root)

    def getHomeDirectory(self, avatarId):
        return self.root


def main():
    a = ftpd_launch.arguments(__doc__)

    log.startLogging(sys.stdout)
    checker = InMemoryUsernamePasswordDatabaseDontUse()
    # The password comes from the environment, not the command line (which anybody can read).
    checker.addUser(a.user, os.environ.pop("FTPD_PASSWORD"))  # str: what Twisted decodes
    factory = FTPFactory(Portal(OneFolderRealm(a.root), [checker]))
    factory.protocol = LoopbackFTP
    factory.allowAnonymous = False
    factory.passivePortRange = a.passive_ports
    reactor.listenTCP(a.port, factory, interface=a.host)

    ftpd_launch.run_as(a.run_as)
    reactor.run()


if __name__ == "__main__":
    main()
