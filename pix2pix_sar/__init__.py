"""pix2pix-sar: synthetic glacier SAR images from segmentation masks (pix2pix cGAN)."""

__version__ = "0.1.0"
