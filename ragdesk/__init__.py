"""ragdesk: ask questions of your own documents with a local language model.

The core (everything here except :mod:`ragdesk.ui` and :mod:`ragdesk.app`) never
imports Qt, so the CLI, the tests and the GUI all drive the same engine.
"""

__version__ = "0.1.0"
