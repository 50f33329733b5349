"""The generator's noise is its dropout: seeding it, and the RNG states that carry it.

Keras keeps dropout's seed-generator states out of ``model.weights``, so whoever
must reproduce or resume the noise (the training loop's checkpoint, the evaluation
sweep, generation) collects them here.
"""

from __future__ import annotations


def seed_dropout(seed: int) -> None:
    """Seed Keras' global RNG: dropout layers built after this call draw repeatable masks."""
    import keras

    keras.utils.set_random_seed(seed)


def dropout_rng_states(model) -> list:
    """The seed-generator state variables of `model`'s dropout layers, in layer order."""
    import keras

    return [layer.seed_generator.state for layer in model._flatten_layers() if isinstance(layer, keras.layers.Dropout)]
