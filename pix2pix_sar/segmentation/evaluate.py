"""`seg_evaluate`: the reference segmenter's score on a split of a patch dataset.

One confusion matrix over all valid pixels of the split gives the per-class IoU and
mIoU (mean over the classes); on zones datasets the calving-front MDE follows the
CaFFe benchmark (:mod:`pix2pix_sar.evaluation.fronts`), in metres from each patch's
geotransform. Written to ``SEGRUN/eval/seg_<split>.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pix2pix_sar import geo
from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.data.dataset import load_info, load_split, sar_path
from pix2pix_sar.data.zones import GLACIER, NODATA, OCEAN, ROCK
from pix2pix_sar.errors import InputError, RunStateError
from pix2pix_sar.evaluation.fronts import mean_distance_error
from pix2pix_sar.evaluation.metrics import confusion_matrix, iou_per_class
from pix2pix_sar.segmentation.model import CLASS_NAMES, zone_labels

#: Class index -> zone code, for fronts (zones datasets only).
_ZONE_OF_CLASS = np.array([ROCK, GLACIER, OCEAN], np.uint8)


def _pixel_size(path: Path) -> float:
    """Metres per pixel of a patch (the x pixel size of its geotransform)."""
    grid = geo.raster_info(path)[0]
    return abs(float(grid.geotransform[1]))


def predict_classes(model_path: Path, images: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """(N, H, W) class indices of SAR patches (N, H, W, 1) in the model range."""
    import keras

    model = keras.models.load_model(model_path, compile=False)
    out = [
        np.argmax(model(images[i : i + batch_size], training=False), axis=-1) for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(out) if out else np.zeros(images.shape[:3], np.int64)


def seg_evaluate(run_dir: str | Path, data_dir: str | Path | None = None, split: str = "val") -> dict:
    """Per-class IoU, mIoU and (zones datasets) MDE of SEGRUN's segmenter on `split`."""
    run_dir = Path(run_dir)
    model_path, run_json = run_dir / "segmenter.keras", run_dir / "run.json"
    if not model_path.exists() or not run_json.exists():
        raise RunStateError(f"{run_dir}: no trained segmenter; train one with 'pix2pix-sar seg fit --out {run_dir}'")
    data_dir = Path(data_dir) if data_dir else Path(json.loads(run_json.read_text())["dataset"])
    info, trained = load_info(data_dir), json.loads((run_dir / "dataset.json").read_text())
    if info.classes != trained["classes"]:
        raise InputError(
            f"{data_dir}: has {info.classes} classes, the segmenter was trained on {trained['classes']}; "
            "give a dataset prepared with the same --classes"
        )
    patches = load_split(data_dir, split)
    if not len(patches):
        raise InputError(f"{data_dir}: the {split} split is empty; choose another --split")
    names = CLASS_NAMES[info.classes]
    labels, valid = zone_labels(patches.zones, info.classes)
    predicted = predict_classes(model_path, patches.images)
    iou = iou_per_class(confusion_matrix(predicted, labels, valid, len(names)))
    result: dict = {"split": split, "patches": len(patches), "miou": float(np.nanmean(iou))}
    result.update({f"iou_{name}": float(v) for name, v in zip(names, iou, strict=True)})
    if info.classes == "zones":
        sizes = [_pixel_size(sar_path(data_dir, split, pid)) for pid in patches.ids]
        pred_zones = np.where(valid, _ZONE_OF_CLASS[predicted], NODATA)
        fronts = mean_distance_error(list(pred_zones), list(patches.zones), sizes)
        result.update(
            mde_m=fronts.mde_m,
            mde_images=fronts.images_with_both,
            front_only_predicted=fronts.only_predicted,
            front_only_true=fronts.only_true,
        )
    out = run_dir / "eval" / f"seg_{split}.json"
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    return result
