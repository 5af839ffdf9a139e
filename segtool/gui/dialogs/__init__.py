"""segtool.gui.dialogs: export, settings, about."""
