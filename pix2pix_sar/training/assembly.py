"""The pix2pix pair as `fit` trains it: both networks under the run's dtype policy and
both optimizers, built so that a saved state can be restored into them."""

from __future__ import annotations

import contextlib

from pix2pix_sar.config import Config


@contextlib.contextmanager
def _dtype_policy(name: str):
    """Build layers under a Keras dtype policy, restoring the previous one after."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_pix2pix(cfg: Config, precision: str):
    """Both networks and both Adam optimizers (built, so a checkpoint can restore them).

    Call inside the strategy's scope; the caller seeds first.
    """
    import keras

    from pix2pix_sar.models import build_discriminator, build_generator
    from pix2pix_sar.training.adam import FusedAdam
    from pix2pix_sar.training.step import Pix2Pix

    with _dtype_policy(precision):
        generator = build_generator(cfg.model)
        discriminator = build_discriminator(cfg.model)
    opt = cfg.optimizer
    optimizers = []
    for model in (generator, discriminator):
        optimizer = FusedAdam(opt.learning_rate, beta_1=opt.beta_1, beta_2=opt.beta_2)
        if precision == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        # Keras 3 optimizers create their slots lazily; build them so restore has targets.
        optimizer.build(model.trainable_variables)
        optimizers.append(optimizer)
    return Pix2Pix(generator, discriminator, *optimizers)
