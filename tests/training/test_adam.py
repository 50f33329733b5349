"""The fused Adam update is Keras's Adam to float rounding, and checkpoints alike."""

import numpy as np


def _applier(opt, variables):
    return lambda grads: opt.apply_gradients(zip(grads, variables))


def test_fused_adam_equals_keras_adam_over_steps_and_shares_its_checkpoint_layout(tmp_path):
    import keras
    import tensorflow as tf

    from pix2pix_sar.training.adam import FusedAdam

    rng = np.random.default_rng(0)
    init = [rng.normal(0, 1, s).astype(np.float32) for s in [(3, 3, 2, 4), (4,)]]
    grads = [[rng.normal(0, 1, w.shape).astype(np.float32) for w in init] for _ in range(5)]
    results = []
    for cls in (keras.optimizers.Adam, FusedAdam):
        variables = [keras.Variable(w) for w in init]
        opt = cls(2e-2, beta_1=0.5)
        opt.build(variables)
        apply = tf.function(_applier(opt, variables))
        for g in grads:
            apply([tf.constant(x) for x in g])
        results.append((variables, opt))
    (keras_vars, keras_opt), (fused_vars, fused_opt) = results
    for a, b in zip(keras_vars, fused_vars, strict=True):
        assert np.abs(a.numpy() - init[0 if a.shape == init[0].shape else 1]).max() > 1e-2  # it moved
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-6, rtol=0)
    for a, b in zip(keras_opt.variables, fused_opt.variables, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-6, rtol=1e-6)
    # A Keras Adam checkpoint restores into the fused one (same slots, same names).
    path = tf.train.Checkpoint(optimizer=keras_opt).save(str(tmp_path / "ckpt"))
    fresh = FusedAdam(2e-2, beta_1=0.5)
    fresh.build([keras.Variable(w) for w in init])
    tf.train.Checkpoint(optimizer=fresh).restore(path).assert_consumed()
    assert int(fresh.iterations.numpy()) == 5
