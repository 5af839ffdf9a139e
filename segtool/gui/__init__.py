"""segtool.gui"""
