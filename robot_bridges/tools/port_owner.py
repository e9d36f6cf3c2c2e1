"""
Which program holds a TCP port: Linux's /proc, read the way ``ss -ltnp`` reads it.

The kernel lists every socket of this network namespace in ``/proc/net/tcp`` and
``/proc/net/tcp6`` with its state, owner's uid and inode; a process holds the socket whose
inode one of its ``/proc/<pid>/fd/*`` links names (``socket:[inode]``). Another user's
descriptors cannot be read: then only the uid is known, and :func:`describe_holders` says so.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
import errno
import os
from pathlib import Path
import pwd
import re
import socket

LISTEN = '0A'  # the kernel's TCP_LISTEN, as /proc/net/tcp writes it
MAX_COMMAND_LINE = 120
_SECRET = r'[\w-]*(?:token|key|secret|password)[\w-]*'
SECRET_OPTION = re.compile(rf'--{_SECRET}', re.IGNORECASE)  # its value is the next argument
SECRET_ASSIGNMENT = re.compile(rf'^(-*{_SECRET}(?::=|=)).*$', re.IGNORECASE)


@dataclass(frozen=True)
class ListeningSocket:
    """A socket in LISTEN state on the port asked about."""

    inode: int
    uid: int


@dataclass(frozen=True)
class Holder:
    """A process that has a listening socket open (one of several after a fork)."""

    pid: int
    comm: str
    argv: tuple[str, ...]

    def command_line(self, limit: int = MAX_COMMAND_LINE) -> str:
        """Return the command line on one line, cut at ``limit``, secret-looking values ***."""
        shown: list[str] = []
        for arg in self.argv:
            secret_value = bool(shown) and SECRET_OPTION.fullmatch(shown[-1]) is not None
            shown.append('***' if secret_value else SECRET_ASSIGNMENT.sub(r'\1***', arg))
        text = ' '.join(' '.join(shown).split())  # a script given with -c has newlines
        return text if len(text) <= limit else text[:limit - 3] + '...'


def port_is_free(port: int, host: str = '127.0.0.1') -> bool:
    """
    Return whether a server could listen on ``host:port`` now.

    Binds with SO_REUSEADDR, as asyncio's servers do, so that connections of a server that
    just stopped (TIME_WAIT) do not count; the answer can be stale a moment later.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def parse_listening(table: str, port: int) -> list[ListeningSocket]:
    """Return the LISTEN sockets on ``port`` in the text of a /proc/net/tcp{,6} table."""
    found = []
    for line in table.splitlines()[1:]:  # the first line names the columns
        fields = line.split()
        if len(fields) < 10 or fields[3] != LISTEN:
            continue
        local_port = int(fields[1].rsplit(':', 1)[1], 16)
        if local_port == port:
            found.append(ListeningSocket(inode=int(fields[9]), uid=int(fields[7])))
    return found


def listening_sockets(port: int, proc: Path = Path('/proc')) -> list[ListeningSocket]:
    """Return every socket listening on TCP ``port`` (IPv4 and IPv6) in this namespace."""
    found = []
    for name in ('tcp', 'tcp6'):
        try:
            found += parse_listening((proc / 'net' / name).read_text(), port)
        except OSError:
            continue  # no IPv6 in this kernel, or no /proc at all
    return found


def holders(inodes: set[int], proc: Path = Path('/proc')) -> list[Holder]:
    """Return the processes that have a socket with one of ``inodes`` open, if readable."""
    links = {f'socket:[{inode}]' for inode in inodes}
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        if links.isdisjoint(fd_links(entry)):
            continue
        try:
            comm = (entry / 'comm').read_text().strip()
            argv = (entry / 'cmdline').read_bytes().decode(errors='replace').split('\0')
        except OSError:
            continue  # exited meanwhile
        found.append(Holder(pid=int(entry.name), comm=comm, argv=tuple(a for a in argv if a)))
    return found


def fd_links(process: Path) -> set[str]:
    """Return what the open descriptors of a /proc/<pid> entry point to (none if unreadable)."""
    found = set()
    try:
        for fd in (process / 'fd').iterdir():
            with contextlib.suppress(OSError):  # closed meanwhile
                found.add(os.readlink(fd))
    except OSError:
        pass  # another user's process, or one that exited
    return found


def describe_holders(port: int, proc: Path = Path('/proc')) -> str:
    """Say which program holds ``port``, or why that cannot be told."""
    sockets = listening_sockets(port, proc)
    if not sockets:
        return 'no listening socket on it is visible here, so the program cannot be told'
    found = holders({s.inode for s in sockets}, proc)
    if found:
        return '; '.join(f'held by {h.comm} (pid {h.pid}: {h.command_line()})' for h in found)
    users = ', '.join(sorted({user_name(s.uid) for s in sockets}))
    return (f'held by a process of user {users}, whose processes this user cannot inspect '
            '(so not which program)')


def user_name(uid: int) -> str:
    """Return the login name of ``uid``, or the number when it has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
