"""KeyedBlobs: a keyed blob field that is a pure function of (k0, k1, scene pixel)."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")


def _blobs(layer, key, height, width, x=None):
    x = tf.zeros((len(key), height, width, 1)) if x is None else x
    return layer([x, tf.constant(np.asarray(key, np.int32))]).numpy()[..., 0]


def test_any_tile_equals_the_crop_of_the_whole_field():
    from pix2pix_sar.models.object_noise import KeyedBlobs

    layer = KeyedBlobs()
    seed = 7
    whole = _blobs(layer, [(seed, 0, 0, 0)], 96, 96)[0]
    assert whole.max() == 1.0  # there are blobs to compare
    # Non-aligned origins, several in one batch (each example its own origin).
    tiles = _blobs(layer, [(seed, 0, 37, 53), (seed, 0, 5, 16), (seed, 0, 56, 3)], 40, 40)
    for tile, (r, c) in zip(tiles, [(37, 53), (5, 16), (56, 3)]):
        np.testing.assert_array_equal(tile, whole[r : r + 40, c : c + 40])
    # Negative origins: CropPlan's tiles start at -margin. A field from (-29, -45) holds
    # the whole field at offset (29, 45).
    shifted = _blobs(layer, [(seed, 0, -29, -45)], 96 + 29, 96 + 45)[0]
    np.testing.assert_array_equal(shifted[29:, 45:], whole)
    tile = _blobs(layer, [(seed, 0, -29, -45)], 40, 40)[0]
    np.testing.assert_array_equal(tile, shifted[:40, :40])


def test_field_is_the_max_over_all_blobs_of_the_soft_disk():
    """A brute-force reference over every blob of the area: the 3x3 neighbourhood misses none."""
    from pix2pix_sar.models.object_noise import KeyedBlobs, blob_cells

    layer = KeyedBlobs(cell=8, probability=0.6, min_radius=3.0, max_radius=7.5)
    origin = (-5, 7)
    got = _blobs(layer, [(11, 2, *origin)], 64, 72)[0]
    first = np.floor_divide(origin, 8) - 1
    key = tf.constant([[11, 2, 0, 0]], tf.int32)
    cells = blob_cells(key, tf.constant([first[0]]), tf.constant([first[1]]), 11, 12, 8, 0.6, 3.0, 7.5).numpy()[0]
    corner = 8 * (first[:, None, None] + np.indices(cells.shape[:2]))  # each cell's scene corner
    centre = (corner + np.moveaxis(cells[..., :2], -1, 0)).reshape(2, -1)
    rows, cols = np.indices(got.shape) + np.array(origin)[:, None, None] + 0.5  # pixel centres
    distance = np.hypot(rows[..., None] - centre[0], cols[..., None] - centre[1])
    want = np.clip(cells[..., 2].reshape(-1) - distance + 0.5, 0, 1).max(-1)
    assert want.max() == 1.0 and 0 < (want > 0).mean() < 1
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_keys_values_density_and_gate():
    from pix2pix_sar.models.object_noise import KeyedBlobs, blob_cells

    layer = KeyedBlobs()
    a, again, other_seed, other_k1 = _blobs(layer, [(1, 0, 0, 0), (1, 0, 0, 0), (2, 0, 0, 0), (1, 5, 0, 0)], 128, 128)
    np.testing.assert_array_equal(a, again)
    assert not np.array_equal(a, other_seed) and not np.array_equal(a, other_k1)
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert 0.01 < (a > 0).mean() < 0.5 and 0.0 < ((a > 0) & (a < 1)).mean()  # sparse, with soft edges

    # The fraction of cells with a blob: 0.3 of 64 x 64 cells (binomial sd ~0.007).
    key = tf.constant([[3, 0, 0, 0]], tf.int32)
    zero = tf.zeros([1], tf.int32)
    cells = blob_cells(key, zero, zero, 64, 64, 16, 0.3, 1.5, 6.0).numpy()[0]
    present = cells[..., 2] > 0
    assert 0.27 < present.mean() < 0.33
    radius = cells[..., 2][present]
    assert radius.min() >= 1.5 and radius.max() <= 6.0
    assert cells[..., :2].min() >= 0.0 and cells[..., :2].max() < 16.0
    # Each blob's centre pixel is at the top (radius >= 1.5 covers it), where the layer draws it.
    field = _blobs(layer, [(3, 0, 0, 0)], 1024, 1024)[0]
    rows, cols = np.nonzero(present)
    centre = (16 * np.stack([rows, cols]) + cells[rows, cols, :2].T).astype(int)
    assert (field[centre[0], centre[1]] == 1.0).all()

    # The gate keeps blobs only where the gate channel is 1.
    gated = KeyedBlobs(gate_channel=1)
    ocean = np.zeros((1, 128, 128, 3), np.float32)
    ocean[:, 64:, :, 1] = 1.0
    ocean[:, :64, :, 0] = 1.0
    out = _blobs(gated, [(1, 0, 0, 0)], 128, 128, tf.constant(ocean))[0]
    assert (out[:64] == 0).all()
    np.testing.assert_array_equal(out[64:], a[64:])


def test_radius_must_stay_within_the_neighbouring_cells():
    from pix2pix_sar.models.object_noise import KeyedBlobs

    with pytest.raises(AssertionError):
        KeyedBlobs(cell=8, max_radius=8.0)


def test_serialization_round_trip_gives_the_same_field():
    import keras

    from pix2pix_sar.models.object_noise import KeyedBlobs

    layer = KeyedBlobs(cell=12, probability=0.5, min_radius=2.0, max_radius=5.0, gate_channel=0, salt=9)
    config = keras.saving.serialize_keras_object(layer)
    assert config["registered_name"] == "pix2pix_sar>KeyedBlobs"
    restored = keras.saving.deserialize_keras_object(config)
    assert restored.get_config() == layer.get_config()
    x = tf.ones((2, 48, 40, 2))
    key = [(4, 1, 10, -3), (4, 2, 0, 0)]
    np.testing.assert_array_equal(_blobs(restored, key, 48, 40, x), _blobs(layer, key, 48, 40, x))
    assert layer.compute_output_shape(((None, None, None, 2), (None, 4))) == (None, None, None, 1)
    # In a functional model of unknown size, too.
    mask, keys = keras.Input((None, None, 2)), keras.Input((4,), dtype="int32")
    model = keras.Model([mask, keys], layer([mask, keys]))
    np.testing.assert_array_equal(
        model([x, tf.constant(np.asarray(key, np.int32))]).numpy()[..., 0], _blobs(layer, key, 48, 40, x)
    )


def test_iceberg_probability_gives_the_share_it_is_asked_for():
    from pix2pix_sar.models.object_noise import iceberg_probability

    # Radius uniform in [1.5, 4.5]: E[r^2] = (2.25 + 6.75 + 20.25) / 3 = 9.75.
    assert iceberg_probability(0.01, 3.0) == pytest.approx(0.01 * 256 / (np.pi * 9.75))
    assert iceberg_probability(0.9, 3.0) == 1.0  # more than disks in every cell can cover


def test_the_iceberg_stage_raises_the_ocean_only_by_its_contrast_keyed_and_tileable():
    import keras

    from pix2pix_sar.models.object_noise import IcebergStage

    stage = IcebergStage(share=0.03, contrast_db=12.0, radius=3.0, db_unit=15.0, gate_channel=1)
    side = 512
    mask = np.zeros((1, side, side, 3), np.float32)
    mask[:, :, : side // 4, 0] = 1.0  # rock on the left, ocean elsewhere
    mask[:, :, side // 4 :, 1] = 1.0
    x = np.full((1, side, side, 1), -0.6, np.float32)

    def run(layer, seed, rows=slice(None), cols=slice(None), origin=(0, 0)):
        key = tf.constant([[seed, 0, *origin]], tf.int32)
        return layer([tf.constant(x[:, rows, cols]), tf.constant(mask[:, rows, cols]), key]).numpy()[0, ..., 0]

    out = run(stage, 1)
    raised = out - x[0, ..., 0]
    assert (raised[:, : side // 4] == 0).all()  # no iceberg on rock
    assert raised.max() == pytest.approx(12.0 / 15.0)  # a berg's top: the contrast, in model units
    covered = (raised > 0.4).mean() / 0.75  # half-raised pixels count: the soft edge is 1 px wide
    assert 0.02 < covered < 0.04, covered
    assert not np.array_equal(run(stage, 2), out)  # another seed, other places
    # Any tile is the whole scene's crop, bit for bit (mask and image cut alike).
    np.testing.assert_array_equal(run(stage, 1, slice(37, 137), slice(201, 301), (37, 201)), out[37:137, 201:301])
    # Clipped to the targets' range.
    bright = IcebergStage(share=0.03, contrast_db=40.0, radius=3.0, db_unit=15.0, gate_channel=1)
    assert run(bright, 1).max() == 1.0
    rebuilt = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(stage))
    np.testing.assert_array_equal(run(rebuilt, 1), out)
