"""Where user data lives: --home, RAGDESK_HOME, the folder chosen in Settings, the default."""

from __future__ import annotations

from ragdesk import paths


def test_precedence_of_data_folder_choices(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv(paths.ENV_HOME)
    assert paths.home() == tmp_path / "data" / "ragdesk"

    paths.choose_data_folder(tmp_path / "chosen")
    assert paths.home() == (tmp_path / "chosen").resolve()

    monkeypatch.setenv(paths.ENV_HOME, str(tmp_path / "env"))
    assert paths.home() == (tmp_path / "env").resolve()

    paths.set_home(tmp_path / "flag")
    assert paths.home() == (tmp_path / "flag").resolve()
    paths.set_home(None)

    paths.choose_data_folder(None)
    monkeypatch.delenv(paths.ENV_HOME)
    assert paths.home() == tmp_path / "data" / "ragdesk"
