"""jaxmlp reads and writes regular files only: never a FIFO, a device, a socket or a folder.

Without this rule, saving to ``/dev/null`` as root replaced the device node with a
regular file for every process on the machine (``os.replace`` renames over whatever
the name points at), and loading a FIFO blocked forever in ``open``. The two
functions here are the one check, used by every reader and by
:func:`jaxmlp.checkpoint.atomic_write`.
"""

from __future__ import annotations

import io
import os
import stat

from jaxmlp._safetensors import FileFormatError

__all__ = ["check_destination", "kind_of", "open_for_reading"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def kind_of(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, in words.

    >>> kind_of(os.stat("/dev/null").st_mode), kind_of(os.stat(__file__).st_mode)
    ('a character device', 'a regular file')
    """
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def check_destination(path: str | os.PathLike) -> None:
    """Raises ``ValueError`` when ``path`` exists (after symlinks) and is not a regular file.

    >>> check_destination("/dev/null")
    Traceback (most recent call last):
    ...
    ValueError: '/dev/null' is a character device; jaxmlp writes only regular files
    """
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except OSError:  # missing (the write creates it), or a symlink loop: the write reports it
        return
    if not stat.S_ISREG(mode):
        raise ValueError(f"{path!r} is {kind_of(mode)}; jaxmlp writes only regular files")


def open_for_reading(path: str | os.PathLike) -> io.BufferedReader:
    """Opens ``path`` for binary reading if it is a regular file; never blocks on a FIFO.

    The file is opened non-blocking and checked with ``fstat`` on the open descriptor,
    so a FIFO or device is refused without waiting for a writer.

    Raises:
      FileNotFoundError: no file at ``path``.
      FileFormatError: ``path`` is a directory, FIFO, device or socket (a ``ValueError``).
    """
    path = os.fspath(path)
    if os.path.isdir(path):  # opening a directory O_RDONLY succeeds: say what it is
        raise FileFormatError(f"{path!r} is a directory, not a regular file")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {path!r}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FileFormatError(f"{path!r} is {kind_of(mode)}; jaxmlp reads only regular files")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return io.BufferedReader(io.FileIO(fd, "rb"))
    except BaseException:
        os.close(fd)
        raise
