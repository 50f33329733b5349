"""Tiling and blending without a network: exact reconstruction, streaming, seam metric."""

import numpy as np
import pytest

from pix2pix_sar.generation.seams import seam_stats
from pix2pix_sar.generation.tiling import TilePlan, blend_ramp, generate_rows, tile_positions


@pytest.mark.parametrize("length, tile, overlap", [(1000, 32, 8), (700, 64, 16), (33, 32, 8), (20, 32, 8), (96, 32, 0)])
def test_tiles_cover_the_axis_with_at_least_the_overlap(length, tile, overlap):
    pos = tile_positions(length, tile, overlap)
    assert pos[0] == 0 and pos[-1] + tile >= length
    assert all(b - a <= tile - overlap for a, b in zip(pos, pos[1:]))


def test_neighbouring_ramps_sum_to_one_over_the_overlap():
    ramp = blend_ramp(32, 8)
    np.testing.assert_allclose(ramp[24:] + ramp[:8], 1.0, atol=1e-6)
    assert ramp.min() > 0 and ramp[8:24].min() == 1.0


@pytest.mark.parametrize("width, height, overlap", [(1000, 700, 8), (37, 41, 8), (100, 20, 16), (64, 64, 0)])
def test_blending_an_exact_generator_gives_back_its_input_row_by_row(width, height, overlap):
    """A 'generator' that returns its input must reproduce the mask exactly: each
    row once, in order, whatever the size, padding and overlap."""
    mask = np.random.default_rng(0).uniform(-1, 1, (height, width, 1)).astype(np.float32)
    reads = []

    def read_rows(row, n):
        reads.append(n)
        return mask[row : row + n]

    plan = TilePlan(width, height, 32, overlap)
    batches = []
    blocks = list(generate_rows(plan, read_rows, lambda t, origins: batches.append(len(t)) or t, batch_size=5))
    assert [r for r, _ in blocks] == sorted(r for r, _ in blocks) and blocks[0][0] == 0
    image = np.concatenate([b for _, b in blocks])
    assert image.shape == (height, width)
    np.testing.assert_allclose(image, mask[..., 0], atol=1e-5)
    assert max(reads) <= 32 and max(batches) <= 5 and sum(batches) == plan.tile_count


def test_seam_metric_sees_hard_tile_edges():
    plan = TilePlan(256, 256, 32, 0)
    rng = np.random.default_rng(1)
    texture = rng.normal(0, 0.1, (256, 256))
    assert abs(seam_stats(texture, plan).ratio - 1) < 0.05
    offsets = np.repeat(np.repeat(rng.normal(0, 0.3, (8, 8)), 32, 0), 32, 1)  # one brightness per tile
    assert seam_stats(texture + offsets, plan).ratio > 1.5
