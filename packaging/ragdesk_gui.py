"""PyInstaller's entry script for the frozen ``ragdesk-gui`` (the same as the installed entry point)."""

import multiprocessing
import sys

from ragdesk.app import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a library that spawns a helper process must not re-run the app
    sys.exit(main())
