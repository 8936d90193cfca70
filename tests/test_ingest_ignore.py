"""Ignore files on real folders: .gitignore at every level, negations, .git/info/exclude, .ragdeskignore."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ragdesk.ingest import FileEntry, IngestRules, Skipped, walk

RULES = IngestRules.default()


def touch(path: Path, text: str = "some text\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def files_of(items, root: Path) -> list[str]:
    return [i.path.relative_to(root).as_posix() for i in items if isinstance(i, FileEntry)]


def ignored_of(items, root: Path) -> dict[str, str]:
    return {
        i.path.relative_to(root).as_posix() + ("/" if i.folder else ""): i.reason
        for i in items
        if isinstance(i, Skipped) and i.kind == "ignored"
    }


def make_project(root: Path) -> Path:
    """A project folder as people drop them: sources, docs, generated output, logs."""
    touch(root / ".gitignore", "# build output\nout/\n\n*.gen.md\n!keep.gen.md\n/notes-local.md\n")
    touch(root / "README.md")
    touch(root / "notes-local.md")  # anchored: only at the top
    touch(root / "docs" / "notes-local.md")
    touch(root / "docs" / "guide.md")
    touch(root / "docs" / "api.gen.md")
    touch(root / "docs" / "keep.gen.md")  # re-included by the negation
    touch(root / "out" / "report.md")
    (root / "out" / "loop").symlink_to(root / "out")  # would be reported if the walk went in
    touch(root / "src" / "app.py")
    touch(root / "src" / ".gitignore", "*.py\n!main.py\ngenerated/\n")
    touch(root / "src" / "main.py")
    touch(root / "src" / "generated" / "schema.md")
    return root


def test_gitignore_at_every_level_with_negations_and_the_rule_named(tmp_path):
    root = make_project(tmp_path / "proj")
    items = list(walk([root], RULES))
    assert files_of(items, root) == [
        "README.md", "docs/guide.md", "docs/keep.gen.md", "docs/notes-local.md", "src/main.py"
    ]
    assert ignored_of(items, root) == {
        "docs/api.gen.md": f".gitignore:4 `*.gen.md` in {root}",
        "notes-local.md": f".gitignore:6 `/notes-local.md` in {root}",
        "out/": f".gitignore:2 `out/` in {root}",
        "src/app.py": f".gitignore:1 `*.py` in {root / 'src'}",
        "src/generated/": f".gitignore:3 `generated/` in {root / 'src'}",
    }
    assert not [i for i in items if isinstance(i, Skipped) and i.kind == "error"]  # out/ was never entered


def test_an_ignored_folder_cannot_be_re_included_from_below(tmp_path):
    root = tmp_path / "proj"
    touch(root / ".gitignore", "cache/\n!cache/wanted.md\n")
    touch(root / "cache" / ".gitignore", "!wanted.md\n")
    touch(root / "cache" / "wanted.md")
    touch(root / "doc.md")
    items = list(walk([root], RULES))
    assert files_of(items, root) == ["doc.md"]
    assert ignored_of(items, root) == {"cache/": f".gitignore:1 `cache/` in {root}"}


def test_deeper_files_override_and_ragdeskignore_overrides_gitignore(tmp_path):
    root = tmp_path / "proj"
    touch(root / ".gitignore", "*.txt\n")
    touch(root / "a" / ".gitignore", "!*.txt\n")  # deeper: re-includes here
    touch(root / "a" / "x.txt")
    touch(root / "b" / "y.txt")
    touch(root / "b" / ".ragdeskignore", "!y.txt\ndrafts/\n")  # ragdesk's own word beats .gitignore
    touch(root / "b" / "drafts" / "d.md")
    touch(root / "c" / "z.md")
    touch(root / ".ragdeskignore", "c/z.md\n")
    items = list(walk([root], RULES))
    assert files_of(items, root) == ["a/x.txt", "b/y.txt"]
    assert ignored_of(items, root) == {
        "b/drafts/": f".ragdeskignore:2 `drafts/` in {root / 'b'}",
        "c/z.md": f".ragdeskignore:1 `c/z.md` in {root}",
    }


def test_git_info_exclude_and_the_repository_top_apply_to_a_subfolder(tmp_path):
    repo = tmp_path / "repo"
    touch(repo / ".git" / "info" / "exclude", "# private\nscratch.md\n")
    touch(repo / ".gitignore", "docs/generated/\n")
    touch(repo / "docs" / "index.md")
    touch(repo / "docs" / "scratch.md")
    touch(repo / "docs" / "generated" / "index.md")
    # Indexing only docs/: the repository's .gitignore and excludes still apply, as in git.
    items = list(walk([repo / "docs"], RULES))
    assert files_of(items, repo) == ["docs/index.md"]
    assert ignored_of(items, repo) == {
        "docs/generated/": f".gitignore:1 `docs/generated/` in {repo}",
        "docs/scratch.md": f".git/info/exclude:2 `scratch.md` in {repo}",
    }


def test_a_folder_the_user_names_inside_an_ignored_place_is_walked(tmp_path):
    home = tmp_path / "home"
    touch(home / ".git" / "HEAD", "ref: refs/heads/main\n")  # a dotfiles repository at the top of home
    touch(home / ".gitignore", "*\n!.bashrc\n")
    touch(home / "notes" / "ideas.md")
    touch(home / "notes" / ".gitignore", "drafts/\n")
    touch(home / "notes" / "drafts" / "d.md")
    items = list(walk([home / "notes"], RULES))
    assert files_of(items, home) == ["notes/ideas.md"]  # the user's choice wins over `*` above it
    assert ignored_of(items, home) == {"notes/drafts/": f".gitignore:1 `drafts/` in {home / 'notes'}"}
    # The same when the folder is watched and a change inside it is synced.
    assert files_of(walk([home / "notes" / "ideas.md"], RULES, within=home / "notes"), home) == ["notes/ideas.md"]


def test_the_setting_turns_ignore_files_off_but_not_the_skip_list(tmp_path):
    root = make_project(tmp_path / "proj")
    touch(root / "node_modules" / "pkg" / "readme.md")
    rules = dataclasses.replace(RULES, respect_ignore_files=False)
    items = list(walk([root], rules))
    assert "out/report.md" in files_of(items, root) and "src/app.py" in files_of(items, root)
    assert ignored_of(items, root) == {"node_modules/": "skip list `node_modules`"}


def test_roots_inside_a_watched_folder_obey_its_rules(tmp_path):
    root = make_project(tmp_path / "proj")
    touch(root / "node_modules" / "x.md")
    touch(root / "pyenv311" / "pyvenv.cfg")
    touch(root / "pyenv311" / "lib" / "notes.md")
    named = [root / "out" / "report.md", root / "src" / "app.py", root / "node_modules" / "x.md",
             root / "pyenv311" / "lib" / "notes.md", root / "docs" / "guide.md", root / "gone.md", root / "clip.mp3"]
    touch(root / "clip.mp3")
    items = list(walk(named, RULES, within=root, missing_ok=True))
    assert files_of(items, root) == ["docs/guide.md"]
    assert ignored_of(items, root) == {
        "out/report.md": f".gitignore:2 `out/` in {root}",
        "src/app.py": f".gitignore:1 `*.py` in {root / 'src'}",
        "node_modules/x.md": "skip list `node_modules`",
        "pyenv311/lib/notes.md": "Python environment (pyvenv.cfg)",
    }
    # A vanished root is a deletion, not an error; another file type is not an error either.
    assert {i.kind for i in items if isinstance(i, Skipped)} == {"ignored", "unsupported"}
    # Without `within`, a file the user names is taken whatever the rules say.
    assert files_of(walk([root / "out" / "report.md"], RULES), root) == ["out/report.md"]


def test_an_unreadable_ignore_file_ignores_nothing(tmp_path):
    root = tmp_path / "proj"
    (root / ".gitignore").mkdir(parents=True)  # a folder where the file should be
    touch(root / "doc.md")
    assert files_of(walk([root], RULES), root) == ["doc.md"]
