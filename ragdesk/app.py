"""The desktop app's entry point: ``ragdesk-gui``, and ``ragdesk`` with no command.

Startup is kept fast: only Qt, the database layer and the widgets are imported
here; torch, sentence-transformers and llama.cpp are imported later by the
worker threads, when something is first indexed, searched or answered.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("ragdesk.app")


def _parser() -> argparse.ArgumentParser:
    from ragdesk import __version__

    parser = argparse.ArgumentParser(
        prog="ragdesk-gui", description="Ask questions of your own documents with a local language model."
    )
    parser.add_argument("--home", metavar="FOLDER", help="data folder to use instead of the default")
    parser.add_argument(
        "--self-test", action="store_true", help="check that the app's parts load and work, then exit"
    )
    parser.add_argument("--version", action="version", version=f"ragdesk {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the window (or the self-test); returns the exit code."""
    from ragdesk import paths

    args, qt_args = _parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.home:
        paths.set_home(args.home)
    if args.self_test:
        try:
            from ragdesk.ui.selftest import run_self_test
        except ImportError:
            print("ragdesk: the self-test is not part of this build.", file=sys.stderr)
            return 2
        return int(run_self_test())
    return run_gui(qt_args)


def _icon_path() -> Path | None:
    """The app icon, from the package data (every install has it)."""
    from ragdesk.package_data import icon_path

    return icon_path()


def run_gui(qt_args: list[str] | None = None) -> int:
    """Create the application and the main window; runs until the window closes."""
    from ragdesk.logging_setup import setup_logging

    setup_logging()
    from ragdesk.ui.qt import QApplication, QIcon, QMessageBox

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "ragdesk", *(qt_args or [])])
    app.setApplicationName("ragdesk")
    app.setApplicationDisplayName("ragdesk")
    app.setOrganizationName("ragdesk")
    app.setDesktopFileName("ragdesk")  # Wayland/X11 match the window to ragdesk.desktop
    icon = _icon_path()
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))

    from ragdesk.logging_setup import log_file
    from ragdesk.ui.errors import describe
    from ragdesk.ui.main_window import create_main_window

    try:
        window = create_main_window()
    except Exception as exc:  # noqa: BLE001 - e.g. a locked or damaged database: say so and exit
        log.exception("ragdesk could not start")
        QMessageBox.critical(
            None, "ragdesk cannot start", f"{describe(exc)}\n\nDetails are in the log file:\n{log_file()}"
        )
        return 1
    window.show()
    log.info("window shown")
    _close_on_signals(window)
    return app.exec()


def _close_on_signals(window) -> None:
    """Ctrl+C or a TERM signal in a terminal closes the window properly (jobs cancelled, state saved)."""
    import signal

    from ragdesk.ui.qt import QTimer

    def close(*_args) -> None:
        window.close()

    for name in ("SIGINT", "SIGTERM"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), close)
    # Python runs signal handlers only between bytecodes: wake it up now and then.
    window._signal_timer = timer = QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(250)


if __name__ == "__main__":
    sys.exit(main())
