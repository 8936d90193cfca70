"""The evaluation room: runs and reports."""
