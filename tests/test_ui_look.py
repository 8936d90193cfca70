"""The look: the style sheet and palette of the design, light and dark, icons, the empty state, citation chips.

Real windows offscreen. The dark scheme is forced the way a desktop switch
reaches Qt here: a new application palette (the offscreen platform reports no
colour scheme, so ``QStyleHints.setColorScheme`` changes nothing on it).
"""

from __future__ import annotations

import pytest
from test_ui_chat import ask, pick, register_tiny
from ui_screenshots import WAIT_MS, make_window  # noqa: F401 - make_window is a fixture

from ragdesk.ui.look import icons, style
from ragdesk.ui.qt import QApplication, QColor, QFileDialog, QGuiApplication, QIcon, QLabel, QPalette, QSize, Qt

DARK_DESKTOP = {  # what a desktop's dark scheme hands Qt
    QPalette.ColorRole.Window: "#2b2b2b", QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#1e1e1e", QPalette.ColorRole.Text: "#e6e6e6",
    QPalette.ColorRole.Button: "#353535", QPalette.ColorRole.ButtonText: "#e6e6e6",
}


@pytest.fixture
def desktop_scheme():
    """``switch(dark)``: change the application palette as the desktop would; the light one comes back after."""
    app = QApplication.instance()
    light = QPalette(app.palette())

    def switch(dark: bool) -> None:
        palette = QPalette(light)
        if dark:
            for role, color in DARK_DESKTOP.items():
                palette.setColor(role, QColor(color))
        app.setPalette(palette)
        QApplication.processEvents()

    yield switch
    app.setPalette(light)


def has_colour(pixmap, colour: str) -> bool:
    """Whether ``pixmap`` paints ``colour`` somewhere (anti-aliased edges count, within rounding)."""
    image, want = pixmap.toImage(), QColor(colour)
    for x in range(image.width()):
        for y in range(image.height()):
            pixel = image.pixelColor(x, y)
            if pixel.alpha() >= 128 and all(
                abs(a - b) <= 3 for a, b in zip(pixel.getRgb()[:3], want.getRgb()[:3])
            ):
                return True
    return False


def test_the_window_wears_the_look(make_window):
    window = make_window()
    app = QApplication.instance()
    t = style.tokens()
    sheet = app.styleSheet()
    assert sheet and t.accent in sheet and t.surface in sheet
    assert app.palette().color(QPalette.ColorRole.Highlight).name() == t.accent
    assert app.palette().color(QPalette.ColorRole.Window).name() == t.window
    # Widgets carry the looks the sheet names: the primary button, the section titles.
    assert window.chat.send_button.property("primary") is True
    assert window.chat.add_folder_button.property("primary") is True
    assert any(label.property("look") == "sectionTitle" and label.text() == "Library"
               for label in window.library.findChildren(QLabel))
    # Installing again changes nothing: one manager, the same sheet.
    assert style.install() is style.install() and app.styleSheet() == sheet


def test_the_dark_scheme_gives_a_dark_palette_sheet_and_icons(make_window, desktop_scheme, qtbot):
    window = make_window()
    app = QApplication.instance()
    manager = style.install()
    light = style.tokens()
    assert not light.dark
    light_icon = window.mode_bar.buttons["closed"].icon().pixmap(QSize(16, 16), QIcon.Mode.Normal, QIcon.State.Off)
    light_picture = window.chat.illustration.pixmap().cacheKey()
    before = manager.applications

    desktop_scheme(True)
    dark = style.tokens()
    assert dark.dark and dark.accent != light.accent
    assert app.palette().color(QPalette.ColorRole.Window).lightness() < 60
    assert app.palette().color(QPalette.ColorRole.Text).lightness() > 200
    assert dark.accent in app.styleSheet() and light.accent not in app.styleSheet()
    assert manager.applications == before + 1  # our own palette did not set it off again
    # Icons and the illustration were redrawn in the dark colours.
    dark_icon = window.mode_bar.buttons["closed"].icon().pixmap(QSize(16, 16), QIcon.Mode.Normal, QIcon.State.Off)
    assert has_colour(dark_icon, dark.muted) and has_colour(light_icon, light.muted)
    assert not has_colour(dark_icon, light.muted)
    assert window.chat.illustration.pixmap().cacheKey() != light_picture

    desktop_scheme(False)
    assert not style.tokens().dark and light.accent in app.styleSheet()
    assert app.palette().color(QPalette.ColorRole.Window).name() == light.window

    # Where the platform reports a scheme (Qt 6.8+ on a desktop), asking for dark is followed too.
    hints = QGuiApplication.styleHints()
    if hasattr(hints, "setColorScheme"):
        hints.setColorScheme(Qt.ColorScheme.Dark)
        try:
            QApplication.processEvents()
            assert style.tokens().dark == (hints.colorScheme() == Qt.ColorScheme.Dark)
        finally:
            hints.unsetColorScheme()
            QApplication.processEvents()


def test_the_tokens_of_both_schemes_are_readable():
    for dark in (False, True):
        t = style.make_tokens(dark)
        text, surface, muted = QColor(t.text), QColor(t.surface), QColor(t.muted)
        assert abs(text.lightness() - surface.lightness()) > 180
        assert abs(muted.lightness() - surface.lightness()) > 80
        assert (surface.lightness() < 60) == dark
        palette = t.palette()
        assert style.palette_is_dark(palette) == dark
        assert palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text).name() == t.faint


