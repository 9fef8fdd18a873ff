"""Writing a file or a folder so that a kill at any moment leaves the old one or the new one, never part of one.
Every writer of wdcli (tables, run folders, checkpoints, drafted and tuned specs, exports, reports) uses these.

    with atomic_file(path) as tmp:          # write tmp; it is flushed to disk and renamed over path
        frame.write_parquet(tmp)
    with atomic_folder(folder) as tmp:      # fill the hidden folder tmp; it then takes folder's place
        (tmp / "a.json").write_text(...)

An error inside the block removes the temporary and leaves the old file or folder as it was. A kill leaves the
temporary, named after the process that wrote it (`.NAME.tmpPID` beside a file; `.tmp-NAME-PID`, and
`.old-NAME-PID` for a folder being replaced): `remove_stale` removes those of processes that are gone.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` (its folder made if need be) for the block to write; when the block ends,
    the file is flushed to disk (fsync) and renamed over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """An empty hidden folder beside `path` for the block to fill; when the block ends, it is renamed to `path`.
    A folder already there is set aside first and removed only once the new one is in place, so there is
    always a whole one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{path.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        old = path.parent / f".old-{path.name}-{os.getpid()}"
        os.rename(path, old)
        os.rename(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, path)


def remove_stale(folder: Path) -> None:
    """Remove the temporaries that killed processes left in a folder (see the module's doc); those of running
    processes are kept."""
    for path in [*folder.glob(".tmp-*-*"), *folder.glob(".old-*-*"), *folder.glob(".*.tmp*")]:
        folder_temp = path.name.startswith((".tmp-", ".old-"))
        pid = path.name.rsplit("-", 1)[-1] if folder_temp else path.name.rsplit("tmp", 1)[-1]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
