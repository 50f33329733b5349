"""pix2pix-sar: synthetic glacier SAR images from segmentation masks (pix2pix cGAN)."""

__version__ = "0.2.0"

#: What a training step means: 2 = per-image normalisation and keyed noise at any
#: batch size (runs of format 1 trained BatchNorm over the batch with stateful dropout);
#: 3 = one data order for any replica count (format 2 shuffled per replica).
RUN_FORMAT = 3


def load(path, *, epoch=None, xla="auto"):
    """A trained generator for Python: ``pix2pix_sar.load(RUN_OR_EXPORT).generate(zones)``
    (:mod:`pix2pix_sar.api`). Imported here on first use, so that ``import pix2pix_sar``
    stays light (every module of the package imports this one)."""
    from pix2pix_sar.api import load as load_generator

    return load_generator(path, epoch=epoch, xla=xla)
