"""The look: design tokens for the light and dark schemes, and the application style sheet built from them.

One place decides every colour, space, radius and font size of the app. The
desktop decides light or dark (``QStyleHints.colorScheme()`` where the platform
reports it, else the lightness of the palette it hands Qt); the tokens then
come from two anchors per scheme, *paper* and *ink*, mixed in fixed
proportions, plus the accent (the blue of the app icon). :func:`install` sets
the application palette and style sheet from them and follows the desktop when
it switches; widgets that paint in code ask :func:`tokens`.

Widgets opt into the named looks below with properties, never with colours:
``look`` on a label (``title``, ``sectionTitle``, ``caption``),
``primary`` on the one button that moves a page forward, ``lookIcon`` on a
button that carries an icon from :mod:`ragdesk.ui.look.icons`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ragdesk.ui.qt import QApplication, QColor, QEvent, QGuiApplication, QObject, QPalette, Qt

SPACE = {"xs": 4, "sm": 8, "md": 12, "lg": 16, "xl": 24, "xxl": 32}
RADIUS = {"sm": 6, "md": 8, "lg": 12, "pill": 10}
TYPE_SCALE = {"caption": 0.9, "body": 1.0, "reading": 1.1, "title": 1.2, "heading": 1.4}
ACCENT = {False: "#3563d6", True: "#76a0ff"}  # the app icon's blue, lifted for dark backgrounds
AMBER = "#ffb84d"  # the icon's speech bubble: highlighted passages, the illustration
ANCHORS = {False: ("#ffffff", "#131a27"), True: ("#15171c", "#e9ecf2")}  # (paper, ink)
# How much ink is mixed into paper for each neutral, per scheme (light, dark).
INK = {
    "surface": (0.0, 0.065), "content": (0.022, 0.03), "window": (0.05, 0.0), "sunken": (0.07, 0.0),
    "hover": (0.065, 0.12), "pressed": (0.11, 0.17), "border": (0.12, 0.13), "border_strong": (0.2, 0.21),
    "faint": (0.42, 0.45), "muted": (0.6, 0.66), "text": (0.94, 0.95),
}


def mix(a: QColor | str, b: QColor | str, t: float) -> QColor:
    """``a`` moved a fraction ``t`` of the way towards ``b``."""
    a, b = QColor(a), QColor(b)
    return QColor(*(round(x + (y - x) * t) for x, y in zip(a.getRgb()[:3], b.getRgb()[:3])))


@dataclass(frozen=True)
class Tokens:
    """Every colour of one scheme (``#rrggbb``), and the base font size the type scale multiplies."""

    dark: bool
    base_pt: float
    window: str  # the window and the side panels
    content: str  # behind the conversation and the Compare page
    surface: str  # cards, inputs, lists, the top bar
    sunken: str  # tracks: the mode switch, progress bars
    hover: str
    pressed: str
    border: str
    border_strong: str
    text: str
    muted: str
    faint: str
    accent: str
    accent_hover: str
    on_accent: str
    accent_soft: str  # selected rows, citation chips, the model banner
    accent_soft_text: str
    user_card: str
    marker: str  # the passage highlighted in its document
    danger: str
    danger_soft: str
    success: str
    success_soft: str

    def pt(self, step: str) -> str:
        """A font size of the type scale, for a style sheet."""
        return f"{self.base_pt * TYPE_SCALE[step]:.1f}pt"

    def palette(self) -> QPalette:
        """A QPalette of these colours, so what Qt paints itself matches the style sheet."""
        pal = QPalette()
        roles = QPalette.ColorRole
        for role, color in (
            (roles.Window, self.window), (roles.WindowText, self.text), (roles.Base, self.surface),
            (roles.AlternateBase, self.content), (roles.Text, self.text), (roles.Button, self.surface),
            (roles.ButtonText, self.text), (roles.BrightText, self.on_accent), (roles.Highlight, self.accent),
            (roles.HighlightedText, self.on_accent), (roles.Link, self.accent), (roles.LinkVisited, self.accent),
            (roles.PlaceholderText, self.faint), (roles.ToolTipBase, self.surface), (roles.ToolTipText, self.text),
            (roles.Light, self.surface), (roles.Midlight, self.hover), (roles.Mid, self.border_strong),
            (roles.Dark, self.border_strong), (roles.Shadow, self.border_strong),
        ):
            pal.setColor(role, QColor(color))
        for role in (roles.Text, roles.WindowText, roles.ButtonText):
            pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(self.faint))
        pal.setColor(QPalette.ColorGroup.Disabled, roles.Highlight, QColor(self.border_strong))
        if hasattr(roles, "Accent"):  # Qt 6.6+
            pal.setColor(roles.Accent, QColor(self.accent))
        return pal


