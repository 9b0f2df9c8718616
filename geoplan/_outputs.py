"""Output sets: every file of a command planned, checked, locked, staged and committed all-or-nothing.

A command that writes several files plans them as one :class:`OutputSet` first
(:func:`plan_outputs`): every target is checked before anything is computed or replaced (not a
folder, not one of the inputs, not inside the input layer folder, writable), then the files are
written into a staging folder unique to the run, under a per-folder lock, and committed
all-or-nothing: if a rename fails, the files already replaced are restored from backups. Each
file is read back whole before the commit (:func:`geoplan._io.verify_file`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from geoplan._errors import OutputError
from geoplan._io import error_reason, verify_file

try:  # POSIX advisory locks; elsewhere an O_EXCL lock file holding the pid
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "STAGING_PREFIX", "LOCK_WAIT_S", "OutputSet", "plan_outputs"]

_log = logging.getLogger("geoplan")

#: Name of the lock file a writer holds in an output folder while it writes there.
LOCK_NAME = ".geoplan.lock"
#: Prefix of the staging folders (one per run and output folder, removed when it ends).
STAGING_PREFIX = ".geoplan-staging-"
#: Seconds a writer waits for another one to finish with the same output folder.
LOCK_WAIT_S = 60.0


def _nearest_existing(path: Path) -> Path:
    return next(p for p in (path, *path.parents) if os.path.lexists(p))


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


class OutputSet:
    """Output files planned together: checked before anything is written, committed all-or-nothing.

    Build one with :func:`plan_outputs`; write the files with :meth:`writing`.

    Attributes
    ----------
    targets
        The final paths, in commit order.
    remove
        Files to delete at commit if they exist (an output of an earlier run that this one
        does not produce, so a folder never mixes two runs).
    subfolders
        Output folders replaced as a whole (e.g. ``profiles/``, one file per town): the new
        folder is renamed in after the files, the previous one kept as a backup until the
        commit succeeds.
    """

    def __init__(self, targets: Sequence[Path], *, remove: Sequence[Path] = (),
                 folders: Sequence[Path] = ()) -> None:
        self.targets = list(targets)
        self.remove = list(remove)
        self.subfolders = list(folders)
        self.folders = sorted({t.parent for t in [*self.targets, *self.remove, *self.subfolders]},
                              key=lambda p: str(_real(p)))

    @contextlib.contextmanager
    def writing(self, *, lock_wait_s: float | None = None) -> Iterator[_Staging]:
        """Create the folders, lock them, yield a staging area; commit when the block succeeds.

        Every file the block writes goes to ``staging.path(target)``. When the block ends
        without error, every target must have been written and read back whole
        (:func:`verify_file`); then each is renamed onto its target. If a rename fails, the
        targets already replaced are restored from backups and nothing of this run remains.
        The block failing, or the commit failing, leaves the previous outputs as they were and
        removes every folder this call created.

        Parameters
        ----------
        lock_wait_s
            Seconds to wait for another geoplan process writing into the same folder
            (default :data:`LOCK_WAIT_S`).

        Raises
        ------
        OutputError
            When a folder cannot be created or locked, a write fails, a file does not read
            back or the commit fails (with the previous outputs restored).
        """
        wait = LOCK_WAIT_S if lock_wait_s is None else lock_wait_s
        created: list[Path] = []
        locks: list[_FolderLock] = []
        stagings: dict[Path, Path] = {}
        committed = False
        keep_staging = False
        try:
            for folder in self.folders:
                missing = [p for p in (folder, *folder.parents) if not os.path.lexists(p)]
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise OutputError(f"{folder}: cannot create the output folder ({error_reason(exc)})",
                                      fix="pass a folder you can write to", path=folder) from exc
                created.extend(missing)
                lock = _FolderLock(folder)
                lock.acquire(wait)
                locks.append(lock)
                # Left by a killed run: it held the lock we now hold, so nothing else uses them.
                for stale in folder.glob(f"{STAGING_PREFIX}*"):
                    shutil.rmtree(stale, ignore_errors=True)
                stagings[folder] = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
            staging = _Staging(self, stagings)
            try:
                yield staging
            except OutputError as exc:
                raise staging.rename_error(exc) from exc
            except (OSError, sqlite3.Error) as exc:
                raise OutputError(f"cannot write outputs: {staging.final_name(exc)}{error_reason(exc)}",
                                  fix="check that the output folder is writable and the disk is not full") from exc
            keep_staging = not _commit(staging.pairs(), self.remove, stagings, staging.folder_pairs())
            committed = True
        finally:
            if not keep_staging:
                for tmp in stagings.values():
                    shutil.rmtree(tmp, ignore_errors=True)
            for lock in reversed(locks):
                lock.release()
            if not committed:
                for folder in sorted(created, key=lambda p: len(p.parts), reverse=True):
                    with contextlib.suppress(OSError):
                        folder.rmdir()  # only while empty: never anything else put there


class _Staging:
    """Where the files of an output set are written before the commit."""

    def __init__(self, plan: OutputSet, stagings: dict[Path, Path]) -> None:
        self.plan = plan
        self.stagings = stagings
        self._staged = {stagings[t.parent] / t.name: t for t in plan.targets}

    def path(self, target: str | os.PathLike[str]) -> Path:
        """Return the staging path of a planned target (write the file there)."""
        t = Path(target)
        if t not in self.plan.targets and t not in self.plan.subfolders:
            raise ValueError(f"{t} is not a planned output")  # a bug in geoplan, not bad input
        return self.stagings[t.parent] / t.name

    def scratch(self, name: str) -> Path:
        """Return a path for an intermediate file that is not committed (removed with the staging folder)."""
        return next(iter(self.stagings.values())) / f".scratch-{name}"

    def pairs(self) -> list[tuple[Path, Path]]:
        return [(self.path(t), t) for t in self.plan.targets]

    def folder_pairs(self) -> list[tuple[Path, Path]]:
        return [(self.path(t), t) for t in self.plan.subfolders]

    def final_name(self, exc: BaseException) -> str:
        name = getattr(exc, "filename", None) or getattr(exc, "path", None)
        if name is None:
            return ""
        p = Path(str(name))
        for staged, target in self._staged.items():
            if p == staged or (p.parent == staged.parent and p.name.startswith(f".{staged.stem}.")):
                return f"{target}: "
        return f"{p}: "

    def rename_error(self, exc: OutputError) -> OutputError:
        """Return the same error naming the final file instead of its staging path."""
        where = self.final_name(exc)
        message = exc.message
        if exc.path is not None and message.startswith(str(exc.path)):
            message = message[len(str(exc.path)):].lstrip(": ").removeprefix("cannot write: ")
        prefix = "" if message.startswith("cannot write outputs") else "cannot write outputs: "
        return OutputError(f"{prefix}{where}{message}", fix=exc.fix, path=exc.path)


def _commit(pairs: list[tuple[Path, Path]], remove: list[Path], stagings: dict[Path, Path],
            folders: Sequence[tuple[Path, Path]] = ()) -> bool:
    """Verify the staged files, then rename them in; on failure restore what was replaced.

    Returns False when even the restore failed (the staging folder, holding the backups, is
    then kept and named in the error).
    """
    for src, dst in pairs:
        verify_file(src, label=dst)
    for src, dst in folders:
        if not src.is_dir():
            raise OutputError(f"{dst}: the output folder was not written", fix="run again", path=dst)
        for f in sorted(src.rglob("*")):
            if f.is_file():
                verify_file(f, label=dst / f.relative_to(src))
    done: list[tuple[Path, Path | None]] = []
    current = None
    try:
        for src, dst in pairs:
            current = dst
            backup = None
            if os.path.lexists(dst):
                backup = stagings[dst.parent] / f".backup-{dst.name}"
                try:
                    os.link(dst, backup)  # the old file stays in place until the rename
                except OSError:
                    shutil.copy2(dst, backup)
            os.replace(src, dst)
            done.append((dst, backup))
        for src, dst in folders:
            current = dst
            backup = None
            if os.path.lexists(dst):
                backup = stagings[dst.parent] / f".backup-{dst.name}"
                os.replace(dst, backup)  # a folder cannot be renamed over a full one: move it aside
                done.append((dst, backup))
            os.replace(src, dst)
            if backup is None:
                done.append((dst, None))
        for dst in remove:
            current = dst
            if os.path.lexists(dst):
                backup = stagings[dst.parent] / f".backup-{dst.name}"
                os.replace(dst, backup)
                done.append((dst, backup))
    except OSError as exc:
        failed: list[str] = []
        for dst, backup in reversed(done):
            try:
                if os.path.isdir(dst) and not os.path.islink(dst):
                    shutil.rmtree(dst)  # a new output folder (an old one is back from its backup next)
                if backup is not None:
                    os.replace(backup, dst)
                elif os.path.lexists(dst):
                    os.unlink(dst)
            except OSError:
                failed.append(str(dst))
        if failed:
            kept = ", ".join(str(s) for s in stagings.values())
            raise OutputError(f"cannot write outputs: {current}: {error_reason(exc)}; could not restore "
                              f"{', '.join(failed)} (the previous versions are in {kept})",
                              fix="copy the previous versions back from that folder, free the disk, run again",
                              path=current) from exc
        raise OutputError(f"cannot write outputs: {current}: {error_reason(exc)}; nothing was replaced (the outputs "
                          "already renamed in were restored)",
                          fix="close programs that hold the file open (Excel, QGIS), check permissions and free "
                              "disk space, then run again", path=current) from exc
    return True


class _FolderLock:
    """An exclusive lock on an output folder: ``.geoplan.lock`` holding the writer's pid."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self.fd: int | None = None

    def _holder(self) -> str:
        try:
            pid = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            pid = ""
        return f"pid {pid}" if pid else "another process"

    def acquire(self, wait_s: float) -> None:
        deadline = time.monotonic() + max(0.0, wait_s)
        told = False
        while True:
            try:
                got = self._try()
            except OSError as exc:
                raise OutputError(f"{self.path.parent}: cannot lock the output folder ({error_reason(exc)})",
                                  fix="pass a folder you can write to", path=self.path.parent) from exc
            if got:
                return
            if time.monotonic() >= deadline:
                raise OutputError(f"{self.path.parent}: another geoplan process ({self._holder()}) is writing "
                                  f"outputs into this folder", fix="wait for it to finish or write to another "
                                  f"folder; if no geoplan process is running, delete {self.path}",
                                  path=self.path.parent)
            if not told:
                _log.warning("%s: waiting for %s to finish writing", self.path.parent, self._holder())
                told = True
            time.sleep(0.05)

    def _try(self) -> bool:
        if fcntl is None:  # pragma: no cover - Windows
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            os.write(fd, f"{os.getpid()}\n".encode())
            self.fd = fd
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        try:
            same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the holder removed the file between our open and our lock
            os.close(fd)
            return self._try()
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self.fd)
        self.fd = None


