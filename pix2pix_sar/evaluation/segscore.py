"""The segmentation score: what a trained zone segmenter (``seg fit``) makes of SAR patches.

``seg evaluate`` scores the segmenter on real patches; ``evaluate --segmenter`` scores
a generator by segmenting its images and comparing with the masks they were made
from (the "FCN-score" of pix2pix, SPADE and OASIS), beside the same segmenter on
the real images (the ceiling).

IoU: one confusion matrix over all valid pixels (zone != 0) of the set; mIoU is the
mean over the classes. MDE (zones scheme only): :mod:`pix2pix_sar.evaluation.fronts`,
in metres from each patch's pixel size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pix2pix_sar.data.dataset import DatasetInfo
from pix2pix_sar.data.zones import NODATA, ClassScheme, class_scheme
from pix2pix_sar.errors import InputError
from pix2pix_sar.evaluation.fronts import mean_distance_error
from pix2pix_sar.evaluation.metrics import confusion_matrix, iou_per_class
from pix2pix_sar.run_folder import SegRunFolder


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


@dataclass
class Segmenter:
    """A trained segmenter, loaded once, with what its inputs must be."""

    folder: SegRunFolder
    info: DatasetInfo  # classes and SAR scaling it was trained with
    model: object  # keras.Model

    @classmethod
    def load(cls, path) -> "Segmenter":
        import keras

        folder = SegRunFolder(path).require()
        return cls(folder, folder.dataset_info(), keras.models.load_model(folder.model_path, compile=False))

    @property
    def scheme(self) -> ClassScheme:
        return class_scheme(self.info.classes, str(self.folder.dataset_json))

    def check_compatible(self, info: DatasetInfo, what: str) -> None:
        """Refuse images the segmenter cannot read: another class scheme or SAR scaling."""
        if info.classes != self.info.classes:
            raise InputError(
                f"{what}: has {info.classes} classes, the segmenter {self.folder.path} was trained on "
                f"{self.info.classes}; use a segmenter trained with the same --classes"
            )
        if info.scaling != self.info.scaling:
            raise InputError(
                f"{what}: SAR scaling {info.scaling} differs from {self.info.scaling} of the segmenter "
                f"{self.folder.path}; train the segmenter on data prepared like this one"
            )

    def predict(self, images: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """(N, H, W) class indices of SAR patches (N, H, W, 1) in the model range."""
        out = [
            np.argmax(self.model(images[i : i + batch_size], training=False), axis=-1)
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros(images.shape[:3], np.int64)

    def score(self, images: np.ndarray, zones: np.ndarray, pixel_sizes: np.ndarray) -> dict[str, float]:
        return segmentation_scores(self.predict(images), zones, self.scheme, pixel_sizes)
