"""Where ragdesk keeps user data.

Everything lives under one home folder: the platform's data directory by
default, relocated by ``RAGDESK_HOME`` or ``--home`` (tests always use a
temporary one), in the manner of simonw/llm's ``LLM_USER_PATH``.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_HOME = "RAGDESK_HOME"
APP_NAME = "ragdesk"

_override: Path | None = None


def set_home(path: str | os.PathLike | None) -> None:
    """Relocate the data folder for this process (``--home``); None resets."""
    global _override
    _override = Path(path).expanduser().resolve() if path else None


def home() -> Path:
    """The data folder, created on first use.

    In order: ``--home``, ``RAGDESK_HOME``, the folder chosen in the app's
    Settings, the platform's data directory.
    """
    if _override is not None:
        root = _override
    elif os.environ.get(ENV_HOME):
        root = Path(os.environ[ENV_HOME]).expanduser().resolve()
    else:
        root = chosen_data_folder() or platformdirs.user_data_path(APP_NAME, appauthor=False)
    root.mkdir(parents=True, exist_ok=True)
    return root


def data_folder_pointer() -> Path:
    """A one-line file in the config folder naming the data folder chosen in Settings.

    It lives outside the data folder so that moving the data folder is possible;
    the CLI and the app both follow it.
    """
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "data-folder"


def chosen_data_folder() -> Path | None:
    """The data folder chosen in Settings, if any."""
    try:
        text = data_folder_pointer().read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return Path(text).expanduser() if text else None


def choose_data_folder(folder: str | os.PathLike | None) -> None:
    """Use ``folder`` as the data folder from the next start on (None: the platform default)."""
    pointer = data_folder_pointer()
    if folder is None:
        pointer.unlink(missing_ok=True)
        return
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.write_text(str(Path(folder).expanduser().resolve()) + "\n", encoding="utf-8")


def is_relocated() -> bool:
    return _override is not None or bool(os.environ.get(ENV_HOME))


def db_path() -> Path:
    """The single SQLite file holding collections, chunks, vectors and chats."""
    return home() / "ragdesk.db"


def settings_path() -> Path:
    return home() / "settings.json"


def models_dir() -> Path:
    """Downloaded and imported GGUF models."""
    path = home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def adapters_dir() -> Path:
    """LoRA adapters (GGUF) made or added by the user."""
    path = home() / "adapters"
    path.mkdir(parents=True, exist_ok=True)
    return path


def training_dir() -> Path:
    """Checkpoints and work files of LoRA training runs."""
    path = home() / "training"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    """Rotating log files: the platform's log folder, or ``logs/`` in a relocated home."""
    if is_relocated():
        path = home() / "logs"
    else:
        path = platformdirs.user_log_path(APP_NAME, appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path