def plan_outputs(
    targets: Iterable[str | os.PathLike[str]],
    *,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    remove: Iterable[str | os.PathLike[str]] = (),
    folders: Iterable[str | os.PathLike[str]] = (),
) -> OutputSet:
    """Check every output of a command before anything is computed or replaced.

    Parameters
    ----------
    targets
        The files the command will write.
    inputs
        Files and folders the command reads (layer sets, scenarios): no target may be one of
        them or lie inside an input folder.
    remove
        Files to delete at commit (outputs of an earlier run this one does not produce).
    folders
        Output folders replaced as a whole (see :class:`OutputSet`); an existing one must be a
        folder.

    Returns
    -------
    OutputSet

    Raises
    ------
    OutputError
        Naming the target and the fix: a target that is a folder or a special file (FIFO,
        device), one of the inputs, inside an input folder, not writable, or whose folder
        cannot be created.
    """
    paths = [Path(t) for t in targets]
    gone = [Path(r) for r in remove]
    ins = [_real(Path(i)) for i in inputs if i is not None]
    seen: set[Path] = set()
    for t in [*paths, *gone]:
        try:
            _check_target(t, ins, removing=t in gone)
        except OSError as exc:  # e.g. a name too long for the file system
            raise OutputError(f"{t}: not a usable output path ({error_reason(exc)})",
                              fix="pass a shorter path in a folder you can write to", path=t) from None
        real = _real(t)
        if real in seen and t in paths:
            raise OutputError(f"{t}: named twice among the outputs", fix="give each output its own name", path=t)
        seen.add(real)
    subs = [Path(f) for f in folders]
    for f in subs:
        try:
            if os.path.lexists(f) and not f.is_dir():
                raise OutputError(f"{f}: is a file where the output folder {f.name}/ goes",
                                  fix="remove or rename that file, or choose another output folder", path=f)
            _check_target(f / "x", ins, removing=True)
        except OSError as exc:
            raise OutputError(f"{f}: not a usable output folder ({error_reason(exc)})",
                              fix="pass a folder you can write to", path=f) from None
    return OutputSet(paths, remove=gone, folders=subs)


