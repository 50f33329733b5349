"""Parameter counts of a model configuration."""

from __future__ import annotations

import dataclasses
import functools

from pix2pix_sar.config import ModelConfig
from pix2pix_sar.models.blocks import count_parameters
from pix2pix_sar.models.discriminator import build_discriminator
from pix2pix_sar.models.generator import build_generator


@functools.lru_cache(maxsize=None)
def parameter_counts(cfg: ModelConfig) -> tuple[int, int]:
    """(generator, discriminator) parameter counts; built once per architecture."""
    if not cfg.speckle_resolved:  # fit reads them from dataset.json; the speckle stage has no weights
        cfg = dataclasses.replace(cfg, speckle_looks=1.0, speckle_db_unit=1.0)
    if not cfg.front_phase_resolved:  # fit reads the bands from dataset.json; the shift has no weights
        cfg = dataclasses.replace(cfg, front_phase_shift=0.0)
    if not cfg.iceberg_resolved:  # fit finds the ocean channel and reads the icebergs; no weights there
        cfg = dataclasses.replace(cfg, iceberg_gate_channel=0, iceberg_share=0.0)
    return count_parameters(build_generator(cfg)), count_parameters(build_discriminator(cfg))
