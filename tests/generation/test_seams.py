"""Grid statistic: white noise ~1, a pattern repeated per tile stands out, stripes and
left-out pixels do not count."""

import numpy as np
import pytest

from pix2pix_sar.data.zones import GLACIER, NODATA, OCEAN, ROCK
from pix2pix_sar.generation.seams import grid_statistic

SIZE = 576  # 12 x 12 cells of 48 pixels
CLASS_DB = {ROCK: -6.0, GLACIER: -9.0, OCEAN: -18.0}


def zone_map(size: int = SIZE) -> np.ndarray:
    """Rock at the sides, a glacier between them with a wavy front, ocean below, and
    a no-data swath corner."""
    rows, cols = np.mgrid[0:size, 0:size]
    zones = np.full((size, size), ROCK, np.uint8)
    fjord = np.abs(cols - size / 2) < size * (0.2 + 0.2 * rows / size)
    zones[fjord] = GLACIER
    zones[fjord & (rows > size * (0.55 + 0.05 * np.sin(cols / 17.0)))] = OCEAN
    zones[rows + cols < size * 0.3] = NODATA
    return zones


def noise_scene(zones: np.ndarray, seed: int = 0) -> np.ndarray:
    """Class means plus unit white noise; no data holds garbage."""
    rng = np.random.default_rng(seed)
    image = rng.normal(0.0, 1.0, zones.shape)
    for code, db in CLASS_DB.items():
        image[zones == code] += db
    image[zones == NODATA] = 0.0
    return image


def tiled(pattern: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    reps = (-(-shape[0] // pattern.shape[0]), -(-shape[1] // pattern.shape[1]))
    return np.tile(pattern, reps)[: shape[0], : shape[1]]


@pytest.fixture(scope="module")
def scene():
    zones = zone_map()
    return zones, noise_scene(zones), grid_statistic(noise_scene(zones), zones)


def test_white_noise_per_class_gives_about_one(scene):
    _, _, stat = scene
    values = np.array(list(stat.per_stride.values()))
    assert set(stat.per_stride) == set(range(16, 257))  # all leave >= 2 x 2 whole cells
    assert stat.value <= 2.0
    assert abs(values.mean() - 1.0) < 0.1  # normalised by the degrees of freedom left


def test_a_pattern_repeated_every_48_pixels_stands_out(scene):
    zones, image, _ = scene
    pattern = np.random.default_rng(5).normal(0.0, 1.0, (48, 48))
    pattern *= 0.5 / pattern.std()  # half the noise's standard deviation
    stat = grid_statistic(image + tiled(pattern, zones.shape), zones)
    assert stat.per_stride[48] >= 20 and stat.value >= 20
    # A period-48 pattern also repeats (partly) at 16 and 24 and wholly at 96...
    assert 48 % stat.stride == 0 or stat.stride % 48 == 0
    # ...but not at unrelated strides.
    assert stat.per_stride[47] <= 2 and stat.per_stride[50] <= 2


def test_stripes_are_separable_and_do_not_count(scene):
    zones, image, _ = scene
    rng = np.random.default_rng(6)
    stripes = rng.normal(0, 1, (48, 1)) + rng.normal(0, 1, (1, 48))  # rows + columns, period 48
    stat = grid_statistic(image + tiled(stripes, zones.shape), zones)
    assert stat.value <= 2.0 and stat.per_stride[48] <= 2.0


def test_no_data_pixels_are_ignored(scene):
    zones, image, stat = scene
    garbage = image.copy()
    garbage[zones == NODATA] = 1e6
    again = grid_statistic(garbage, zones)
    assert (again.stride, again.value) == (stat.stride, pytest.approx(stat.value, rel=1e-12))
    np.testing.assert_allclose(list(again.per_stride.values()), list(stat.per_stride.values()), rtol=1e-12)


def test_pixels_within_three_pixels_of_another_class_are_left_out():
    from scipy import ndimage

    zones = zone_map(256)
    image = noise_scene(zones)
    # Chebyshev distance of each pixel to the nearest pixel of another class (or no data).
    distance = np.full(zones.shape, np.inf)
    for code in np.unique(zones):
        inside = zones == code
        distance[inside] = ndimage.distance_transform_cdt(inside, metric="chessboard")[inside]
    strides = range(16, 129, 7)
    base = grid_statistic(image, zones, strides).per_stride
    near = image.copy()
    near[distance <= 3] = 1e6
    assert grid_statistic(near, zones, strides).per_stride == pytest.approx(base, rel=1e-12)
    further = image.copy()
    further[distance == 4] += 50.0
    assert grid_statistic(further, zones, strides).per_stride != pytest.approx(base, rel=1e-6)


def test_with_every_pixel_valid_it_is_the_plain_fold():
    """All pixels valid: F(s) = mean(part^2 / (var / n)) / ((s - 1) / s)^2, with part
    the mean cell less its row and column means plus its overall mean."""
    rng = np.random.default_rng(2)
    image = rng.normal(0.0, 2.0, (130, 110)) + 0.3 * tiled(rng.normal(size=(20, 20)), (130, 110))
    zones = np.full(image.shape, GLACIER, np.uint8)
    s = 20
    residual = image - image.mean()
    var = (residual**2).sum() / (residual.size - 1)
    crop = residual[: 130 // s * s, : 110 // s * s]
    cells = [crop[i : i + s, j : j + s] for i in range(0, crop.shape[0], s) for j in range(0, crop.shape[1], s)]
    cell = np.mean(cells, axis=0)
    part = cell - cell.mean(1, keepdims=True) - cell.mean(0, keepdims=True) + cell.mean()
    expected = np.mean(part**2 / (var / len(cells))) / ((s - 1) / s) ** 2
    stat = grid_statistic(image, zones, strides=[s, 56, 60], edge=0)
    assert set(stat.per_stride) == {s}  # 56 and 60 leave 2 x 1 whole cells
    assert stat.per_stride[s] == pytest.approx(expected, rel=1e-9)


def test_strides_without_two_by_two_cells_are_skipped():
    zones = zone_map(100)
    image = noise_scene(zones)
    assert set(grid_statistic(image, zones, strides=[16, 50, 51]).per_stride) == {16, 50}
    with pytest.raises(ValueError, match="2 x 2"):
        grid_statistic(image, zones, strides=[51, 80])
