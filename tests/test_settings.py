"""Settings files: earlier releases' defaults are upgraded, the user's own choices kept."""

from __future__ import annotations

import json

from ragdesk import paths
from ragdesk.ingest.rules import IngestRules
from ragdesk.ingest.walker import walk
from ragdesk.settings import _FORMER_DEFAULTS, SKIP_DIRS, Settings


def test_a_former_default_list_is_upgraded_but_a_chosen_one_is_kept(ragdesk_home):
    ragdesk_home.mkdir(parents=True, exist_ok=True)
    old_extensions = list(_FORMER_DEFAULTS["extensions"][0])
    old_skip = list(_FORMER_DEFAULTS["skip_dirs"][0])
    paths.settings_path().write_text(json.dumps({"extensions": old_extensions, "skip_dirs": old_skip, "top_k": 7}))
    loaded = Settings.load()
    assert ".pptx" in loaded.extensions and ".epub" in loaded.extensions  # today's formats reach old users
    assert loaded.skip_dirs == list(SKIP_DIRS) and "env" not in loaded.skip_dirs
    assert loaded.top_k == 7

    paths.settings_path().write_text(json.dumps({"extensions": [".md"], "skip_dirs": ["drafts", "env"]}))
    chosen = Settings.load()
    assert chosen.extensions == [".md"] and chosen.skip_dirs == ["drafts", "env"]


def test_a_folder_named_env_is_read_unless_it_is_a_python_environment(tmp_path):
    docs = tmp_path / "docs"
    (docs / "std" / "env").mkdir(parents=True)
    (docs / "std" / "env" / "fn.var.html").write_text("<title>std::env::var</title><p>Fetches a variable.</p>")
    venv = docs / "env"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv / "README.md").write_text("# installed package docs\n")
    entries = list(walk([docs], IngestRules.from_settings(Settings())))
    found = {e.path.name for e in entries if type(e).__name__ == "FileEntry"}
    skipped = {e.path.name: e.reason for e in entries if type(e).__name__ == "Skipped"}
    assert "fn.var.html" in found and "README.md" not in found
    assert "pyvenv.cfg" in skipped["env"]
