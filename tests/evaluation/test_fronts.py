import numpy as np

from pix2pix_sar.data.zones import GLACIER, NODATA, OCEAN, ROCK
from pix2pix_sar.evaluation.fronts import front_mask, mean_distance_error


def _glacier_over_ocean(front_row: int, size: int = 64) -> np.ndarray:
    zones = np.full((size, size), OCEAN, np.uint8)
    zones[:front_row] = GLACIER
    zones[:, :4] = ROCK
    return zones


def test_front_is_glacier_touching_ocean_in_4_neighbourhood():
    zones = _glacier_over_ocean(30)
    front = front_mask(zones)
    assert front[29, 4:].all() and front.sum() == 60  # one row, rock columns excluded
    diagonal = np.array([[GLACIER, ROCK], [ROCK, OCEAN]], np.uint8)
    assert not front_mask(diagonal).any()  # a diagonal contact is no front
    assert not front_mask(np.where(zones == OCEAN, NODATA, zones)).any()


def test_a_front_moved_by_5_pixels_at_20_m_gives_100_m():
    result = mean_distance_error([_glacier_over_ocean(35)], [_glacier_over_ocean(30)], 20.0)
    assert result.mde_m == 100.0 and result.images_with_both == 1 and result.distances == 120


def test_distances_are_pooled_and_one_sided_fronts_counted_apart():
    no_front = np.full((64, 64), OCEAN, np.uint8)
    result = mean_distance_error(
        [_glacier_over_ocean(31), _glacier_over_ocean(40), no_front, _glacier_over_ocean(20)],
        [_glacier_over_ocean(30), _glacier_over_ocean(30), _glacier_over_ocean(10), no_front],
        [10.0, 10.0, 10.0, 10.0],
    )
    # 60 + 60 distances of 1 px and 60 + 60 of 10 px, at 10 m: pooled mean 55 m.
    assert result.mde_m == 55.0 and (result.only_true, result.only_predicted) == (1, 1)
    assert np.isnan(mean_distance_error([no_front], [no_front], 10.0).mde_m)


def test_iou_from_one_confusion_matrix_over_valid_pixels():
    from pix2pix_sar.evaluation.metrics import confusion_matrix, iou_per_class

    true = np.array([[0, 0, 1, 1], [2, 2, 2, 2]])
    pred = np.array([[0, 1, 1, 1], [2, 2, 0, 0]])
    valid = np.array([[True, True, True, True], [True, True, True, False]])
    confusion = confusion_matrix(pred, true, valid, 3)
    assert confusion.sum() == 7 and confusion[2, 0] == 1  # the invalid pixel is not counted
    iou = iou_per_class(confusion)
    np.testing.assert_allclose(iou, [1 / 3, 2 / 3, 2 / 3])
