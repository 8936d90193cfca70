"""The desktop app: PySide6 widgets over the core API.

Only this package (and ``ragdesk.app``) imports Qt, and only through
:mod:`ragdesk.ui.qt`. Importing the package itself imports nothing heavy.
"""
