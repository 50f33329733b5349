"""Which kept window of which scene trains and which validates (``prepare``'s split rules)."""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from pix2pix_sar.data.dataset import split_ids
from pix2pix_sar.data.scene_reader import OpenedScene
from pix2pix_sar.errors import InputError, option

log = logging.getLogger(__name__)


def _split_by_patch(scenes: list[OpenedScene], val_fraction: float, seed: int) -> list[np.ndarray]:
    """The paper: a seeded random share of all patches."""
    counts = [len(s.windows) for s in scenes]
    is_val = split_ids(sum(counts), val_fraction, seed)
    return np.split(is_val, np.cumsum(counts)[:-1])


def _whole_scenes_to_val(scenes: list[OpenedScene], val_fraction: float, seed: int) -> list[np.ndarray]:
    """Whole scenes to validation (seeded order) until they hold the asked share of
    patches; at least one scene with patches stays for training."""
    with_patches = [i for i, s in enumerate(scenes) if s.windows]
    total = sum(len(s.windows) for s in scenes)
    val: set[int] = set()
    n_val = 0
    for i in np.random.default_rng(seed).permutation(with_patches):
        if n_val >= val_fraction * total or len(val) == len(with_patches) - 1:
            break
        val.add(int(i))
        n_val += len(scenes[i].windows)
    return [np.full(len(s.windows), i in val) for i, s in enumerate(scenes)]


def _split_by_scene(scenes: list[OpenedScene], val_fraction: float, seed: int) -> list[np.ndarray]:
    """Whole scenes to validation (seeded order) until they hold the asked share of patches."""
    with_patches = [i for i, s in enumerate(scenes) if s.windows]
    if len(with_patches) < 2 and val_fraction > 0:
        raise InputError(
            f"{option('split_by')} scene needs at least two scenes with patches, got {len(with_patches)}; "
            f"add scenes or use {option('split_by')} patch"
        )
    return _whole_scenes_to_val(scenes, val_fraction, seed)


def _split_as_given(scenes: list[OpenedScene], val_fraction: float, seed: int) -> list[np.ndarray]:
    """Each scene's own split (CaFFe). Where no scene comes with a validation split (CaFFe's
    original layout: train and test only), validation is drawn from the scenes marked
    "train" by whole scenes (seeded, ``val_fraction``). Scenes without a split train."""
    given = [s.input.split for s in scenes]
    if "val" in given or val_fraction == 0:
        return [np.full(len(s.windows), s.input.split == "val") for s in scenes]
    marked = [i for i, split in enumerate(given) if split == "train"]
    if sum(bool(scenes[i].windows) for i in marked) < 2:
        if marked:
            log.warning("fewer than two training images with patches: no validation split is drawn from them")
        return [np.zeros(len(s.windows), bool) for s in scenes]
    drawn = dict(zip(marked, _whole_scenes_to_val([scenes[i] for i in marked], val_fraction, seed)))
    return [drawn.get(i, np.zeros(len(s.windows), bool)) for i, s in enumerate(scenes)]


#: Split rules for the scenes that are not held out for testing: each gives, per scene, True for
#: the validation patches (the others train).
SPLITTERS: dict[str, Callable[[list[OpenedScene], float, int], list[np.ndarray]]] = {
    "patch": _split_by_patch,
    "scene": _split_by_scene,
    "source": _split_as_given,
}


def assign_splits(scenes: list[OpenedScene], split_by: str, val_fraction: float, seed: int) -> list[list[str]]:
    """The split of every kept window of every scene. Scenes whose source holds them out
    for testing (``SceneInput.split == "test"``: CaFFe's test split) stay "test" under every
    ``--split-by``; the others are split into train and val by :data:`SPLITTERS`."""
    pool = [i for i, s in enumerate(scenes) if s.input.split != "test"]
    is_val = dict(zip(pool, SPLITTERS[split_by]([scenes[i] for i in pool], val_fraction, seed)))
    return [
        ["val" if v else "train" for v in is_val[i]] if i in is_val else ["test"] * len(s.windows)
        for i, s in enumerate(scenes)
    ]
