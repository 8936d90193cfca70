"""The app's icons and its empty-state illustration: small SVG drawings made for ragdesk, coloured per scheme.

Every drawing here was made for this project (simple strokes on a 24-unit grid;
the illustration on a 240 x 170 one) and is Apache-2.0 like the rest of the
code. Colours are placeholders filled from the look's tokens, so the icons
follow the light and dark schemes: a widget that carries an icon names it with
the ``lookIcon`` property and :func:`refresh_all` repaints it when the scheme
changes.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from ragdesk.ui.look import style
from ragdesk.ui.qt import QApplication, QByteArray, QIcon, QPainter, QPixmap, QRectF, QSize, QSvgRenderer, Qt

STROKE = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="{c}" '
    'stroke-width="{w}" stroke-linecap="round" stroke-linejoin="round">{body}</svg>'
)
# The shapes, on a 24-unit grid.
SHAPES = {
    # RAG: a page with a magnifying glass (answers looked up in your documents)
    "rag": '<path d="M13 21H6.5A1.5 1.5 0 0 1 5 19.5v-15A1.5 1.5 0 0 1 6.5 3H13l5 5v3"/>'
           '<path d="M13 3v5h5"/><path d="M8.5 11.5h4M8.5 15h2.5"/>'
           '<circle cx="16.5" cy="16.5" r="3"/><path d="M18.7 18.7 21 21"/>',
    # merged-LoRA: layers (an adapter laid on the model)
    "lora": '<path d="M12 3.5 20.5 8 12 12.5 3.5 8z"/><path d="m3.5 12 8.5 4.5 8.5-4.5"/>'
            '<path d="m3.5 16 8.5 4.5 8.5-4.5"/>',
    # hybrid: two overlapping circles (both at once)
    "hybrid": '<circle cx="9" cy="12" r="6"/><circle cx="15" cy="12" r="6"/>',
    # model only: a chip
    "closed": '<rect x="7" y="7" width="10" height="10" rx="2"/><path d="M10 3.5v3M14 3.5v3M10 17.5v3M14 17.5v3'
              'M3.5 10h3M3.5 14h3M17.5 10h3M17.5 14h3"/>',
    "send": '<path d="M12 19.5V5M6 11l6-6 6 6"/>',
    "stop": '<rect x="6.5" y="6.5" width="11" height="11" rx="2" fill="{c}"/>',
    "plus": '<path d="M12 5v14M5 12h14"/>',
    "collection": '<path d="M5 4v16M10 4v16"/><path d="m14.5 4.5 4.5 15"/><path d="M3.5 20.5h17"/>',
    "file": '<path d="M14 3H7a1.5 1.5 0 0 0-1.5 1.5v15A1.5 1.5 0 0 0 7 21h10a1.5 1.5 0 0 0 1.5-1.5V7.5z"/>'
            '<path d="M14 3v4.5h4.5"/>',
    "trash": '<path d="M4.5 7h15M9.5 7V4.5h5V7M6.5 7l1 13h9l1-13"/>',
    "folder": '<path d="M3.5 7.5A1.5 1.5 0 0 1 5 6h4l2 2h8a1.5 1.5 0 0 1 1.5 1.5v8A1.5 1.5 0 0 1 19 19H5'
              'a1.5 1.5 0 0 1-1.5-1.5z"/>',
    "compose": '<path d="M5 5h14a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1h-8l-4.5 3.5V16H5a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1z"/>'
               '<path d="M12 8v5M9.5 10.5h5"/>',
    "models": '<path d="M12 3 20 7.5v9L12 21l-8-4.5v-9z"/><path d="M4 7.5 12 12l8-4.5M12 12v9"/>',
    "check": '<path d="m5.5 12.5 4 4 9-9" stroke-width="3"/>',
    "chevron-down": '<path d="m6 9 6 6 6-6"/>',
    "chevron-up": '<path d="m6 15 6-6 6 6"/>',
    "open": '<path d="M14 4h6v6M20 4l-8.5 8.5"/><path d="M18 14v4.5a1.5 1.5 0 0 1-1.5 1.5h-11A1.5 1.5 0 0 1 4 18.5'
            'v-11A1.5 1.5 0 0 1 5.5 6H10"/>',
}

ILLUSTRATION = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 170">
  <ellipse cx="120" cy="88" rx="104" ry="76" fill="{soft}"/>
  <circle cx="42" cy="40" r="5" fill="{accent}" opacity="0.35"/>
  <circle cx="206" cy="126" r="4" fill="{amber}" opacity="0.7"/>
  <path d="M196 34 l3 8 8 3 -8 3 -3 8 -3 -8 -8 -3 8 -3z" fill="{accent}" opacity="0.8"/>
  <g transform="rotate(-9 92 92)">
    <rect x="52" y="36" width="76" height="98" rx="9" fill="{surface}" stroke="{line}" stroke-width="2"/>
    <rect x="64" y="54" width="40" height="6" rx="3" fill="{line}"/>
    <rect x="64" y="68" width="52" height="6" rx="3" fill="{line}"/>
    <rect x="64" y="82" width="30" height="6" rx="3" fill="{line}"/>
  </g>
  <rect x="98" y="28" width="84" height="108" rx="10" fill="{surface}" stroke="{line}" stroke-width="2"/>
  <path d="M98 38 a10 10 0 0 1 10 -10 h64 a10 10 0 0 1 10 10 v6 h-84z" fill="{accent}"/>
  <rect x="110" y="58" width="54" height="6" rx="3" fill="{line}"/>
  <rect x="110" y="72" width="60" height="6" rx="3" fill="{marker}"/>
  <rect x="110" y="86" width="44" height="6" rx="3" fill="{line}"/>
  <rect x="110" y="100" width="52" height="6" rx="3" fill="{line}"/>
  <path d="M150 112 h52 a12 12 0 0 1 12 12 v16 a12 12 0 0 1 -12 12 h-22 l-13 10 v-10 h-17 a12 12 0 0 1 -12 -12
           v-16 a12 12 0 0 1 12 -12z" fill="{amber}"/>
  <circle cx="162" cy="132" r="4" fill="{ink}"/>
  <circle cx="176" cy="132" r="4" fill="{ink}"/>
  <circle cx="190" cy="132" r="4" fill="{ink}"/>
</svg>"""


