"""DocumentOps over the project's per-image document and core History (filled in against segtool.store)."""