def make_tokens(dark: bool, base_pt: float = 9.0) -> Tokens:
    """The tokens of one scheme: neutrals mixed from paper and ink, tints mixed from the accent."""
    paper, ink = ANCHORS[dark]
    n = {name: mix(paper, ink, amounts[dark]).name() for name, amounts in INK.items()}
    accent = ACCENT[dark]
    return Tokens(
        dark=dark, base_pt=base_pt, **n,
        accent=accent,
        accent_hover=mix(accent, ink if dark else "#000000", 0.14).name(),
        on_accent="#0d1322" if dark else "#ffffff",
        accent_soft=mix(n["surface"], accent, 0.24 if dark else 0.12).name(),
        accent_soft_text=mix(accent, ink, 0.45 if dark else 0.3).name(),
        user_card=mix(n["surface"], accent, 0.15 if dark else 0.075).name(),
        marker=mix(n["surface"], AMBER, 0.32 if dark else 0.42).name(),
        danger="#ff7b72" if dark else "#c62828",
        danger_soft=mix(n["surface"], "#e5484d", 0.2 if dark else 0.1).name(),
        success="#5dd39e" if dark else "#1f7a4d",
        success_soft=mix(n["surface"], "#2fa36b", 0.2 if dark else 0.12).name(),
    )


def palette_is_dark(palette: QPalette) -> bool:
    """Light text on a dark window: a dark scheme, whatever the platform calls it."""
    roles = QPalette.ColorRole
    return palette.color(roles.Window).lightness() < palette.color(roles.WindowText).lightness()


def scheme_is_dark(system_palette: QPalette) -> bool:
    """The desktop's choice: its colour scheme where Qt knows it, else the palette it gave us."""
    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else None
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return palette_is_dark(system_palette)


def tokens() -> Tokens:
    """The tokens in use: the installed look's, or those of the application's palette."""
    manager = _manager()
    if manager is not None:
        return manager.tokens
    app = QApplication.instance()
    palette = app.palette() if app is not None else QPalette()
    return make_tokens(scheme_is_dark(palette), _base_pt())  # what install() will choose


def _base_pt() -> float:
    app = QApplication.instance()
    size = app.font().pointSizeF() if app is not None else -1
    return size if size > 0 else 9.0


class LookManager(QObject):
    """Applies the look to the application and re-applies it when the desktop switches scheme."""

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.setObjectName("ragdeskLook")
        self.app = app
        self.system_palette = QPalette(app.palette())  # what the platform gave, before ours
        self.applied: QPalette | None = None
        self.tokens = make_tokens(scheme_is_dark(self.system_palette), _base_pt())
        self.applications = 0  # how many times the look was applied (tests check it settles)
        self._applying = False
        app.paletteChanged.connect(self._palette_changed)
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(lambda _scheme: self.refresh())

    def _palette_changed(self, palette: QPalette) -> None:
        if self._applying or (self.applied is not None and palette == self.applied):
            return  # our own palette arriving
        self.system_palette = QPalette(palette)  # the desktop (or a test) chose a new palette
        self.refresh()

    def theme_changed(self) -> None:
        """The platform's theme changed: read its palette afresh (ours hides it), then re-apply."""
        self._applying = True
        try:
            self.app.setPalette(QPalette())  # no role set: every role comes from the platform
            self.system_palette = QPalette(self.app.palette())
        finally:
            self._applying = False
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        new = make_tokens(scheme_is_dark(self.system_palette), _base_pt())
        if force or new != self.tokens or self.applied is None:
            self.tokens = new
            self.apply()

    def apply(self) -> None:
        from ragdesk.ui.look import icons

        t = self.tokens
        self._applying = True
        try:
            self.applied = t.palette()
            self.app.setPalette(self.applied)
            self.app.setStyleSheet(stylesheet(t))
        finally:
            self._applying = False
        self.applications += 1
        icons.refresh_all(self.app)


