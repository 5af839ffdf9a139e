"""segtool: annotate images with segmentation masks (SAM clicks, classical tools, COCO/VOC export)."""

__version__ = "0.1.0"
