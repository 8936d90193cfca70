"""The walker on real folders: order, skip rules, links, loops, odd files."""

from __future__ import annotations

import os
from pathlib import Path

from ragdesk.ingest import FileEntry, IngestRules, Skipped, walk
from ragdesk.ingest.rules import too_large_reason
from ragdesk.settings import Settings

RULES = IngestRules.default()


def touch(path: Path, text: str = "some text\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def files_of(items) -> list[Path]:
    return [i.path for i in items if isinstance(i, FileEntry)]


def skipped_of(items, kind: str | None = None) -> dict[Path, str]:
    return {i.path: i.reason for i in items if isinstance(i, Skipped) and kind in (None, i.kind)}


def test_walk_finds_documents_in_sorted_order_and_skips_what_is_not_documents(tmp_path):
    for rel in ["b.md", "a/z.txt", "a/b/c.py", "c.pdf", "A.rst"]:
        touch(tmp_path / rel)
    touch(tmp_path / ".hidden.md")
    touch(tmp_path / ".config" / "x.md")
    touch(tmp_path / ".git" / "HEAD.txt")
    touch(tmp_path / "node_modules" / "pkg" / "README.md")
    touch(tmp_path / "__pycache__" / "m.py")
    touch(tmp_path / "myenv" / "pyvenv.cfg")  # a virtualenv under an unusual name
    touch(tmp_path / "myenv" / "lib" / "site.py")
    touch(tmp_path / "song.mp3")
    items = list(walk([tmp_path], RULES))
    expected = ["A.rst", "a/b/c.py", "a/z.txt", "b.md", "c.pdf"]
    assert files_of(items) == [tmp_path / rel for rel in expected]
    assert skipped_of(items, "unsupported") == {tmp_path / "song.mp3": "unsupported file type"}
    assert skipped_of(items, "error") == {}
    # What the skip list leaves out is reported with its rule; ignored folders are not entered.
    hidden = "hidden name (starts with '.')"
    assert skipped_of(items, "ignored") == {
        tmp_path / ".hidden.md": hidden,
        tmp_path / ".config": hidden,
        tmp_path / ".git": hidden,
        tmp_path / "node_modules": "skip list `node_modules`",
        tmp_path / "__pycache__": "skip list `__pycache__`",
        tmp_path / "myenv": "Python environment (pyvenv.cfg)",
    }
    assert {i.path.name for i in items if isinstance(i, Skipped) and i.folder} == {
        ".config", ".git", "node_modules", "__pycache__", "myenv"
    }
    entry = next(i for i in items if isinstance(i, FileEntry))
    st = os.stat(entry.path)
    assert (entry.size, entry.mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert entry.path.is_absolute()
    assert list(walk([tmp_path], RULES)) == items  # deterministic


def test_rules_are_configurable_through_settings(tmp_path):
    touch(tmp_path / "notes.md")
    touch(tmp_path / "code.py")
    touch(tmp_path / ".hidden.md")
    touch(tmp_path / "drafts" / "d.md")
    touch(tmp_path / "node_modules" / "n.md")
    settings = Settings(extensions=["MD", "txt"], skip_dirs=["drafts"], skip_hidden=False, max_file_mb=1)
    rules = IngestRules.from_settings(settings)
    assert rules.extensions == frozenset({".md", ".txt"})
    assert rules.max_file_bytes == 1024 * 1024
    items = list(walk([tmp_path], rules))
    assert files_of(items) == [
        tmp_path / ".hidden.md",
        tmp_path / "node_modules" / "n.md",
        tmp_path / "notes.md",
    ]
    assert skipped_of(items, "unsupported") == {tmp_path / "code.py": "unsupported file type"}


def test_roots_can_be_files_missing_roots_are_reported(tmp_path):
    hidden = touch(tmp_path / ".secret" / "named.md")
    song = touch(tmp_path / "song.mp3")
    items = list(walk([hidden, tmp_path / "nope", song, tmp_path / "relative.md"], RULES))
    assert files_of(items) == [hidden]  # named explicitly, so taken though hidden
    reasons = skipped_of(items, "error")
    assert reasons[tmp_path / "nope"] == "no such file or folder"
    assert reasons[song] == "unsupported file type (.mp3)"
    assert reasons[tmp_path / "relative.md"] == "no such file or folder"


def test_relative_roots_give_absolute_unresolved_paths(tmp_path, monkeypatch):
    real = touch(tmp_path / "real" / "doc.md")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path)
    assert files_of(walk([Path("link")], RULES)) == [tmp_path / "link" / "doc.md"]
    assert files_of(walk([Path("real") / ".." / "real"], RULES)) == [real]


def test_empty_and_oversized_files_are_skipped_with_reasons(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "big.txt").write_bytes(b"x" * 3000)
    (tmp_path / "ok.txt").write_bytes(b"x" * 1000)
    rules = IngestRules(RULES.extensions, RULES.skip_dirs, max_file_bytes=2048)
    items = list(walk([tmp_path], rules))
    assert files_of(items) == [tmp_path / "ok.txt"]
    assert skipped_of(items, "error") == {
        tmp_path / "empty.txt": "empty file",
        tmp_path / "big.txt": "larger than the 2 KB size limit (2.9 KB)",
    }


def test_default_size_limit_message(tmp_path):
    with open(tmp_path / "huge.txt", "wb") as fh:
        fh.truncate(76_755_353)  # sparse: 73.2 MB on paper, nothing on disk
    assert skipped_of(walk([tmp_path], RULES), "error") == {
        tmp_path / "huge.txt": "larger than the 50 MB size limit (73.2 MB)"
    }
    assert too_large_reason(1536, 1024) == "larger than the 1 KB size limit (1.5 KB)"


def test_symlink_loops_are_reported_and_the_walk_goes_on(tmp_path):
    touch(tmp_path / "a" / "b" / "doc.md")
    touch(tmp_path / "z.md")
    (tmp_path / "a" / "b" / "up").symlink_to(tmp_path / "a")  # points at its own ancestor
    (tmp_path / "a" / "self.md").symlink_to(tmp_path / "a" / "self.md")  # ELOOP on open
    items = list(walk([tmp_path], RULES))
    assert files_of(items) == [tmp_path / "a" / "b" / "doc.md", tmp_path / "z.md"]
    reasons = skipped_of(items, "error")
    assert set(reasons) == {tmp_path / "a" / "b" / "up", tmp_path / "a" / "self.md"}
    assert all(r.startswith("symlink loop") for r in reasons.values())


def test_symlinked_folders_are_followed_once_and_broken_links_reported(tmp_path):
    outside = tmp_path / "outside"
    touch(outside / "shared.md")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "link1").symlink_to(outside)
    (docs / "link2").symlink_to(outside)  # the same folder again: walked once
    (docs / "gone.md").symlink_to(tmp_path / "missing.md")
    (docs / "gone.bin").symlink_to(tmp_path / "missing.bin")
    items = list(walk([docs], RULES))
    assert files_of(items) == [docs / "link1" / "shared.md"]
    assert skipped_of(items, "error") == {
        docs / "gone.md": "broken symlink (its target does not exist)"
    }
    assert skipped_of(items, "unsupported") == {docs / "gone.bin": "unsupported file type"}
    # the same folder named twice (directly and inside another root) is walked once
    assert files_of(walk([outside, docs, outside / "shared.md"], RULES)) == [outside / "shared.md"]


def test_fifos_and_devices_are_never_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")  # reading it would block forever
    touch(tmp_path / "real.txt")
    items = list(walk([tmp_path], RULES))
    assert files_of(items) == [tmp_path / "real.txt"]
    assert skipped_of(items, "error") == {tmp_path / "pipe.txt": "not a regular file"}
