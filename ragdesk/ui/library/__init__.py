"""The library room: collections and folders, indexing jobs, live folders."""
