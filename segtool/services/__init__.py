"""Use cases that combine store, io and engines (init a project, import/export, propose).

Shared by the CLI and the GUI so neither re-implements the other; nothing below imports this package.
"""