def render_svg(svg: str, size: QSize, ratio: float = 1.0) -> QPixmap:
    """``svg`` drawn into a transparent pixmap of ``size`` (logical pixels) at device ``ratio``."""
    pixmap = QPixmap(round(size.width() * ratio), round(size.height() * ratio))
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(QByteArray(svg.encode("utf-8"))).render(painter, QRectF(0, 0, pixmap.width(), pixmap.height()))
    painter.end()
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


def _ratio() -> float:
    app = QApplication.instance()
    screen = app.primaryScreen() if app is not None else None
    return max(1.0, screen.devicePixelRatio()) if screen is not None else 1.0


LINE_PX = 1.5  # strokes about this wide on screen, whatever the icon's size: thin lines blur at 16 px


def shape_svg(name: str, color: str, size: int = 24) -> str:
    """The SVG of shape ``name`` in ``color``, its strokes set for an icon of ``size`` pixels."""
    return STROKE.format(c=color, w=f"{LINE_PX * 24 / size:.2f}", body=SHAPES[name].replace("{c}", color))


_assets: Path | None = None


def asset(name: str, color: str) -> str:
    """A file holding shape ``name`` in ``color``, for style sheets (which take images only by path)."""
    global _assets
    if _assets is None:
        _assets = Path(tempfile.mkdtemp(prefix="ragdesk-look-"))
        atexit.register(shutil.rmtree, _assets, True)
    path = _assets / f"{name}-{color.lstrip('#')}.svg"
    if not path.exists():
        path.write_text(shape_svg(name, color, 12), encoding="utf-8")
    return path.as_posix()


_made: dict[tuple, QIcon] = {}


def icon(name: str, tone: str = "muted", size: int = 18, checkable: bool = False) -> QIcon:
    """The icon ``name`` in the current scheme: ``tone`` normally, the text colour on hover, the
    selected-row colour in lists, faint when disabled; ``checkable`` ones sit on the accent when checked.
    Made once per scheme."""
    t = style.tokens()
    ratio = _ratio()
    key = (name, tone, size, checkable, t, ratio)
    if key not in _made:
        _made[key] = _draw(name, tone, size, checkable, t, ratio)
    return _made[key]


def _draw(name: str, tone: str, size: int, checkable: bool, t, ratio: float) -> QIcon:
    box = QSize(size, size)
    normal = getattr(t, tone)
    on_accent = tone == "on_accent"
    colours = {
        QIcon.Mode.Normal: normal,
        QIcon.Mode.Active: t.on_accent if on_accent else t.text,
        QIcon.Mode.Disabled: style.mix(normal, t.surface, 0.55).name() if on_accent else t.faint,
        QIcon.Mode.Selected: t.accent_soft_text,  # on a selected row of a list
    }
    made = QIcon()
    for mode, colour in colours.items():
        pixmap = render_svg(shape_svg(name, colour, size), box, ratio)
        made.addPixmap(pixmap, mode, QIcon.State.Off)
        # "On" is a checked button, or an expanded row of a tree (which must look the same as "Off").
        on = t.on_accent if checkable and mode != QIcon.Mode.Disabled else None
        made.addPixmap(render_svg(shape_svg(name, on, size), box, ratio) if on else pixmap, mode, QIcon.State.On)
    return made


def set_icon(button, name: str, tone: str = "muted", size: int = 18) -> None:
    """Give ``button`` the icon ``name``, and keep it in step with the scheme."""
    checkable = button.isCheckable()
    button.setProperty("lookIcon", f"{name}:{tone}:{size}:{int(checkable)}")
    button.setIcon(icon(name, tone, size, checkable))
    button.setIconSize(QSize(size, size))


def illustration(width: int = 220) -> QPixmap:
    """The empty-state picture: documents, a highlighted line, and a question about them."""
    t = style.tokens()
    svg = ILLUSTRATION.format(
        soft=t.accent_soft, accent=t.accent, amber=style.AMBER, surface=t.surface,
        line=t.border_strong, marker=t.marker if not t.dark else style.mix(t.marker, style.AMBER, 0.3).name(),
        ink=t.on_accent if t.dark else "#24459a",
    )
    return render_svg(svg, QSize(width, round(width * 170 / 240)), _ratio())


def set_illustration(label, width: int = 220) -> None:
    """Show the illustration in ``label``, and keep it in step with the scheme."""
    label.setProperty("lookIllustration", width)
    label.setPixmap(illustration(width))


def refresh_all(app) -> None:
    """Repaint every icon and illustration after the scheme changed."""
    for widget in app.allWidgets():
        spec = widget.property("lookIcon")
        if spec:
            name, tone, size, checkable = str(spec).split(":")
            widget.setIcon(icon(name, tone, int(size), checkable == "1"))
        width = widget.property("lookIllustration")
        if width:
            widget.setPixmap(illustration(int(width)))
