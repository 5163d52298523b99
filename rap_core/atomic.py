"""Atomic file writes, and the one guard on where we may write.

A write goes to a temp file in the target's directory, is fsynced and renamed over the target, so
a crash, SIGHUP, kill -9 or full disk at any point leaves either the old file or the new one, never
a half-written mix. The directory is fsynced too, so the rename itself survives a power loss.

Every file RAP Studio writes (prior, session, fit cache, demo data, the patched gpt.py) goes
through here, so the rules below hold everywhere:
- `check_output_path` runs before any work: the target must be a regular file or a new name. A
  directory, FIFO, device node or socket is refused (a rename would replace `/dev/null` with a
  regular file); a read-only file is refused, never silently replaced; a target that is (or
  hard-links to) one of the caller's inputs (data, session, cache entry) is refused, because the
  rename would destroy the input the output is computed from.
- A symlink is written *through*: the file it points at is replaced, the link stays a link.
- Temp names are `.<name>.<8 random>.tmp`, with `<name>` shortened so the whole stays within the
  filesystem's name limit (a 253-character output name is legal; its temp name must be too).
- The writer holds an flock on its temp file while writing. Temp files of our pattern for the same
  target whose lock nobody holds were left by a killed writer: the next write removes them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from rap_core.errors import RapError

_TEMP_SUFFIX = ".tmp"
_RANDOM_CHARS = 8  # what tempfile.mkstemp puts between prefix and suffix
_DEFAULT_NAME_MAX = 255


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *,
                       inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """Write `data` to `path` atomically; returns the path written (a symlink's target).

    Raises RapError when the path may not be written (see `check_output_path`) and OSError when
    the disk refuses (full, read-only filesystem); either way the old file is untouched.
    """
    target = check_output_path(path, inputs=inputs)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=_TEMP_SUFFIX,
                                   dir=target.parent)
    except OSError as exc:  # name the file the user asked for, not our temporary's name
        raise OSError(exc.errno, exc.strerror, str(target)) from None
    try:
        # Held until the rename: a cleaner sees a live writer and leaves this file alone.
        fcntl.flock(fd, fcntl.LOCK_EX)
        # mkstemp makes 0600 files; give the result the mode a plain open() would have.
        os.fchmod(fd, _default_mode(target))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            os.replace(tmp, target)  # inside the with: the lock is released after the rename
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)
    return target


def write_text_atomic(path: str | os.PathLike, text: str, *,
                      inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"), inputs=inputs)


def check_output_path(path: str | os.PathLike,
                      inputs: Iterable[str | os.PathLike | None] = (), *,
                      example: str = "rap_prior.pt") -> Path:
    """The path a write to `path` will replace (a symlink resolved), or RapError (one line).

    Cheap (a few stat calls): callers run it before any fitting so a bad --out costs nothing.
    `inputs` are files the output is computed from; None entries and missing files are skipped.
    """
    if str(path).strip() == "":
        raise RapError("the output path is empty; give a file name such as rap_prior.pt")
    given = Path(path)
    try:
        linked = stat.S_ISLNK(os.lstat(given).st_mode)
    except FileNotFoundError:
        linked = False
    except OSError as exc:  # ENAMETOOLONG, ELOOP, EACCES on a parent...
        raise RapError(f"cannot write {given}: {exc.strerror or exc}; choose another path") \
            from None
    target = Path(os.path.realpath(given)) if linked else given
    shown = str(given) if target == given else f"{given} (a link to {target})"
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise RapError(f"cannot write {shown}: {exc.strerror or exc}; choose another path") \
            from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise RapError(f"{shown} is a directory; give a file path inside it, such as "
                           f"{given / example}")
        if not stat.S_ISREG(st.st_mode):
            raise RapError(f"{shown} is {file_kind(st.st_mode)}, not a regular file; refusing to "
                           f"replace it; choose another path")
        if not st.st_mode & 0o222 or not os.access(target, os.W_OK):
            raise RapError(f"{shown} is read-only; not overwriting it (make it writable "
                           f"first, or choose another path)")
        same = _same_input(st, inputs)
        if same is not None:
            which = "" if Path(same) == given else f" ({same})"
            raise RapError(f"{shown} is the input{which} of this command; writing there would "
                           f"destroy it; choose another output path")
    _check_directory(target.parent, shown)
    if len(os.fsencode(target.name)) > _name_max(target.parent):
        raise RapError(f"{shown}: the file name is longer than this filesystem allows "
                       f"({_name_max(target.parent)} bytes); choose a shorter name")
    return target


def check_regular_input(path: str | os.PathLike, what: str) -> Path:
    """`path` if it is a regular file (following symlinks), else RapError naming `what`.

    Opening a FIFO blocks until a writer appears, and a device can stream forever: inputs are
    checked with stat (which never blocks) before anything opens them.
    """
    file = Path(path)
    try:
        st = os.stat(file)
    except FileNotFoundError:
        raise RapError(f"{what} {file}: no such file; check the path") from None
    except OSError as exc:
        raise RapError(f"{what} {file}: cannot read it ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise RapError(f"{what} {file} is a directory; give a file")
    if not stat.S_ISREG(st.st_mode):
        raise RapError(f"{what} {file} is {file_kind(st.st_mode)}, not a regular file; "
                       f"give a regular file")
    return file


def clean_stale_temporaries(target: Path) -> list[Path]:
    """Remove temp files of our pattern for `target` whose writer is gone; returns them."""
    pattern = re.compile(re.escape(_temp_prefix(target)) + rf"[A-Za-z0-9_]{{{_RANDOM_CHARS}}}"
                         + re.escape(_TEMP_SUFFIX) + r"\Z")
    removed = []
    try:
        names = os.listdir(target.parent)
    except OSError:
        return removed
    for name in names:
        if pattern.match(name) and _remove_if_abandoned(target.parent / name):
            removed.append(target.parent / name)
    return removed


def _remove_if_abandoned(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a live writer holds it
        with contextlib.suppress(OSError):
            os.unlink(path)
            return True
        return False
    finally:
        os.close(fd)


def _temp_prefix(target: Path) -> str:
    """`.<name>.`, with <name> cut so prefix + random + suffix fit the name limit."""
    room = _name_max(target.parent) - 2 - _RANDOM_CHARS - len(_TEMP_SUFFIX)
    name = os.fsencode(target.name)[:room].decode("utf-8", "ignore")
    return f".{name}."


def _name_max(directory: Path) -> int:
    probe = directory
    while True:
        try:
            return int(os.pathconf(probe, "PC_NAME_MAX"))
        except (OSError, ValueError):
            if probe.parent == probe:
                return _DEFAULT_NAME_MAX
            probe = probe.parent


def _check_directory(directory: Path, shown: str) -> None:
    """The nearest existing ancestor must be a writable directory (we create the rest)."""
    probe = directory if str(directory) else Path(".")
    while not probe.exists():
        if probe.is_symlink():
            raise RapError(f"cannot write {shown}: {probe} is a broken link")
        probe = probe.parent
    if not probe.is_dir():
        raise RapError(f"cannot write {shown}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise RapError(f"cannot write {shown}: the directory {probe} is not writable; "
                       f"choose another path")


def _same_input(st: os.stat_result, inputs) -> str | None:
    for item in inputs:
        if item is None:
            continue
        try:
            other = os.stat(item)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            return str(item)
    return None


def file_kind(mode: int) -> str:
    """What a non-regular, non-directory file is, for a message ("a FIFO (named pipe)")."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _default_mode(target: Path) -> int:
    """Keep an existing file's mode; otherwise 0666 less the umask, as open() would."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets us open a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
