"""The main window's menus and keyboard shortcuts.

Every command the window offers is reachable here, with its shortcut; the
actions whose state follows the app (the mode checks, Stop) are kept on the
window so that ``MainWindow._update_chat_state`` can enable and check them.
"""

from __future__ import annotations

from ragdesk import paths
from ragdesk.chat.modes import MODE_ORDER, MODES
from ragdesk.llm.registry import DEFAULT_MODEL
from ragdesk.logging_setup import log_file
from ragdesk.ui.qt import QActionGroup, QDesktopServices, QKeySequence, Qt, QUrl


def build_menus(window) -> None:
    """Add File, Models, Chat and Help to ``window``'s menu bar (a MainWindow)."""
    c = window.controller
    file_menu = window.menuBar().addMenu("&File")
    window.new_chat_action = file_menu.addAction("New chat", window.new_chat)
    window.new_chat_action.setShortcut(QKeySequence("Ctrl+N"))
    add = file_menu.addAction("Add folder to library…", window.library.add_folder_dialog)
    add.setShortcut(QKeySequence("Ctrl+O"))
    file_menu.addAction("Add files to library…", window.library.add_files_dialog)
    window.export_action = file_menu.addAction("Export conversation…", window._export_current)
    file_menu.addSeparator()
    settings = file_menu.addAction("Settings…", window.open_settings)
    settings.setShortcuts([QKeySequence("Ctrl+,"), QKeySequence(QKeySequence.StandardKey.Preferences)])
    file_menu.addSeparator()
    quit_action = file_menu.addAction("Quit", window.close)
    quit_action.setShortcut(QKeySequence("Ctrl+Q"))

    models_menu = window.menuBar().addMenu("&Models")
    models_menu.addAction("Load default model", lambda: c.load_model(DEFAULT_MODEL))
    models_menu.addAction("Open model file…", window._open_model_file)
    models_menu.addAction("Manage models…", window.open_model_manager)
    models_menu.addAction("Train adapter…", window.open_train_dialog)

    chat_menu = window.menuBar().addMenu("&Chat")
    window.mode_actions = {}  # mode name -> its checkable action (Ctrl+1..4)
    group = QActionGroup(window)
    for i, mode in enumerate(MODE_ORDER, start=1):
        action = chat_menu.addAction(MODES[mode].label)
        action.setCheckable(True)
        action.setShortcut(QKeySequence(f"Ctrl+{i}"))
        action.triggered.connect(lambda _checked=False, m=mode: window.mode_bar.choose_mode(m))
        group.addAction(action)
        window.mode_actions[mode] = action
    chat_menu.addSeparator()
    window.stop_action = chat_menu.addAction("Stop answer", window.stop)
    window.stop_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
    window.stop_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    focus = chat_menu.addAction("Focus input", window.focus_input)
    focus.setShortcut(QKeySequence("Ctrl+L"))
    search = chat_menu.addAction("Search library", lambda: window.library.search.setFocus())
    search.setShortcut(QKeySequence("Ctrl+F"))
    chat_menu.addSeparator()
    window.compare_action = chat_menu.addAction("Compare the modes", window.show_compare)
    window.compare_action.setShortcut(QKeySequence("Ctrl+Shift+C"))

    help_menu = window.menuBar().addMenu("&Help")
    help_menu.addAction("Open log folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_file().parent))))
    help_menu.addAction("Open data folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.home()))))
    help_menu.addAction("About ragdesk", window._about)
