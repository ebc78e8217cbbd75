"""ensure_files against a local HTTP server: download, MD5 check, atomic placement, fall-through."""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from aekit.data.download import RemoteFile, ensure_files
from aekit.data.idx import read_idx
from aekit.errors import AekitError

DEAD = "http://127.0.0.1:1/"  # nothing listens on port 1: connection refused at once


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


class _Truncating(_Quiet):
    """Promises more bytes than it sends, then hangs up: an interrupted download."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"\x1f\x8b" + b"\0" * 500)
        self.wfile.flush()
        self.close_connection = True


def _serve(folder: Path, handler=_Quiet):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


@pytest.fixture
def served(tmp_path):
    """A folder with a small gzip IDX file, served over HTTP: (base URL, filename, md5, array)."""
    folder = tmp_path / "remote"
    folder.mkdir()
    arr = (np.arange(5 * 7 * 6) % 251).astype(np.uint8).reshape(5, 7, 6)
    data = bytes([0, 0, 0x08, 3]) + b"".join(d.to_bytes(4, "big") for d in arr.shape) + arr.tobytes()
    blob = gzip.compress(data)
    name = "tiny-images-idx3-ubyte.gz"
    (folder / name).write_bytes(blob)
    server, url = _serve(folder)
    yield url, name, hashlib.md5(blob).hexdigest(), arr
    server.shutdown()
    server.server_close()


def _leftovers(folder: Path, keep: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != keep) if folder.exists() else []


def test_downloads_verifies_and_places_atomically(served, tmp_path):
    url, name, md5, arr = served
    root = tmp_path / "data"
    paths = ensure_files("tiny", [RemoteFile(name, md5, [url])], root, progress=False)
    assert paths == {name: root / "tiny" / name}
    np.testing.assert_array_equal(read_idx(paths[name]), arr)
    assert hashlib.md5(paths[name].read_bytes()).hexdigest() == md5
    assert _leftovers(root / "tiny", name) == []  # no temporary files left behind


def test_existing_file_is_used_without_download_or_rehash(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"local copy")
    paths = ensure_files("tiny", [RemoteFile("a.bin", "0" * 32, [DEAD])], tmp_path, progress=False)
    assert paths["a.bin"].read_bytes() == b"local copy"


def test_wrong_md5_raises_and_leaves_no_file(served, tmp_path):
    url, name, md5, _ = served
    with pytest.raises(AekitError, match=rf"{name} has the wrong checksum: expected md5 {'f' * 32}, got {md5}"):
        ensure_files("tiny", [RemoteFile(name, "f" * 32, [url])], tmp_path, progress=False)
    assert not (tmp_path / "tiny" / name).exists()
    assert _leftovers(tmp_path / "tiny", name) == []


def test_dead_url_falls_through_to_working_one(served, tmp_path):
    url, name, md5, arr = served
    paths = ensure_files("tiny", [RemoteFile(name, md5, [DEAD, url + "missing/", url])], tmp_path, progress=False)
    np.testing.assert_array_equal(read_idx(paths[name]), arr)
    assert _leftovers(tmp_path / "tiny", name) == []


def test_all_urls_dead_says_where_to_place_files(tmp_path):
    files = [RemoteFile("x-images.gz", "0" * 32, [DEAD, "http://127.0.0.1:1/mirror/"]), RemoteFile("x-labels.gz", "1" * 32, [DEAD])]
    with pytest.raises(AekitError) as e:
        ensure_files("tiny", files, tmp_path, progress=False)
    msg = str(e.value)
    assert "'tiny'" in msg and "x-images.gz" in msg
    assert "http://127.0.0.1:1/x-images.gz" in msg and "http://127.0.0.1:1/mirror/x-images.gz" in msg
    assert f"place the files in {tmp_path / 'tiny'}/" in e.value.hint
    assert "AEKIT_DATA_DIR" in e.value.hint and "--data-dir" in e.value.hint
    assert "x-labels.gz" in e.value.hint
    assert _leftovers(tmp_path / "tiny", "") == []


def test_interrupted_download_leaves_no_partial_file(tmp_path):
    folder = tmp_path / "remote"
    folder.mkdir()
    server, url = _serve(folder, _Truncating)
    try:
        with pytest.raises(AekitError, match="could not download"):
            ensure_files("tiny", [RemoteFile("big.gz", "0" * 32, [url])], tmp_path / "data", progress=False)
    finally:
        server.shutdown()
        server.server_close()
    assert list((tmp_path / "data" / "tiny").iterdir()) == []


def test_progress_bar_on_does_not_break(served, tmp_path):
    url, name, md5, _ = served
    assert ensure_files("tiny", [RemoteFile(name, md5, [url])], tmp_path, progress=True)[name].exists()


def test_unwritable_root(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(AekitError, match="cannot create the data folder") as e:
        ensure_files("tiny", [RemoteFile("a", "0" * 32, [DEAD])], blocker, progress=False)
    assert "writable" in e.value.hint


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_root(tmp_path):
    ro = tmp_path / "ro"
    (ro / "tiny").mkdir(parents=True)
    (ro / "tiny").chmod(0o500)
    try:
        with pytest.raises(AekitError, match="not writable"):
            ensure_files("tiny", [RemoteFile("a", "0" * 32, [DEAD])], ro, progress=False)
    finally:
        (ro / "tiny").chmod(0o700)


def test_not_writable_folder_is_clear(tmp_path, monkeypatch):
    (tmp_path / "tiny").mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == tmp_path / "tiny" else real_access(p, mode, **kw))
    with pytest.raises(AekitError, match="is not writable") as e:
        ensure_files("tiny", [RemoteFile("a", "0" * 32, [DEAD])], tmp_path, progress=False)
    assert "AEKIT_DATA_DIR" in e.value.hint and "place the files" in e.value.hint


def test_remote_file_is_hashable_and_positional():
    f = RemoteFile("a.gz", "abc", ["http://x/"])
    assert f.urls == ("http://x/",) and hash(f) == hash(RemoteFile("a.gz", "abc", ("http://x/",)))
    assert RemoteFile("a", "b", ["http://x"]).url_list() == ["http://x/"]
