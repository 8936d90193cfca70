"""The compare room: modes side by side."""
