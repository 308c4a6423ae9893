"""aioftp's server (asyncio) for the interoperability tests: one user, plain FTP only, on
127.0.0.1 with a passive range (aioftp binds passive ports to the control connection's local
address, so they stay on loopback); started as root, it binds and then runs as an unprivileged
user (its files are that user's). Serves until killed.

Nothing is tuned for ftpsync: aioftp has MLSD and LIST but no FEAT, no STAT, no NOOP, no way
to set modification times, which is what the tests are for.

Started by .ci/servers.sh with the interpreter of a venv of the system Python.
"""

import argparse
import asyncio
import logging
import os
import pwd

import aioftp


async def serve(a, password):
    lo, hi = (int(x) for x in a.passive.split("-"))
    user = aioftp.User(
        a.user,
        password,
        base_path=a.root,
        home_path="/",
        permissions=[aioftp.Permission("/", readable=True, writable=True)],
    )
    server = aioftp.Server([user], data_ports=range(lo, hi + 1))
    await server.start(host=a.host, port=a.port)

    who = pwd.getpwnam(a.run_as)
    os.setgroups([])
    os.setgid(who.pw_gid)
    os.setuid(who.pw_uid)
    os.umask(0o022)
    await server.serve_forever()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--passive", required=True, help="LO-HI")
    p.add_argument("--user", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--run-as", required=True)
    a = p.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    # The password comes from the environment, not the command line (which anybody can read).
    asyncio.run(serve(a, os.environ.pop("FTPD_PASSWORD")))


if __name__ == "__main__":
    main()