def test_mode_switch_buttons_carry_icons_and_lose_their_words_when_narrow(make_window, qtbot):
    window = make_window()
    window.resize(1280, 800)
    bar = window.mode_bar
    qtbot.waitUntil(lambda: bar.width() > 1000, timeout=WAIT_MS)
    t = style.tokens()
    for mode, button in bar.buttons.items():
        assert not button.icon().isNull(), mode
        assert button.parent() is bar.segments
        assert button.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon
        on = button.icon().pixmap(QSize(16, 16), QIcon.Mode.Normal, QIcon.State.On)
        assert has_colour(on, t.on_accent)  # drawn to sit on the accent when checked
    assert bar.buttons["closed"].isChecked()

    window.resize(780, 700)
    qtbot.waitUntil(lambda: window.width() == 780, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: bar.buttons["rag"].toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly,
                    timeout=WAIT_MS)
    assert bar.minimumSizeHint().width() <= 780 and bar.buttons["rag"].toolTip()  # the tooltip still names it
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: bar.buttons["rag"].toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon,
                    timeout=WAIT_MS)


def test_the_empty_state_shows_the_illustration_until_the_first_question(
    make_window, qtbot, tiny_model, tiny_lora, tmp_path, monkeypatch
):
    window = make_window()
    chat = window.chat
    assert chat.pages.currentWidget() is chat.hint
    assert chat.illustration.isVisible() and not chat.illustration.pixmap().isNull()
    assert chat.add_folder_button.isVisible() and chat.choose_model_button.isVisible()

    # The call to action: "Add a folder…" indexes the folder chosen in the (desktop's) folder dialog.
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "bread.md").write_text("# Bread\n\nA sourdough starter needs flour and water.\n", encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(folder))
    qtbot.mouseClick(chat.add_folder_button, Qt.MouseButton.LeftButton)
    job = max(window.controller.jobs.values(), key=lambda j: j.id)
    assert job.paths == [str(folder)]
    qtbot.waitUntil(lambda: job.finished, timeout=WAIT_MS)

    register_tiny(window, qtbot, tiny_model, tiny_lora)
    pick(window.mode_bar.model_box, "tiny")
    qtbot.waitUntil(lambda: window.controller.unavailable_reason("rag") is None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: chat.input.isEnabled(), timeout=WAIT_MS)
    assert ask(window, qtbot, "What does a starter need?")
    assert not chat.illustration.isVisible() and chat.pages.currentWidget() is chat.scroll
    assert window.new_chat()
    assert chat.illustration.isVisible()


def test_choose_a_model_opens_the_models_dialog(make_window, qtbot):
    from ragdesk.ui.models.model_manager import ModelManagerDialog

    window = make_window()
    qtbot.mouseClick(window.chat.choose_model_button, Qt.MouseButton.LeftButton)
    dialog = window.findChild(ModelManagerDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.listed_once, timeout=WAIT_MS)
    dialog.reject()
    assert dialog.shutdown(10_000)


def test_citation_markers_are_chips_in_the_accent_tint(qtbot):
    from ragdesk.ui.chat.message_card import MessageCard
    from ragdesk.ui.item_models import ChatEntry

    style.install()
    card = MessageCard(ChatEntry("assistant", "Sixty days [1], see also [the site](https://example.org).", mode="rag"))
    qtbot.addWidget(card)
    t = style.tokens()
    fragments = {}
    block = card.body.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            fragments[fragment.text()] = fragment.charFormat()
            it += 1
        block = block.next()
    chip, link = fragments["[1]"], fragments["the site"]
    assert chip.background().color().name() == t.accent_soft and chip.foreground().color().name() == t.accent_soft_text
    assert link.foreground().color().name() == t.accent and link.background().style() == Qt.BrushStyle.NoBrush
    assert f"background-color: {t.surface}" in card.styleSheet()  # the assistant's card is a plain surface
    user = MessageCard(ChatEntry("user", "How long?"))
    qtbot.addWidget(user)
    assert f"background-color: {t.user_card}" in user.styleSheet()


def test_icons_are_drawn_in_the_colour_asked(qtbot):
    style.install()
    t = style.tokens()
    pixmap = icons.render_svg(icons.shape_svg("stop", "#ff0000"), QSize(24, 24))
    assert has_colour(pixmap, "#ff0000") and not has_colour(pixmap, "#00ff00")
    for name in icons.SHAPES:
        made = icons.icon(name)
        assert not made.isNull()
        assert has_colour(made.pixmap(QSize(18, 18), QIcon.Mode.Disabled, QIcon.State.Off), t.faint), name
    # In a tree an expanded row asks for the "On" state: only checkable buttons turn to the accent's text colour.
    tree = icons.icon("collection", "accent", 16)
    assert has_colour(tree.pixmap(QSize(16, 16), QIcon.Mode.Normal, QIcon.State.On), t.accent)
    assert has_colour(tree.pixmap(QSize(16, 16), QIcon.Mode.Selected, QIcon.State.On), t.accent_soft_text)
    button = icons.icon("rag", "muted", 16, checkable=True)
    assert has_colour(button.pixmap(QSize(16, 16), QIcon.Mode.Normal, QIcon.State.On), t.on_accent)