def _check_target(t: Path, inputs: list[Path], *, removing: bool) -> None:
    fix_folder = "choose an output folder outside the input layers (e.g. out/)"
    for p in (t, *t.parents):
        try:
            os.lstat(p)  # raises on an unusable name (too long, a file in the middle of the path)
            break
        except FileNotFoundError:
            continue
        except NotADirectoryError:
            break  # reported below: a file where a folder should be
    real = _real(t)
    for i in inputs:
        if real == i:
            raise OutputError(f"{t}: is one of the inputs; writing there would destroy it",
                              fix="choose another output name", path=t)
        if os.path.isdir(i) and _inside(real, i):
            raise OutputError(f"{t.parent}: is inside the input folder {i}; writing there would mix outputs "
                              "with the input layers (or overwrite them)", fix=fix_folder, path=t)
    if os.path.lexists(t):
        st = os.stat(t) if os.path.exists(t) else os.lstat(t)
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"{t}: is an existing folder; an output file cannot replace it",
                              fix=f"name the output file itself (e.g. {t / ('output' + (t.suffix or '.ext'))}), or "
                                  "move that folder out of the way", path=t)
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(f"{t}: is not a regular file (a FIFO, socket or device); it cannot be replaced",
                              fix="remove it, or choose another output name", path=t)
        if not removing:
            try:
                with open(t, "ab"):
                    pass  # a file locked by another program (Excel on Windows) refuses this
            except OSError as exc:
                raise OutputError(f"{t}: cannot be replaced ({error_reason(exc)}); is it open in another program?",
                                  fix="close it (Excel, QGIS) or make it writable, then run again", path=t) from exc
    folder = t.parent
    nearest = _nearest_existing(folder.absolute())
    if not nearest.is_dir():
        raise OutputError(f"{t}: cannot create the folder {folder}: {nearest} is a file, not a folder",
                          fix="pass a folder path (it is created if missing)", path=t)
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise OutputError(f"{t}: cannot write into {nearest} (permission denied)",
                          fix="pass a folder you can write to (it is created if missing)", path=t)
