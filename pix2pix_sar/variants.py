"""The registry of named variants: each a change from the published pix2pix (paper
Sec. III-B) or one of our whole-scene generators, as a ``{section: {key: value}}``
override of :class:`~pix2pix_sar.config.Config` that ``resolve_config`` applies first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Variant:
    """A named change from the published pix2pix, as a nested override."""

    name: str
    description: str
    overrides: Mapping[str, Mapping[str, Any]]


#: What makes a generator whole-scene (`scene`, and `sampler` built on it): fixed depth,
#: no normalisation, coordinate noise instead of dropout, resize decoder.
SCENE_MODEL: Mapping[str, Any] = {
    "unet_depth": 4,
    "normalization": "none",
    "noise": "coordinates",
    "dropout": 0.0,
    "upsampling": "resize",
}

#: The five variants of the paper (Sec. III-B) and our whole-scene variants, registered in one place.
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("orig", "pix2pix as published: 4x4 kernels, GAN 1 + L1 100", {}),
        Variant("gen5", "generator kernels 5x5", {"model": {"generator_kernel": 5}}),
        Variant("dis3", "discriminator kernels 3x3", {"model": {"discriminator_kernel": 3}}),
        Variant("l1_1_gan100", "loss weights GAN 100, L1 1", {"loss": {"gan_weight": 100.0, "l1_weight": 1.0}}),
        Variant("l1_50_gan50", "loss weights GAN 50, L1 50", {"loss": {"gan_weight": 50.0, "l1_weight": 50.0}}),
        Variant(
            "scene",
            "for whole scenes: U-Net depth 4, no normalisation, resize decoder, noise from scene coordinates",
            {"model": SCENE_MODEL},
        ),
        Variant(
            "sampler",
            "samples instead of averaging: scene + class-modulated decoder, 8-channel coarse noise, Gamma speckle, "
            "spectral-norm segmentation discriminator, mode seeking",
            {
                "model": {
                    **SCENE_MODEL,
                    "generator": "sampler",
                    "noise_channels": 8,
                    "speckle_looks": -1.0,
                    "discriminator": "segmentation",
                    # Without it the discriminator wins within ~15 epochs (disc loss 2.1 -> 0.5, A/B).
                    "spectral_norm": True,
                },
                # Mode seeking: without it the samples of one mask differ little beyond speckle
                # (variety 0.23-0.89 of the oracle's; with it 0.78-1.34, experiments/structure_variety).
                "loss": {"adversarial": "segmentation", "l1_weight": 0.0, "diversity_weight": 1.0},
            },
        ),
    )
}
