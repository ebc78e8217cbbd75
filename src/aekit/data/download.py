"""Fetching named data sets: each file is checked once, on download, against its MD5.

A file that already sits at ``<root>/<name>/<filename>`` is used as is (no re-hashing on every
load). A missing one is streamed into a temporary file in the same folder, its MD5 checked, and
only then renamed into place, so an interrupted or corrupt download never leaves a partial file
under the final name. Without network access the error says where to put the files by hand.
"""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import socket
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AekitError

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0
CHUNK = 1 << 16


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set: its name, its MD5 and the base URLs it can be fetched from.

    The file's URL is ``base + filename`` (a ``/`` is added when the base lacks one).
    ``urls`` is stored as a tuple so the record stays hashable.
    """

    filename: str
    md5: str
    urls: tuple[str, ...]

    def __post_init__(self) -> None:
        urls = (self.urls,) if isinstance(self.urls, str) else tuple(self.urls)
        object.__setattr__(self, "urls", urls)

    def url_list(self) -> list[str]:
        return [u if u.endswith("/") else u + "/" for u in self.urls]


def _place_hint(name: str, root: Path, files: list[RemoteFile]) -> str:
    names = ", ".join(f.filename for f in files)
    return (
        f"place the files in {root / name}/ (e.g. copy them from a machine with internet) "
        f"or set --data-dir / AEKIT_DATA_DIR to a folder that holds {name}/{{{names}}}"
    )


def _make_folder(name: str, root: Path, files: list[RemoteFile]) -> Path:
    folder = root / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AekitError(
            f"cannot create the data folder {folder} to download {name!r} into ({e.strerror or e})",
            "set --data-dir / AEKIT_DATA_DIR to a writable folder, or " + _place_hint(name, root, files),
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise AekitError(
            f"the data folder {folder} is not writable, so {name!r} cannot be downloaded into it",
            "set --data-dir / AEKIT_DATA_DIR to a writable folder, or " + _place_hint(name, root, files),
        )
    return folder


def _progress_bar(total: int | None, desc: str, enabled: bool) -> Any:
    """A tqdm bar on stderr, or a do-nothing stand-in when off (not a TTY, progress=False, no tqdm)."""
    try:
        isatty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        isatty = False
    if enabled and isatty:
        try:
            from tqdm.auto import tqdm

            return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                        file=sys.stderr, leave=False)
        except ImportError:  # pragma: no cover
            pass
    return _NoBar()


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _fetch(url: str, tmp_fd: int, tmp: str, desc: str, progress: bool) -> str:
    """Stream ``url`` into the open temporary file; return the hex MD5 of what was written."""
    md5 = hashlib.md5()
    with os.fdopen(tmp_fd, "wb") as out:
        req = urllib.request.Request(url, headers={"User-Agent": "aekit"})
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            bar = _progress_bar(total, desc, progress)
            got = 0
            try:
                while True:
                    chunk = resp.read(CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    md5.update(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
            finally:
                bar.close()
            if total is not None and got != total:
                raise ConnectionError(f"connection closed after {got} of {total} bytes")
        out.flush()
        os.fsync(out.fileno())
    return md5.hexdigest()


def _download_one(name: str, f: RemoteFile, folder: Path, root: Path, files: list[RemoteFile], progress: bool) -> Path:
    final = folder / f.filename
    failures: list[str] = []
    mismatches: list[tuple[str, str]] = []
    for url in (base + f.filename for base in f.url_list()):
        log.info("downloading %s", url)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{f.filename}.", suffix=".part", dir=folder)
        except OSError as e:
            raise AekitError(
                f"cannot write into the data folder {folder} ({e.strerror or e})",
                "set --data-dir / AEKIT_DATA_DIR to a writable folder, or " + _place_hint(name, root, files),
            ) from None
        try:
            got = _fetch(url, fd, tmp, f.filename, progress)
            if got.lower() != f.md5.lower():
                log.info("%s: checksum mismatch (expected md5 %s, got %s)", url, f.md5, got)
                mismatches.append((url, got))
                continue
            os.replace(tmp, final)
            log.info("saved %s", final)
            return final
        except (urllib.error.URLError, http.client.HTTPException, socket.timeout, TimeoutError, ConnectionError, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            log.info("%s: download failed (%s)", url, reason)
            failures.append(f"{url} ({reason})")
        finally:  # also on KeyboardInterrupt: never leave a partial temporary file behind
            if os.path.exists(tmp):
                try:
                    os.unlink(tmp)
                except OSError:  # pragma: no cover
                    pass
    if mismatches:
        got = ", ".join(f"{g} from {u}" for u, g in mismatches)
        others = f"; other URLs failed: {'; '.join(failures)}" if failures else ""
        raise AekitError(
            f"{name}: downloaded {f.filename} has the wrong checksum: expected md5 {f.md5}, got {got}{others}",
            "the server sent a different or corrupt file; try again later, or " + _place_hint(name, root, files),
        )
    tried = "; ".join(failures) if failures else "no URLs are known for this file"
    missing = [g.filename for g in files if not (folder / g.filename).exists()]
    raise AekitError(
        f"data set {name!r}: could not download {f.filename} (missing here: {', '.join(missing)}); tried {tried}",
        _place_hint(name, root, files),
    )


def ensure_files(name: str, files: list[RemoteFile], root: Path, *, progress: bool = True) -> dict[str, Path]:
    """Paths of ``files`` under ``root/name``, downloading the missing ones (MD5-checked, atomic)."""
    root = Path(root).expanduser()
    folder = root / name
    paths: dict[str, Path] = {}
    missing: list[RemoteFile] = []
    for f in files:
        p = folder / f.filename
        if p.is_file():
            paths[f.filename] = p
        else:
            missing.append(f)
    if missing:
        log.info("%s: %d of %d files missing under %s; downloading", name, len(missing), len(files), folder)
        folder = _make_folder(name, root, files)
        for f in missing:
            paths[f.filename] = _download_one(name, f, folder, root, files, progress)
    return {f.filename: paths[f.filename] for f in files}
