"""segtool.store"""
