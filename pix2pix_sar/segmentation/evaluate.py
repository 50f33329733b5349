"""`seg_evaluate`: the reference segmenter's score on a split of a patch dataset
(:mod:`pix2pix_sar.evaluation.segscore`), written to ``SEGRUN/eval/seg_<split>.json``."""

from __future__ import annotations

import json
from pathlib import Path

from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.data.dataset import load_info, load_split
from pix2pix_sar.errors import InputError
from pix2pix_sar.evaluation.segscore import Segmenter
from pix2pix_sar.run_folder import SegRunFolder


def default_dataset(folder: SegRunFolder) -> Path:
    """The first real dataset the segmenter trained on (else its first dataset)."""
    datasets = folder.datasets()
    return next((path for path, synthetic in datasets if not synthetic), datasets[0][0])


def seg_evaluate(run_dir: str | Path, data_dir: str | Path | None = None, split: str = "val") -> dict:
    """Per-class IoU, mIoU and (zones datasets) MDE of SEGRUN's segmenter on `split`."""
    folder = SegRunFolder(run_dir).require()
    data_dir = Path(data_dir) if data_dir else default_dataset(folder)
    segmenter = Segmenter.load(folder.path)
    segmenter.check_compatible(load_info(data_dir), str(data_dir))
    patches = load_split(data_dir, split)
    if not len(patches):
        raise InputError(f"{data_dir}: the {split} split is empty; choose another --split")
    result: dict = {"split": split, "dataset": str(data_dir.resolve()), "patches": len(patches)}
    result.update(segmenter.score(patches.images, patches.zones, patches.pixel_sizes))
    with atomic_path(folder.eval_json(split)) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    return result
