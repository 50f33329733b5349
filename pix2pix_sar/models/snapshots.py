"""Loading a saved generator snapshot (the run folder names the file)."""

from __future__ import annotations

from pathlib import Path


def load_generator(path: str | Path):
    """The Keras generator saved at `path` (weights and architecture, no optimizer)."""
    import keras

    # Importing the layers registers them (PerImageBatchNorm, KeyedDropout, CoordinateNoise, ...).
    from pix2pix_sar.models import front_shift, layers, object_noise

    custom = {
        name: getattr(layers, name)
        for name in (
            "PerImageBatchNorm",
            "KeyedDropout",
            "CoordinateNoise",
            "Bilinear2x",
            "SpeckleStage",
            "SensorLooks",
            "SmoothField",
        )
    }
    custom["KeyedBlobs"], custom["FrontPhaseShift"] = object_noise.KeyedBlobs, front_shift.FrontPhaseShift
    return keras.models.load_model(path, compile=False, custom_objects=custom)
