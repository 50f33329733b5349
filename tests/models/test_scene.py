"""The whole-scene variants (`scene`, `sampler`): fixed, translation-equivariant functions with a finite reach."""

import numpy as np
import pytest

from pix2pix_sar.config import resolve_config

#: Variant -> settings fit would otherwise take from dataset.json (the sampler's speckle).
WHOLE_SCENE = {"scene": [], "sampler": ["model.speckle_looks=4", "model.speckle_db_unit=10"]}


def _scene_generator(variant: str = "scene"):
    from pix2pix_sar.models import build_generator
    from pix2pix_sar.models.inference import inference_generator, make_generate_fn

    assignments = ["model.patch_size=64", "model.base_filters=8", *WHOLE_SCENE[variant]]
    cfg = resolve_config(variant, assignments=assignments).model
    gen = build_generator(cfg)
    rng = np.random.default_rng(0)
    gen.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in gen.get_weights()])
    return cfg, make_generate_fn(inference_generator(gen, cfg))


@pytest.mark.parametrize("variant", WHOLE_SCENE)
def test_measured_reach_is_within_the_bound_the_tiling_uses(variant):
    import tensorflow as tf

    cfg, generate = _scene_generator(variant)
    size, centre = 320, 160
    rng = np.random.default_rng(1)
    masks = rng.uniform(-1, 1, (1, size, size, 1)).astype(np.float32)
    keys = tf.zeros((1, 4), tf.int32)
    base = generate(masks, keys).numpy()[0, ..., 0]
    block = slice(centre - 8, centre + 8)  # every phase of the 16-pixel stride
    reach = 0
    for d in range(9, 8 + cfg.reach + 24):
        changed = masks.copy()
        changed[0, [centre - d, centre + d - 1], :, 0] += 1
        changed[0, :, [centre - d, centre + d - 1], 0] += 1
        out = generate(changed, keys).numpy()[0, ..., 0]
        if np.abs(out[block, block] - base[block, block]).max() > 0:
            reach = d - 8
    assert cfg.reach - 8 < reach <= cfg.reach, (reach, cfg.reach)  # the bound is tight


@pytest.mark.parametrize("variant", WHOLE_SCENE)
def test_any_tile_gives_the_whole_scene_pixels(variant):
    from pix2pix_sar.generation.tiling import CropPlan
    from pix2pix_sar.noise import tile_keys

    cfg, generate = _scene_generator(variant)
    height, width = 300, 260
    mask = np.where(np.random.default_rng(2).random((height, width)) < 0.5, -1.0, 1.0).astype(np.float32)[..., None]

    def batch(tiles, origins):
        return generate(tiles, tile_keys(5, origins[:, 0], origins[:, 1])).numpy()

    def whole(tile):
        plan = CropPlan(width, height, tile, 56)
        image = np.full((height, width), np.nan, np.float32)
        for row, block in plan.generate(lambda r, n: mask[r : r + n], batch, batch_size=3):
            image[row : row + block.shape[0]] = block
        assert not np.isnan(image).any()
        return image

    small, large = whole(128), whole(416)
    assert np.abs(small - large).max() <= 1e-3
    # The noise is on: another seed gives another image.
    plan = CropPlan(width, height, 416, 56)
    other = np.concatenate(
        [
            b
            for _, b in plan.generate(
                lambda r, n: mask[r : r + n], lambda t, o: generate(t, tile_keys(6, o[:, 0], o[:, 1])).numpy()
            )
        ]
    )
    assert np.abs(other - large).max() > 1e-3
