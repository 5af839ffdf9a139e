"""segtool.bench"""
