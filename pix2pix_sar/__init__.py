"""pix2pix-sar: synthetic glacier SAR images from segmentation masks (pix2pix cGAN)."""

__version__ = "0.2.0"

#: What a training step means: 2 = per-image normalisation and keyed noise at any
#: batch size (runs of format 1 trained BatchNorm over the batch with stateful dropout);
#: 3 = one data order for any replica count (format 2 shuffled per replica).
RUN_FORMAT = 3
