"""The pix2pix networks: block helpers and functional builders."""

from pix2pix_sar.models.blocks import count_parameters, downsample, upsample
from pix2pix_sar.models.discriminator import build_discriminator
from pix2pix_sar.models.generator import build_generator, unet_depth

__all__ = [
    "build_discriminator",
    "build_generator",
    "count_parameters",
    "downsample",
    "unet_depth",
    "upsample",
]
