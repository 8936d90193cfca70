"""Colours derived from the current palette, so light and dark system themes both look right.

Nothing here hard-codes a colour: every tint is a mix of two palette roles,
which follow the platform's light/dark scheme (and its changes at run time).
"""

from __future__ import annotations

from ragdesk.ui.qt import QApplication, QColor, QEvent, QPalette


def app_palette() -> QPalette:
    """The application's palette: the system scheme, untouched by any widget's style sheet.

    Tints derive from it (not from a widget's own palette, which a style sheet
    rewrites) and are recomputed on ``QEvent.ApplicationPaletteChange``.
    """
    return QApplication.palette()


def palette_changed(event) -> bool:
    """Whether ``event`` means the system's light/dark palette changed."""
    return event.type() in (QEvent.Type.ApplicationPaletteChange, QEvent.Type.ThemeChange)


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved a fraction ``t`` of the way towards ``b``."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


def muted_text(palette: QPalette) -> QColor:
    """Secondary text (metadata, context around a chunk)."""
    return mix(palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base), 0.45)


def highlight_background(palette: QPalette) -> QColor:
    """Background of a highlighted passage: a marker stroke, readable with the normal text colour on top."""
    from ragdesk.ui.style import AMBER

    base = palette.color(QPalette.ColorRole.Base)
    return mix(QColor(AMBER), base, 0.7 if base.lightness() < 128 else 0.55)


def code_background(palette: QPalette) -> QColor:
    return mix(palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text), 0.08)


def card_background(palette: QPalette, user: bool) -> QColor:
    """Message cards: the user's tinted towards the accent, the assistant's plain."""
    base = palette.color(QPalette.ColorRole.Base)
    if user:
        return mix(base, palette.color(QPalette.ColorRole.Highlight), 0.12)
    return base


def hex_color(color: QColor) -> str:
    return color.name(QColor.NameFormat.HexRgb)
