"""Checks of rendered objects: offline (schemas, names, wiring, size limits) and against a live API server."""
