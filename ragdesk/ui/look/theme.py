"""Tints for text drawn in code, mixed from the application palette, so light and dark both look right.

The palette is the look's (:mod:`ragdesk.ui.look.style` sets it from its tokens and
follows the desktop's light/dark scheme); every tint here mixes two of its
roles, so it changes with the scheme.
"""

from __future__ import annotations

from ragdesk.ui.look.style import AMBER, mix
from ragdesk.ui.qt import QApplication, QColor, QEvent, QPalette


def app_palette() -> QPalette:
    """The application's palette (the look's, once installed), untouched by any widget's style sheet.

    Tints derive from it (not from a widget's own palette, which a style sheet
    rewrites) and are recomputed on ``QEvent.ApplicationPaletteChange``.
    """
    return QApplication.palette()


def palette_changed(event) -> bool:
    """Whether ``event`` means the system's light/dark palette changed."""
    return event.type() in (QEvent.Type.ApplicationPaletteChange, QEvent.Type.ThemeChange)


def muted_text(palette: QPalette) -> QColor:
    """Secondary text (metadata, context around a chunk)."""
    return mix(palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base), 0.45)


def highlight_background(palette: QPalette) -> QColor:
    """Background of a highlighted passage: a marker stroke, readable with the normal text colour on top."""
    base = palette.color(QPalette.ColorRole.Base)
    return mix(QColor(AMBER), base, 0.7 if base.lightness() < 128 else 0.55)


def code_background(palette: QPalette) -> QColor:
    return mix(palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text), 0.08)


def hex_color(color: QColor) -> str:
    return color.name(QColor.NameFormat.HexRgb)
