"""No-data with extra bands (issue 20): validity comes from the mask channels alone.

`prepare --extra` writes -1 into every band at no-data pixels, so a rule that takes a
pixel as valid when *any* input channel is non-zero lets every no-data pixel into the
L1 loss and shows the discriminator the raw generated values there."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.zones import CLASS_SCHEMES, encode_binary, valid_pixels, valid_zones


@pytest.fixture(scope="module")
def band_dataset(scene, tmp_path_factory):
    """32-pixel binary patches of `scene` with its DEM as a band, up to half no-data."""
    sar, zones = scene
    out = tmp_path_factory.mktemp("nodata_band") / "dataset"
    args = ["prepare", "--sar", sar, "--mask", zones, "--extra", f"dem={sar.parent / 'dem.tif'}", "--out", out]
    args += ["--patch-size", 32, "--max-nodata", 0.5, "--classes", "binary"]
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


class _Spy:
    """A discriminator that records what it is shown (the step must run eagerly)."""

    def __init__(self, model):
        self.model, self.seen = model, []

    @property
    def trainable_variables(self):
        return self.model.trainable_variables

    def __call__(self, inputs, training):
        self.seen.append([x.numpy() for x in inputs])
        return self.model(inputs, training=training)


def test_valid_pixels_reads_only_the_mask_channels():
    zones = np.array([[[0, 64, 127, 254]]], np.uint8)
    band = np.full((1, 1, 4, 1), -1.0, np.float32)  # a band at its no-data value everywhere
    for scheme in CLASS_SCHEMES.values():
        inputs = np.concatenate([scheme.encode(zones), band], axis=-1)
        expected = valid_zones(zones)[..., None].astype(np.float32)
        np.testing.assert_array_equal(valid_pixels(inputs, scheme.channels), expected)
        assert valid_pixels(inputs, scheme.channels + 1).all()  # the old any-channel rule
    import tensorflow as tf

    inputs = tf.constant(np.concatenate([encode_binary(zones), band], axis=-1))
    np.testing.assert_array_equal(valid_pixels(inputs, 1).numpy(), [[[[0.0], [1.0], [1.0], [1.0]]]])


def test_the_loss_and_the_discriminator_see_only_valid_pixels_with_a_band(band_dataset, tiny_config):
    import keras
    import tensorflow as tf

    from pix2pix_sar.data.dataset import load_split
    from pix2pix_sar.data.extra_bands import encode_inputs
    from pix2pix_sar.noise import patch_keys
    from pix2pix_sar.training.assembly import build_pix2pix
    from pix2pix_sar.training.step import Pix2Pix, make_gradient_fn

    split = load_split(band_dataset, "train")
    nodata_share = (split.zones == 0).mean(axis=(1, 2))
    pick = np.flatnonzero((nodata_share > 0.05) & (nodata_share <= 0.5))[:3]
    assert len(pick) >= 2, "the scene's swath edge should give patches with some no-data"
    zones, targets = split.zones[pick], split.images[pick]
    masks = encode_inputs(CLASS_SCHEMES["binary"], zones, split.extras[pick])
    valid = valid_zones(zones)[..., None]
    assert masks.shape[-1] == 2 and (masks[..., 1][~valid[..., 0]] == -1.0).all()  # the band's no-data value

    cfg = tiny_config("orig", "model.patch_size=32", "model.in_channels=2", "model.dropout=0.0")
    keras.utils.set_random_seed(0)
    nets = build_pix2pix(cfg, "float32")
    spy = _Spy(nets.discriminator)
    spied = Pix2Pix(nets.generator, spy, nets.generator_optimizer, nets.discriminator_optimizer)
    keys = tf.constant(patch_keys(0, np.arange(len(pick))))
    fake = nets.generator([tf.constant(masks), keys], training=True).numpy()

    def step(mask_channels):
        spy.seen.clear()
        tf.config.run_functions_eagerly(True)
        try:
            losses, _, _ = make_gradient_fn(spied, cfg.loss, len(pick), mask_channels=mask_channels)(
                tf.constant(masks), tf.constant(targets), keys
            )
        finally:
            tf.config.run_functions_eagerly(False)
        [[_, shown]] = spy.seen
        return float(losses["gen_l1"]), shown[len(pick) :]  # the generated half of the joint call

    expected = np.mean([np.abs(t - f)[v].mean() for t, f, v in zip(targets, fake, valid)])
    gen_l1, judged = step(mask_channels=1)
    assert gen_l1 == pytest.approx(expected, rel=1e-5)
    assert (judged[~valid] == -1.0).all()
    np.testing.assert_allclose(judged[valid], fake[valid], atol=1e-6)

    # The old rule (any input channel non-zero, the band included) counts every pixel.
    old_l1, old_judged = step(mask_channels=2)
    assert old_l1 == pytest.approx(np.abs(targets - fake).mean(), rel=1e-5)
    assert abs(old_l1 - expected) > 1e-3 * expected
    assert (old_judged[~valid] != -1.0).any()


def test_fit_passes_the_schemes_mask_channels_to_the_step(band_dataset, tiny_config, tmp_path, monkeypatch):
    from pix2pix_sar.training import step
    from pix2pix_sar.training.loop import fit

    class Stop(Exception):
        pass

    seen = {}

    def spy(*args, **kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(step, "make_train_step", spy)
    with pytest.raises(Stop):
        fit(tiny_config("orig", epochs=1), band_dataset, tmp_path / "run")
    assert seen["mask_channels"] == 1  # binary mask; the dem band makes in_channels 2