def _manager() -> LookManager | None:
    app = QApplication.instance()
    return app.findChild(LookManager, "ragdeskLook") if app is not None else None


def install(app: QApplication | None = None) -> LookManager:
    """Give the application the ragdesk look (once; later calls return the same manager)."""
    app = app or QApplication.instance()
    manager = _manager()
    if manager is None:
        manager = LookManager(app)
        manager.apply()
    return manager


def is_theme_event(event) -> bool:
    """The platform's theme changed (a window is told; the application palette may not move)."""
    return event.type() == QEvent.Type.ThemeChange


def set_look(widget, look: str) -> None:
    """Give ``widget`` one of the style sheet's named looks (``QLabel[look="title"]``...)."""
    widget.setProperty("look", look)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def set_primary(button, primary: bool = True) -> None:
    """Mark the one button that moves its page forward (filled with the accent)."""
    button.setProperty("primary", primary)
    button.style().unpolish(button)
    button.style().polish(button)


# ---------------------------------------------------------------------------- style sheets


def message_card_qss(t: Tokens, user: bool, selected: bool) -> str:
    """A message card: the user's tinted towards the accent, the assistant's a bordered surface."""
    bg = t.user_card if user else t.surface
    border = t.accent if selected else (t.user_card if user else t.border)
    width = 2 if selected else 1
    return (
        f"QFrame#messageCard {{ background-color: {bg}; border: {width}px solid {border}; "
        f"border-radius: {RADIUS['lg']}px; }}"
        f"QLabel#messageHeader {{ color: {t.muted}; font-size: {t.pt('caption')}; }}"
        f"QLabel#messageFooter {{ color: {t.faint}; font-size: {t.pt('caption')}; }}"
        f"QTextBrowser#messageBody {{ font-size: {t.pt('reading')}; }}"
    )


def column_qss(name: str, t: Tokens, state: str) -> str:
    """A Compare column: a card, outlined in the accent while it is written, sunken when it can't run."""
    bg = t.content if state == "unavailable" else t.surface
    generating = state == "generating"
    border = t.accent if generating else t.border
    badge_bg, badge_fg = {
        "generating": (t.accent_soft, t.accent_soft_text), "done": (t.success_soft, t.success),
        "failed": (t.danger_soft, t.danger), "idle": ("transparent", t.muted),
    }.get(state, (t.sunken, t.muted))
    return (
        f"QFrame#{name} {{ background-color: {bg}; border: {2 if generating else 1}px solid {border}; "
        f"border-radius: {RADIUS['lg']}px; }}"
        f"QLabel#columnHelp, QLabel#columnStats {{ color: {t.muted}; font-size: {t.pt('caption')}; }}"
        f"QLabel#columnBadge {{ color: {badge_fg}; background: {badge_bg}; font-weight: 600; "
        f"font-size: {t.pt('caption')}; border-radius: {RADIUS['pill']}px; padding: 2px 8px; }}"
        f"QScrollArea#columnScroll, QWidget#columnInner {{ background: transparent; }}"
        f"QTextBrowser#columnBody {{ font-size: {t.pt('reading')}; }}"
    )


def markdown_css(t: Tokens) -> str:
    """The rich-text defaults of answers: citation markers as tinted chips, calm links and code."""
    return (
        f"a {{ color: {t.accent}; text-decoration: none; }}"
        f'a[href^="cite:"] {{ color: {t.accent_soft_text}; background-color: {t.accent_soft}; font-weight: 600; }}'
        f"code {{ background-color: {t.sunken}; }}"
    )


