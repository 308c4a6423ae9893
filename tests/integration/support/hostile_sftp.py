"""A hostile SFTP server for the tests (tests/integration/hostile_sftp.rs): a real SSH server
(asyncssh) whose SFTP subsystem serves an invented tree in memory and lies in every way a
server can. Nothing is read from or written to the server's disk.

Its folder /site lists, next to one valid file (ok.txt) and one valid folder (sub/ with
inner.txt):
  - names that are paths or climb out: "a/b.txt", "../escape.txt", "../../../../tmp/x",
    "/abs.txt", ".", "..";
  - names with control characters: ESC, BEL, CR, LF, NUL, DEL;
  - a 10,000-byte name, an empty name, a name that is not UTF-8;
  - huge sizes: 2**63-1 and 2**64-1 bytes (the content is a few bytes);
  - symbolic links: to itself ("loop"), to "..", to "/etc/passwd", and "cycle" and
    "sub/back", which a stat resolves to folders that contain themselves (a client following
    them never ends);
  - a file whose reads never end (stall.bin: each read waits; the client's timeout must end it).
Uploads are accepted into memory (so `sync` runs), renames and removes too.

    python3 hostile_sftp.py USER PASSWORD

Binds 127.0.0.1 on a free port and prints two lines on stdout: `PORT <n>` and the host key in
known_hosts form (`ssh-ed25519 AAAA...`); serves until killed or until stdin closes (so it
ends with the test that started it).
"""

import asyncio
import stat
import sys

import asyncssh
from asyncssh import SFTPAttrs, SFTPError, SFTPName

MTIME = 1614834367  # 2021-03-04 05:06:07 UTC
VALID = b"valid content\n"
INNER = b"inner content\n"

FILE, DIR, LINK = stat.S_IFREG | 0o644, stat.S_IFDIR | 0o755, stat.S_IFLNK | 0o777


def entries():
    """name -> (mode, size as listed, content, link target) of /site."""
    files = {
        b"ok.txt": (FILE, len(VALID), VALID, None),
        b"a/b.txt": (FILE, 5, b"slash", None),
        b"../escape.txt": (FILE, 7, b"escaped", None),
        b"../../../../tmp/ftpsync-hostile-sftp-escape": (FILE, 7, b"escaped", None),
        b"/abs.txt": (FILE, 3, b"abs", None),
        b".": (FILE, 3, b"dot", None),
        b"..": (DIR, 0, None, None),
        b"esc\x1b[31mred.txt": (FILE, 3, b"esc", None),
        b"bel\x07.txt": (FILE, 3, b"bel", None),
        b"cr\rname.txt": (FILE, 2, b"cr", None),
        b"lf\nname.txt": (FILE, 2, b"lf", None),
        b"nul\x00name.txt": (FILE, 3, b"nul", None),
        b"del\x7f.txt": (FILE, 3, b"del", None),
        b"x" * 10_000: (FILE, 4, b"long", None),
        b"": (FILE, 5, b"empty", None),
        b"latin1-caf\xe9.txt": (FILE, 6, b"latin1", None),
        b"huge63.bin": (FILE, 2**63 - 1, b"short", None),
        b"huge64.bin": (FILE, 2**64 - 1, b"short", None),
        b"loop": (LINK, 4, None, b"loop"),
        b"up": (LINK, 2, None, b".."),
        b"passwd": (LINK, 11, None, b"/etc/passwd"),
        b"cycle": (LINK, 1, None, b"."),
        b"stall.bin": (FILE, 1000, b"", None),
        b"sub": (DIR, 0, None, None),
    }
    return files


SUB = {
    b"inner.txt": (FILE, len(INNER), INNER, None),
    b"back": (LINK, 5, None, b"/site"),
}


class Tree:
    """The invented tree, and what clients uploaded (kept in memory)."""

    def __init__(self):
        self.folders = {b"/": {b"site": (DIR, 0, None, None)}, b"/site": entries(), b"/site/sub": SUB}

    def split(self, path):
        path = b"/" + path.strip(b"/")
        parent, _, name = path.rpartition(b"/")
        return (parent or b"/"), name

    def resolve(self, path, depth=0):
        """(folder path, entry) for a path, following links like a server would: "cycle" and
        "sub/back" resolve to folders containing themselves; "loop" never resolves."""
        if depth > 40:
            raise SFTPError(asyncssh.FX_FAILURE, "Too many levels of symbolic links")
        path = b"/" + path.strip(b"/")
        if path == b"/":
            return b"/", (DIR, 0, None, None)
        # A path through "cycle" or "back" is the folder it points to, however deep.
        for hop, target in ((b"/site/cycle", b"/site"), (b"/site/sub/back", b"/site")):
            if path == hop or path.startswith(hop + b"/"):
                return self.resolve(target + path[len(hop):], depth + 1)
        parent, name = self.split(path)
        folder = self.folders.get(parent)
        if folder is None or name not in folder:
            raise SFTPError(asyncssh.FX_NO_SUCH_FILE, "No such file")
        entry = folder[name]
        if entry[0] == LINK:
            if entry[3] == b"loop":
                raise SFTPError(asyncssh.FX_FAILURE, "Too many levels of symbolic links")
            target = entry[3] if entry[3].startswith(b"/") else parent + b"/" + entry[3]
            return self.resolve(target, depth + 1)
        return path, entry


