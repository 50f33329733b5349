"""Loading a saved generator snapshot (the run folder names the file)."""

from __future__ import annotations

from pathlib import Path


def load_generator(path: str | Path):
    """The Keras generator saved at `path` (weights and architecture, no optimizer)."""
    import keras

    from pix2pix_sar.models.inference import PerImageBatchNorm

    return keras.models.load_model(path, compile=False, custom_objects={"PerImageBatchNorm": PerImageBatchNorm})
