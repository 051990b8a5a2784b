"""The one way K2 reads a file it is given (topics.yaml, .avsc schemas, Pulumi.<stack>.yaml, stack outputs JSON):
a regular file only, bounded in size, decoded as UTF-8, every failure worded with the file (and line).

The file may come from a pull request, so nothing here may hang (a FIFO), exhaust memory (/dev/zero, a huge
file) or end in a traceback (a non-UTF-8 byte, a directory, a permission).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

KeyPath = tuple[str | int, ...]
MB = 1024 * 1024
EXCERPT = 80  # characters of a file's content an error may quote: enough to find it, not enough to leak it


class InputFileError(ValueError):
    """A file K2 reads is unusable: where (file, line, key path) and what to do."""

    def __init__(self, file: Path, line: int | None, message: str, path: KeyPath = ()):
        self.file, self.line, self.message, self.path = file, line, message, path
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")


class MissingFile(InputFileError):
    """The file does not exist: some callers treat that as "nothing set" rather than an error."""


def read_text(file: Path, limit: int) -> str:
    """The text of `file`: a regular file of at most `limit` bytes, in UTF-8."""
    data = read_bytes(file, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line, column = position(data, err.start)
        raise InputFileError(file, line, f"byte 0x{data[err.start]:02x} at column {column} is not UTF-8: "
                             "save the file as UTF-8") from None


def read_bytes(file: Path, limit: int) -> bytes:
    # stat before opening, so that opening never blocks (a FIFO) or touches a device; fstat after, in case the
    # path was swapped in between; O_NONBLOCK so that even then a FIFO's open returns at once.
    _check(file, _stat(file), limit)
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as err:
        raise _os_error(file, err) from None
    try:
        _check(file, os.fstat(fd), limit)
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(limit + 1)  # bounded even if the file grows while it is read
    except OSError as err:
        raise _os_error(file, err) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise _too_big(file, len(data), limit)
    return data


def _stat(file: Path) -> os.stat_result:
    try:
        return os.stat(file)
    except OSError as err:
        raise _os_error(file, err) from None
    except ValueError:  # a NUL byte in the name
        raise InputFileError(file, None, "cannot read the file: its name holds a NUL byte") from None


def _check(file: Path, status: os.stat_result, limit: int) -> None:
    if stat.S_ISDIR(status.st_mode):
        raise InputFileError(file, None, "is a directory, not a file")
    if not stat.S_ISREG(status.st_mode):
        raise InputFileError(file, None, "is not a regular file (a device, a pipe or a socket): K2 reads only "
                             "regular files")
    if status.st_size > limit:
        raise _too_big(file, status.st_size, limit)


def _too_big(file: Path, size: int, limit: int) -> InputFileError:
    return InputFileError(file, None, f"the file is {size / MB:.1f} MB; K2 reads at most {limit // MB} MB here")


def _os_error(file: Path, err: OSError) -> InputFileError:
    if isinstance(err, FileNotFoundError):
        return MissingFile(file, None, "file not found")
    if isinstance(err, IsADirectoryError):
        return InputFileError(file, None, "is a directory, not a file")
    return InputFileError(file, None, f"cannot read the file: {err.strerror or err}")


def position(data: bytes | str, offset: int) -> tuple[int, int]:
    """The 1-based line and column of `offset` in `data` (lines end at \\n)."""
    newline = b"\n" if isinstance(data, bytes) else "\n"
    start = data.rfind(newline, 0, offset) + 1  # type: ignore[arg-type]
    return data.count(newline, 0, offset) + 1, offset - start + 1  # type: ignore[arg-type]


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """At most `limit` characters of `text`, on one line: what an error may quote of a file."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
