"""The loader: one consistent read, or a clear reason why not."""

from __future__ import annotations

import hashlib
import os

import pytest

from ragdesk.ingest import FileEntry, IngestRules, SkipFile, load, loader, walk

RULES = IngestRules.default()


def entry_for(path) -> FileEntry:
    (item,) = list(walk([path], RULES))
    assert isinstance(item, FileEntry), item
    return item


def test_load_returns_exact_bytes_stat_and_hash(tmp_path):
    path = tmp_path / "doc.txt"
    data = "héllo wörld\n".encode() * 100
    path.write_bytes(data)
    loaded = load(entry_for(path), RULES)
    st = os.stat(path)
    assert loaded.data == data
    assert (loaded.path, loaded.size, loaded.mtime_ns) == (path, len(data), st.st_mtime_ns)
    assert loaded.sha256 == hashlib.sha256(data).hexdigest()


def test_file_deleted_between_walk_and_load(tmp_path):
    path = tmp_path / "doc.md"
    path.write_text("# soon gone\n")
    entry = entry_for(path)
    path.unlink()
    with pytest.raises(SkipFile, match=r"^file disappeared before it could be read$"):
        load(entry, RULES)


def test_file_that_grew_over_the_limit_after_the_walk(tmp_path):
    path = tmp_path / "log.txt"
    path.write_bytes(b"a" * 100)
    rules = IngestRules(RULES.extensions, RULES.skip_dirs, max_file_bytes=1024)
    (entry,) = list(walk([path], rules))
    path.write_bytes(b"a" * 4096)
    with pytest.raises(SkipFile, match=r"^larger than the 1 KB size limit \(4 KB\)$"):
        load(entry, rules)


def test_file_changed_after_the_walk_is_read_as_it_is_now(tmp_path):
    path = tmp_path / "doc.txt"
    path.write_text("first version")
    entry = entry_for(path)
    path.write_text("second, longer version")
    loaded = load(entry, RULES)
    assert loaded.data == b"second, longer version"
    assert loaded.size == len(loaded.data) != entry.size


def _rewrite_during_read(monkeypatch, path, rewrite):
    """Fault injection: the file is rewritten right after our read returns."""
    real_read = loader._read_all

    def read_then_rewrite(fh, limit):
        data = real_read(fh, limit)
        rewrite(path)
        return data

    monkeypatch.setattr(loader, "_read_all", read_then_rewrite)


@pytest.mark.parametrize(
    "rewrite",
    [
        pytest.param(lambda p: p.write_text("rewritten in place, different size"), id="in-place"),
        pytest.param(lambda p: p.write_text("same length"), id="same-size"),
        pytest.param(
            lambda p: (p.with_name("new").write_text("replaced"), os.replace(p.with_name("new"), p)),
            id="atomic-replace",
        ),
    ],
)
def test_file_rewritten_while_being_read(tmp_path, monkeypatch, rewrite):
    path = tmp_path / "doc.txt"
    path.write_text("same length")  # 11 bytes, as the same-size rewrite
    # An hour old, as files usually are: a same-size rewrite within one tick of
    # the filesystem clock would leave size and mtime alike (undetectable).
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns - 3600 * 10**9))
    entry = entry_for(path)
    _rewrite_during_read(monkeypatch, path, rewrite)
    with pytest.raises(SkipFile, match=r"^changed while being read; will retry next time$"):
        load(entry, RULES)
    monkeypatch.undo()
    assert load(entry_for(path), RULES).data == path.read_bytes()  # the next run gets it


def test_file_deleted_while_being_read(tmp_path, monkeypatch):
    path = tmp_path / "doc.txt"
    path.write_text("short-lived")
    entry = entry_for(path)
    _rewrite_during_read(monkeypatch, path, lambda p: p.unlink())
    with pytest.raises(SkipFile, match=r"^file disappeared while being read; will retry next time$"):
        load(entry, RULES)


def test_path_replaced_by_a_folder(tmp_path):
    path = tmp_path / "doc.txt"
    path.write_text("text")
    entry = entry_for(path)
    path.unlink()
    path.mkdir()
    with pytest.raises(SkipFile, match=r"^not a regular file$"):
        load(entry, RULES)