def stylesheet(t: Tokens) -> str:
    """The application style sheet of one scheme."""
    from ragdesk.ui.look.icons import asset

    s, r = SPACE, RADIUS
    down, up = asset("chevron-down", t.muted), asset("chevron-up", t.muted)
    down_off, up_off = asset("chevron-down", t.faint), asset("chevron-up", t.faint)
    check, check_off = asset("check", t.on_accent), asset("check", t.faint)
    return f"""
QToolTip {{ background: {t.surface}; color: {t.text}; border: 1px solid {t.border_strong};
  border-radius: {r['sm']}px; padding: 4px 8px; }}
QMenuBar {{ background: {t.window}; padding: 2px {s['xs']}px; }}
QMenuBar::item {{ background: transparent; padding: 4px 10px; border-radius: {r['sm']}px; }}
QMenuBar::item:selected, QMenuBar::item:pressed {{ background: {t.hover}; }}
QMenu {{ background: {t.surface}; border: 1px solid {t.border_strong}; border-radius: {r['md']}px; padding: 4px; }}
QMenu::item {{ padding: 6px 28px 6px 12px; border-radius: {r['sm']}px; }}
QMenu::item:selected {{ background: {t.accent_soft}; color: {t.accent_soft_text}; }}
QMenu::item:disabled {{ color: {t.faint}; }}
QMenu::separator {{ height: 1px; background: {t.border}; margin: 4px 8px; }}
QStatusBar {{ background: {t.window}; color: {t.muted}; border-top: 1px solid {t.border}; }}
QStatusBar::item {{ border: none; }}
QStatusBar QLabel {{ color: {t.muted}; padding: 0 {s['sm']}px; }}
QSplitter::handle {{ background: {t.window}; }}
QSplitter::handle:horizontal {{ width: 6px; }}
QSplitter::handle:vertical {{ height: 6px; }}

/* the top bar: the mode switch (a segmented control) and the pickers */
#modeBar {{ background: {t.surface}; border-bottom: 1px solid {t.border}; }}
#modeSegments {{ background: {t.sunken}; border: 1px solid {t.border}; border-radius: {r['md'] + 2}px; }}
#modeSegments QToolButton {{ background: transparent; border: none; border-radius: {r['md']}px;
  padding: 5px 9px; color: {t.muted}; font-weight: 600; }}
#modeSegments QToolButton:hover {{ color: {t.text}; background: {t.hover}; }}
#modeSegments QToolButton:checked {{ background: {t.accent}; color: {t.on_accent}; }}
#modeSegments QToolButton:disabled {{ color: {t.faint}; background: transparent; }}
#modeBar QLabel {{ color: {t.muted}; font-size: {t.pt('caption')}; }}

/* side panels */
#libraryPanel, #conversationsPanel, #citationsPanel {{ background: {t.window}; }}
QLabel[look="sectionTitle"] {{ font-size: {t.pt('title')}; font-weight: 600; }}
QLabel[look="title"] {{ font-size: {t.pt('heading')}; font-weight: 600; }}
#citationsEmpty, #conversationsEmpty, #libraryHint, #liveSyncStatus,
#compareContext, #compareStatus, #sourceWhere {{ color: {t.muted}; }}
QLabel[look="caption"] {{ color: {t.faint}; font-size: {t.pt('caption')}; }}
#jobWidget {{ background: {t.surface}; border: 1px solid {t.border}; border-radius: {r['md']}px; }}
#jobWidget QLabel {{ color: {t.muted}; }}
#jobWidget QLabel#jobTitle {{ color: {t.text}; }}

/* lists, trees, tables */
QTreeView, QListView, QTreeWidget, QTableView {{ background: {t.surface}; border: 1px solid {t.border};
  border-radius: {r['md']}px; alternate-background-color: {t.content}; outline: 0;
  selection-background-color: {t.accent_soft}; selection-color: {t.accent_soft_text}; }}
#collectionTree, #conversationList {{ background: transparent; border: none; }}
QTreeView::item, QListView::item {{ padding: 4px 4px; border: none; }}
QTreeView::item:hover, QListView::item:hover {{ background: {t.hover}; }}
QTreeView::item:selected, QListView::item:selected {{ background: {t.accent_soft}; color: {t.accent_soft_text}; }}
#conversationList::item {{ padding: 6px 8px; border-radius: {r['sm']}px; }}
#sourceList::item {{ padding: 6px 8px; border-bottom: 1px solid {t.border}; }}
#sourceList::item:selected {{ border-bottom: 1px solid {t.accent_soft}; }}
QHeaderView {{ background: transparent; }}
QHeaderView::section {{ background: transparent; color: {t.faint}; border: none; border-bottom: 1px solid {t.border};
  padding: 4px 6px; font-size: {t.pt('caption')}; font-weight: 600; }}

/* buttons */
QPushButton {{ background: {t.surface}; color: {t.text}; border: 1px solid {t.border_strong};
  border-radius: {r['md']}px; padding: 5px 12px; min-height: 18px; }}
QPushButton:hover {{ background: {t.hover}; }}
QPushButton:pressed {{ background: {t.pressed}; }}
QPushButton:disabled {{ color: {t.faint}; background: {t.content}; border-color: {t.border}; }}
QPushButton:default {{ border-color: {t.accent}; }}
QPushButton[primary="true"] {{ background: {t.accent}; color: {t.on_accent}; border: 1px solid {t.accent};
  font-weight: 600; }}
QPushButton[primary="true"]:hover {{ background: {t.accent_hover}; border-color: {t.accent_hover}; }}
QPushButton[primary="true"]:disabled {{ background: {mix(t.accent, t.surface, 0.55).name()};
  border-color: {mix(t.accent, t.surface, 0.55).name()}; color: {mix(t.on_accent, t.surface, 0.2).name()}; }}
QToolButton {{ background: transparent; border: 1px solid transparent; border-radius: {r['sm']}px; padding: 4px 8px; }}
QToolButton:hover {{ background: {t.hover}; }}
QToolButton:pressed, QToolButton:checked {{ background: {t.accent_soft}; color: {t.accent_soft_text}; }}
QToolButton:disabled {{ color: {t.faint}; }}
QToolButton::menu-indicator {{ image: none; width: 0; }}

/* inputs */
QLineEdit, QPlainTextEdit, QTextEdit, QSpinBox, QDoubleSpinBox, QComboBox {{ background: {t.surface};
  color: {t.text}; border: 1px solid {t.border_strong}; border-radius: {r['md']}px; padding: 4px 8px;
  selection-background-color: {t.accent}; selection-color: {t.on_accent}; }}
QLineEdit:focus, QPlainTextEdit:focus, QTextEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus,
QComboBox:focus {{ border-color: {t.accent}; }}
QLineEdit:disabled, QPlainTextEdit:disabled, QSpinBox:disabled, QDoubleSpinBox:disabled,
QComboBox:disabled {{ background: {t.content}; color: {t.faint}; border-color: {t.border}; }}
QComboBox {{ padding-right: 22px; }}
QComboBox::drop-down {{ subcontrol-origin: padding; subcontrol-position: center right; width: 22px;
  border: none; background: transparent; }}
QComboBox::down-arrow {{ image: url("{down}"); width: 11px; height: 11px; }}
QComboBox::down-arrow:disabled {{ image: url("{down_off}"); }}
QSpinBox, QDoubleSpinBox {{ padding: 3px 2px 3px 6px; }}
QAbstractSpinBox QLineEdit, QComboBox QLineEdit {{ padding: 0; border: none; background: transparent; }}
QSpinBox::up-button, QDoubleSpinBox::up-button {{ subcontrol-origin: border; subcontrol-position: top right;
  width: 16px; border: none; background: transparent; margin-top: 2px; }}
QSpinBox::down-button, QDoubleSpinBox::down-button {{ subcontrol-origin: border; subcontrol-position: bottom right;
  width: 16px; border: none; background: transparent; margin-bottom: 2px; }}
QSpinBox::up-arrow, QDoubleSpinBox::up-arrow {{ image: url("{up}"); width: 9px; height: 9px; }}
QSpinBox::down-arrow, QDoubleSpinBox::down-arrow {{ image: url("{down}"); width: 9px; height: 9px; }}
QSpinBox::up-arrow:disabled, QDoubleSpinBox::up-arrow:disabled, QSpinBox::up-arrow:off,
QDoubleSpinBox::up-arrow:off {{ image: url("{up_off}"); }}
QSpinBox::down-arrow:disabled, QDoubleSpinBox::down-arrow:disabled, QSpinBox::down-arrow:off,
QDoubleSpinBox::down-arrow:off {{ image: url("{down_off}"); }}
QComboBox QAbstractItemView {{ background: {t.surface}; border: 1px solid {t.border_strong}; border-radius: {r['sm']}px;
  selection-background-color: {t.accent_soft}; selection-color: {t.accent_soft_text}; padding: 2px; }}
QTextBrowser {{ background: {t.surface}; border: 1px solid {t.border}; border-radius: {r['md']}px; }}
#sourceContext {{ padding: 4px 6px; }}
#messageBody, #columnBody {{ background: transparent; border: none; padding: 0; }}
QCheckBox, QRadioButton {{ spacing: 5px; background: transparent; }}
QCheckBox::indicator, QRadioButton::indicator {{ width: 12px; height: 12px; background: {t.surface};
  border: 1px solid {t.border_strong}; }}
QCheckBox::indicator {{ border-radius: 4px; }}
QRadioButton::indicator {{ border-radius: 7px; }}
QCheckBox::indicator:hover, QRadioButton::indicator:hover {{ border-color: {t.accent}; }}
QCheckBox::indicator:checked {{ background: {t.accent}; border-color: {t.accent}; image: url("{check}"); }}
QRadioButton::indicator:checked {{ border-color: {t.accent}; background: qradialgradient(cx:0.5, cy:0.5,
  radius:0.5, fx:0.5, fy:0.5, stop:0 {t.on_accent}, stop:0.32 {t.on_accent}, stop:0.42 {t.accent}, stop:1 {t.accent}); }}
QCheckBox::indicator:disabled, QRadioButton::indicator:disabled {{ background: {t.content}; border-color: {t.border}; }}
QCheckBox::indicator:checked:disabled {{ image: url("{check_off}"); }}
QRadioButton::indicator:checked:disabled {{ background: qradialgradient(cx:0.5, cy:0.5, radius:0.5, fx:0.5,
  fy:0.5, stop:0 {t.faint}, stop:0.32 {t.faint}, stop:0.42 {t.content}, stop:1 {t.content}); }}
QGroupBox {{ border: 1px solid {t.border}; border-radius: {r['md']}px; margin-top: 14px; padding: 10px 8px 8px 8px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 10px; padding: 0 4px; color: {t.muted}; font-weight: 600; }}

/* the conversation */
#chatView, #compareView {{ background: {t.content}; }}
#chatView QScrollArea, QScrollArea#comparePageScroll {{ background: transparent; }}
#modelBanner {{ background: {t.accent_soft}; border: 1px solid {mix(t.accent_soft, t.accent, 0.3).name()};
  border-radius: {r['lg']}px; }}
#modelBannerText {{ color: {t.accent_soft_text}; }}
#composer {{ background: {t.surface}; border: 1px solid {t.border_strong}; border-radius: {r['lg'] + 2}px; }}
#composer QPlainTextEdit {{ background: transparent; border: none; padding: 2px 2px; font-size: {t.pt('reading')}; }}
#emptyState QLabel#chatHint {{ color: {t.text}; }}
#emptyState QLabel#emptyFootnote {{ color: {t.muted}; }}

/* tabs */
QTabWidget::pane {{ border: none; background: transparent; }}
QTabWidget::tab-bar {{ left: {s['sm']}px; }}
QTabBar {{ background: transparent; qproperty-drawBase: 0; }}
QTabBar::tab {{ background: transparent; color: {t.muted}; padding: 6px 14px; margin-right: 2px;
  border: none; border-bottom: 2px solid transparent; font-weight: 600; }}
QTabBar::tab:hover {{ color: {t.text}; }}
QTabBar::tab:selected {{ color: {t.text}; border-bottom: 2px solid {t.accent}; }}
QDialog QTabWidget::pane {{ border-top: 1px solid {t.border}; }}

/* progress and scroll bars */
QProgressBar {{ background: {t.sunken}; border: none; border-radius: 4px; color: {t.text}; text-align: center;
  min-height: 8px; max-height: 18px; }}
QProgressBar::chunk {{ background: {t.accent}; border-radius: 4px; }}
QProgressBar[textVisible="false"] {{ max-height: 6px; min-height: 6px; border-radius: 3px; }}
QProgressBar[textVisible="false"]::chunk {{ border-radius: 3px; }}
QScrollBar:vertical {{ background: transparent; width: 10px; margin: 2px; }}
QScrollBar:horizontal {{ background: transparent; height: 10px; margin: 2px; }}
QScrollBar::handle {{ background: {t.border_strong}; border-radius: 3px; }}
QScrollBar::handle:vertical {{ min-height: 28px; margin: 0 1px; }}
QScrollBar::handle:horizontal {{ min-width: 28px; margin: 1px 0; }}
QScrollBar::handle:hover {{ background: {t.faint}; }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: transparent; }}
"""
