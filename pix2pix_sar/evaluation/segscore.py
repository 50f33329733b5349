"""The segmentation score: what a trained zone segmenter (``seg fit``) makes of SAR patches.

``seg evaluate`` (:func:`seg_evaluate`) scores the segmenter on real patches; ``evaluate --segmenter`` scores
a generator by segmenting its images and comparing with the masks they were made
from (the "FCN-score" of pix2pix, SPADE and OASIS), beside the same segmenter on
the real images (the ceiling).

IoU: one confusion matrix over all valid pixels (zone != 0) of the set; mIoU is the
mean over the classes. MDE (zones scheme only): :mod:`pix2pix_sar.evaluation.fronts`,
in metres from each patch's pixel size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pix2pix_sar import jsonio
from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.data.dataset import load_info, load_split
from pix2pix_sar.data.zones import NODATA, ClassScheme
from pix2pix_sar.errors import InputError, option
from pix2pix_sar.evaluation.fronts import mean_distance_error
from pix2pix_sar.evaluation.groups import patch_groups
from pix2pix_sar.evaluation.metrics import confusion_matrix, iou_per_class
from pix2pix_sar.run_folder import SegRunFolder
from pix2pix_sar.segmentation.model import TrainedSegmenter


def has_fronts(scheme: ClassScheme) -> bool:
    """Calving fronts need glacier and ocean told apart (the zones scheme)."""
    return "glacier" in scheme.class_names and "ocean" in scheme.class_names


def score_names(scheme: ClassScheme) -> list[str]:
    """Keys of :func:`segmentation_scores` for `scheme`, in order."""
    names = ["miou", *(f"iou_{n}" for n in scheme.class_names)]
    if has_fronts(scheme):
        names += ["mde_m", "mde_images", "front_only_predicted", "front_only_true"]
    return names


def segmentation_scores(
    predicted: np.ndarray, zones: np.ndarray, scheme: ClassScheme, pixel_sizes: np.ndarray
) -> dict[str, float]:
    """Per-class IoU, mIoU and (zones) the front MDE of predicted class indices
    (N, H, W) against true zone codes (N, H, W); no-data pixels never count."""
    scores = SegmentationScores(scheme)
    scores.add(predicted, zones, pixel_sizes)
    return scores.result()


class SegmentationScores:
    """:func:`segmentation_scores` of a set given batch by batch (memory does not grow
    with the set): the confusion matrix and the front distances' sum are added up."""

    def __init__(self, scheme: ClassScheme):
        self.scheme = scheme
        self.confusion = np.zeros((len(scheme.class_names),) * 2, np.int64)
        self.distance_sum, self.distances, self.both, self.only_predicted, self.only_true = 0.0, 0, 0, 0, 0

    def add(self, predicted: np.ndarray, zones: np.ndarray, pixel_sizes: np.ndarray) -> None:
        labels, valid = self.scheme.labels(zones)
        self.confusion += confusion_matrix(predicted, labels, valid, len(self.scheme.class_names))
        if has_fronts(self.scheme):
            zone_of_class = np.array([codes[0] for codes in self.scheme.class_codes], np.uint8)
            pred_zones = np.where(valid, zone_of_class[predicted], NODATA)
            fronts = mean_distance_error(list(pred_zones), list(zones), pixel_sizes)
            if fronts.distances:
                self.distance_sum += fronts.mde_m * fronts.distances
            self.distances += fronts.distances
            self.both += fronts.images_with_both
            self.only_predicted += fronts.only_predicted
            self.only_true += fronts.only_true

    def result(self) -> dict[str, float]:
        iou = iou_per_class(self.confusion)
        scores: dict[str, float] = {"miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")}
        scores.update({f"iou_{name}": float(v) for name, v in zip(self.scheme.class_names, iou, strict=True)})
        if has_fronts(self.scheme):
            scores.update(
                mde_m=self.distance_sum / self.distances if self.distances else float("nan"),
                mde_images=self.both,
                front_only_predicted=self.only_predicted,
                front_only_true=self.only_true,
            )
        return scores


class Segmenter(TrainedSegmenter):
    """A trained segmenter (:mod:`pix2pix_sar.segmentation.model`) that scores what it segments."""

    def score(self, images: np.ndarray, zones: np.ndarray, pixel_sizes: np.ndarray) -> dict[str, float]:
        return segmentation_scores(self.predict(images), zones, self.scheme, pixel_sizes)


def default_dataset(folder: SegRunFolder) -> Path:
    """The first real dataset the segmenter trained on (else its first dataset)."""
    datasets = folder.datasets()
    return next((path for path, synthetic in datasets if not synthetic), datasets[0][0])


def seg_evaluate(run_dir: str | Path, data_dir: str | Path | None = None, split: str = "val") -> dict:
    """``seg evaluate``: per-class IoU, mIoU and (zones datasets) MDE of SEGRUN's segmenter
    on `split` (and by sensor and by resolution when the data names its sensors), written
    to ``SEGRUN/eval/seg_<split>.json``."""
    folder = SegRunFolder(run_dir).require()
    data_dir = Path(data_dir) if data_dir else default_dataset(folder)
    segmenter = Segmenter.load(folder.path)
    segmenter.check_compatible(load_info(data_dir), str(data_dir))
    patches = load_split(data_dir, split)
    if not len(patches):
        raise InputError(f"{data_dir}: the {split} split is empty; choose another {option('split')}")
    result: dict = {"split": split, "dataset": str(data_dir.resolve()), "patches": len(patches)}
    result.update(segmenter.score(patches.images, patches.zones, patches.pixel_sizes))
    # Data naming its sensors: the scores by sensor and by resolution too, as CaFFe reports them.
    for by, members in patch_groups(patches.sensors, patches.pixel_sizes).items():
        result[f"by_{by}"] = {
            name: {
                "patches": len(idx),
                **segmenter.score(patches.images[idx], patches.zones[idx], patches.pixel_sizes[idx]),
            }
            for name, idx in members.items()
        }
    with atomic_path(folder.eval_json(split)) as tmp:
        tmp.write_text(jsonio.dumps(result, indent=2) + "\n")
    return result
