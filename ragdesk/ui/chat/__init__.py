"""The chat room: conversation view, message cards, mode switch, sources panel, page viewer, the engine's worker."""
