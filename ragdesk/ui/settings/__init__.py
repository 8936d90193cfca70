"""The settings dialog and its panels (engine, serving)."""
