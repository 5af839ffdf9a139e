"""segtool.gui.panels"""
