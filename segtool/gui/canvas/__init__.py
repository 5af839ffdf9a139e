"""segtool.gui.canvas"""
