"""segtool.engines"""
