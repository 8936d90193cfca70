"""Files shipped inside the package (icons, the .desktop entry), found the same way in every install.

They live in ``ragdesk/resources/`` and are declared as package data, so a wheel,
an editable install and the PyInstaller bundle all have them; ``importlib.resources``
finds them wherever the package was put.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

ICON_NAMES = ("ragdesk.png", "ragdesk.svg")
DESKTOP_FILE = "ragdesk.desktop"


def resource_path(name: str) -> Path | None:
    """The file ``ragdesk/resources/<name>`` on disk, or None if this install lacks it."""
    entry = resources.files("ragdesk").joinpath("resources", name)
    # A regular install (wheel, editable, PyInstaller) keeps package data as real files.
    path = Path(str(entry))
    return path if path.is_file() else None


def icon_path() -> Path | None:
    """The app icon: the PNG, else the SVG; None if neither is installed."""
    for name in ICON_NAMES:
        path = resource_path(name)
        if path is not None:
            return path
    return None
