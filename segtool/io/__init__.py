"""segtool.io"""