TREE = Tree()


def attrs(entry):
    mode, size, _, _ = entry
    return SFTPAttrs(type=None, size=size, uid=1000, gid=1000, permissions=mode, atime=MTIME, mtime=MTIME)


class HostileSFTP(asyncssh.SFTPServer):
    def realpath(self, path):
        return b"/" + path.strip(b"/") if path not in (b"", b".") else b"/"

    def lstat(self, path):
        parent, name = TREE.split(path)
        folder = TREE.folders.get(parent)
        if folder is not None and name in folder:
            return attrs(folder[name])
        return attrs(TREE.resolve(path)[1])

    def stat(self, path):
        return attrs(TREE.resolve(path)[1])

    async def scandir(self, path):
        real, entry = TREE.resolve(path)
        if entry[0] != DIR:
            raise SFTPError(asyncssh.FX_NO_SUCH_FILE, "Not a folder")
        for name, e in list(TREE.folders.get(real, {}).items()):
            yield SFTPName(name, b"-rw-r--r-- 1 u g 0 Mar 4 2021 " + name, attrs(e))

    def readlink(self, path):
        parent, name = TREE.split(path)
        entry = TREE.folders.get(parent, {}).get(name)
        if entry is None or entry[0] != LINK:
            raise SFTPError(asyncssh.FX_NO_SUCH_FILE, "Not a link")
        return entry[3]

    def open(self, path, pflags, attrs_):
        if pflags & asyncssh.FXF_WRITE:
            parent, name = TREE.split(path)
            if parent not in TREE.folders:
                raise SFTPError(asyncssh.FX_NO_SUCH_FILE, "No such folder")
            TREE.folders[parent][name] = (FILE, 0, b"", None)
            return ("w", parent, name)
        real, entry = TREE.resolve(path)
        if entry[0] != FILE:
            raise SFTPError(asyncssh.FX_FAILURE, "Is a folder")
        return ("r", real, entry)

    async def read(self, handle, offset, size):
        kind, real, entry = handle
        if real.endswith(b"/stall.bin"):
            await asyncio.sleep(3600)
        data = entry[2][offset:offset + size]
        if not data:
            raise SFTPError(asyncssh.FX_EOF, "")
        return data

    def write(self, handle, offset, data):
        _, parent, name = handle
        mode, _, content, _ = TREE.folders[parent][name]
        content = content[:offset].ljust(offset, b"\0") + data + content[offset + len(data):]
        TREE.folders[parent][name] = (mode, len(content), content, None)
        return len(data)

    def fstat(self, handle):
        if handle[0] == "w":
            return attrs(TREE.folders[handle[1]][handle[2]])
        return attrs(handle[2])

    def close(self, handle):
        pass

    def setstat(self, path, attrs_):
        TREE.resolve(path)

    def fsetstat(self, handle, attrs_):
        pass

    def mkdir(self, path, attrs_):
        parent, name = TREE.split(path)
        if parent not in TREE.folders:
            raise SFTPError(asyncssh.FX_NO_SUCH_FILE, "No such folder")
        TREE.folders[parent][name] = (DIR, 0, None, None)
        TREE.folders[b"/" + path.strip(b"/")] = {}

    def remove(self, path):
        parent, name = TREE.split(path)
        if TREE.folders.get(parent, {}).pop(name, None) is None:
            raise SFTPError(asyncssh.FX_NO_SUCH_FILE, "No such file")

    def rmdir(self, path):
        parent, name = TREE.split(path)
        TREE.folders.get(parent, {}).pop(name, None)
        TREE.folders.pop(b"/" + path.strip(b"/"), None)

    def rename(self, old, new):
        op, on = TREE.split(old)
        np, nn = TREE.split(new)
        if nn in TREE.folders.get(np, {}):
            raise SFTPError(asyncssh.FX_FAILURE, "Exists")
        self.posix_rename(old, new)

    def posix_rename(self, old, new):
        op, on = TREE.split(old)
        np, nn = TREE.split(new)
        entry = TREE.folders.get(op, {}).pop(on, None)
        if entry is None or np not in TREE.folders:
            raise SFTPError(asyncssh.FX_NO_SUCH_FILE, "No such file")
        TREE.folders[np][nn] = entry


class Server(asyncssh.SSHServer):
    def __init__(self, user, password):
        self.user, self.password = user, password

    def begin_auth(self, username):
        return True

    def password_auth_supported(self):
        return True

    def validate_password(self, username, password):
        return username == self.user and password == self.password


async def main(user, password):
    key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.listen(
        "127.0.0.1", 0, server_host_keys=[key], server_factory=lambda: Server(user, password),
        sftp_factory=HostileSFTP, allow_scp=False, login_timeout=30)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    print(key.export_public_key("openssh").decode().strip(), flush=True)
    # Ends when the test that started it closes our stdin (or dies).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
