"""Showing failures without stopping the app; their words come from ragdesk.errors.

Dialogs are opened with ``open()`` (window-modal, non-blocking) rather than
``exec()``, so a worker's failure never freezes the event loop and tests can
find the visible box and press its buttons.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ragdesk.errors import describe as core_describe
from ragdesk.logging_setup import log_file
from ragdesk.ui.qt import QDesktopServices, QMessageBox, QUrl, QWidget

log = logging.getLogger(__name__)


def sentence(text: str) -> str:
    """Capitalised, with a full stop: how every message in a dialog reads."""
    text = " ".join(str(text).split())
    if not text:
        return text
    first = text.split()[0]
    if first.isalpha() and first != "ragdesk":  # never "X.gguf" or "/Home": names keep their case
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def describe(exc: BaseException) -> str:
    """One clear sentence for ``exc``: what went wrong and, where we know it, what to do."""
    return sentence(core_describe(exc)[1])


def show_error(parent: QWidget | None, message: str, title: str = "ragdesk") -> QMessageBox:
    """Show ``message`` with the log file's location; returns the (already open) box."""
    box = QMessageBox(parent)
    box.setObjectName("errorDialog")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(message)
    location = log_file()
    box.setInformativeText(f"Details are in the log file:\n{location}")
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    open_logs = box.addButton("Open log folder", QMessageBox.ButtonRole.ActionRole)
    open_logs.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(location.parent))))
    box.finished.connect(box.deleteLater)  # many errors must not pile up hidden boxes
    box.open()
    log.warning("error shown to the user: %s", message)
    return box


def confirm(
    parent: QWidget | None, text: str, on_yes: Callable[[], None], *, yes_text: str = "OK", title: str = "ragdesk"
) -> QMessageBox:
    """Ask before a destructive action, without blocking: ``on_yes`` runs if the user agrees."""
    box = QMessageBox(parent)
    box.setObjectName("confirmDialog")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(title)
    box.setText(text)
    yes = box.addButton(yes_text, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(yes)

    def done(_result: int) -> None:
        if box.clickedButton() is yes:
            on_yes()

    box.finished.connect(done)
    box.finished.connect(box.deleteLater)
    box.open()
    return box
