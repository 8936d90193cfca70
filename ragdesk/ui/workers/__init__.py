"""Running work off the GUI thread."""
