"""aioftp's server (asyncio) for the interoperability tests: one user, plain FTP only, on
127.0.0.1 with a passive range (aioftp binds passive ports to the control connection's local
address, so they stay on loopback); started as root, it binds and then runs as an unprivileged
user (its files are that user's). Serves until killed.

Nothing is tuned for ftpsync: aioftp has MLSD and LIST but no FEAT, no STAT, no NOOP, no way
to set modification times, which is what the tests are for.

Started by .ci/servers.sh with the interpreter of a venv of the system Python.
"""

import asyncio
import logging
import os

import aioftp

import ftpd_launch  # .ci/ftpd_launch.py, next to this script


async def serve(a, password):
    user = aioftp.User(
        a.user,
        password,
        base_path=a.root,
        home_path="/",
        permissions=[aioftp.Permission("/", readable=True, writable=True)],
    )
    server = aioftp.Server([user], data_ports=a.passive_ports)
    await server.start(host=a.host, port=a.port)

    ftpd_launch.run_as(a.run_as)
    await server.serve_forever()


def main():
    a = ftpd_launch.arguments(__doc__)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    # The password comes from the environment, not the command line (which anybody can read).
    asyncio.run(serve(a, os.environ.pop("FTPD_PASSWORD")))


if __name__ == "__main__":
    main()
