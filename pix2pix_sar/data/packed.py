"""Packed patches: a cache derived from a dataset's GeoTIFF patches, for streaming input,
and the choice of input mode (``memory`` or ``streamed``: :func:`choose_input`).

The input family: this module (the pack), :mod:`pix2pix_sar.data.pipeline` (the feeders
that read decoded arrays or the pack), :mod:`pix2pix_sar.training.inputs` (a strategy's
workers and replicas).

    DATASET/packed/pack.json       format, patch size, patches per split, manifest.csv's SHA-256
    DATASET/packed/<split>.zones   uint8 zone codes, one H*W record per patch, in manifest order
    DATASET/packed/<split>.sar     float16 SAR in the model range, one H*W*2-byte record per patch
    DATASET/packed/<split>.extra   float16 extra bands (dataset.json's order), one H*W*K*2-byte
                                   record per patch (H, W, K); only where the dataset has K > 0 bands

The GeoTIFF patches stay the dataset of record: ``pix2pix-sar dataset pack DATASET``
writes this folder from them (patch by patch, so packing needs no more memory for a
larger dataset), never on first use — several workers would race, and a dataset may be
read-only. It is refused once manifest.csv changes (re-pack).

Why a pack at all: reading the patch GeoTIFFs themselves with GDAL costs about 1.5 ms
of CPU per (SAR, mask) pair here (open, header, decode; the bindings release the GIL
inside GDAL but not around it), about 700 pairs per CPU-second, while training at
batch 16 consumes several thousand pairs per second. A record is one ``os.pread`` at
a fixed offset (the GIL is released during the read), so any patch is read on its
own in any order: the streamed input keeps exactly the order of the in-memory one.

SAR is stored as float16 (the model range [-1, 1] keeps 11 significant bits, below
the 8-bit DN or ~0.01 dB steps of the sources); zone codes stay uint8 and are encoded
only at the end of the input pipeline.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pix2pix_sar import geo, jsonio
from pix2pix_sar.atomic import atomic_dir
from pix2pix_sar.config import INPUT_MODES
from pix2pix_sar.data.dataset import extra_path, load_info, load_manifest, mask_path, read_extra_patch, sar_path
from pix2pix_sar.data.zones import check_zones
from pix2pix_sar.errors import InputError, option

log = logging.getLogger(__name__)

#: 2 added <split>.extra; a format-1 pack still serves a dataset without extra bands.
PACK_FORMAT = 2
PACK_DIR = "packed"
SAR_DTYPE = np.float16
ZONES_DTYPE = np.uint8
#: ``auto`` streams a packed split whose in-memory copy (float32 SAR plus one byte per
#: mask channel per pixel) would exceed this many bytes, or a quarter of the RAM.
AUTO_STREAM_BYTES = 4 * 2**30


def manifest_digest(dataset_dir: Path) -> str:
    return hashlib.sha256((Path(dataset_dir) / "manifest.csv").read_bytes()).hexdigest()


def pack_dataset(
    dataset_dir: str | Path, overwrite: bool = False, progress: Callable[[str, int, int], None] | None = None
) -> Path:
    """Write DATASET/packed/ from the patch GeoTIFFs; see the module docstring."""
    dataset_dir = Path(dataset_dir)
    info = load_info(dataset_dir)
    records = load_manifest(dataset_dir)
    if is_packed(dataset_dir) and not overwrite:
        _pack_meta(dataset_dir)  # raises when out of date
        return dataset_dir / PACK_DIR  # up to date: nothing to do
    size = info.patch_size
    bands = info.band_names
    splits = sorted({r.split for r in records})
    counts = {}
    with atomic_dir(dataset_dir / PACK_DIR, overwrite=True) as out:
        for split in splits:
            ids = [r.id for r in records if r.split == split]
            with (
                open(out.path / f"{split}.zones", "wb") as zones_file,
                open(out.path / f"{split}.sar", "wb") as sar_file,
                contextlib.ExitStack() as stack,
            ):
                extra_file = stack.enter_context(open(out.path / f"{split}.extra", "wb")) if bands else None
                for i, pid in enumerate(ids):
                    sar = geo.read_array(sar_path(dataset_dir, split, pid))
                    mask = geo.read_array(mask_path(dataset_dir, split, pid))
                    if sar.shape != (size, size) or mask.shape != (size, size):
                        raise InputError(
                            f"{sar_path(dataset_dir, split, pid)}: patch is {sar.shape[1]}x{sar.shape[0]}, "
                            f"dataset.json says {size}; re-run 'pix2pix-sar prepare'"
                        )
                    zones_file.write(check_zones(mask, str(mask_path(dataset_dir, split, pid))).tobytes())
                    sar_file.write(np.asarray(sar, SAR_DTYPE).tobytes())
                    if extra_file is not None:
                        planes = [read_extra_patch(extra_path(dataset_dir, split, pid, b), size) for b in bands]
                        extra_file.write(np.stack(planes, axis=-1).astype(SAR_DTYPE).tobytes())
                    if progress and ((i + 1) % 256 == 0 or i + 1 == len(ids)):
                        progress(split, i + 1, len(ids))
            counts[split] = len(ids)
        meta = {
            "format": PACK_FORMAT,
            "patch_size": size,
            "counts": counts,
            "manifest_sha256": manifest_digest(dataset_dir),
            "sar_dtype": np.dtype(SAR_DTYPE).name,
            "extra_bands": bands,
        }
        (out.path / "pack.json").write_text(jsonio.dumps(meta, indent=2) + "\n")
        return out.commit()


def is_packed(dataset_dir: str | Path) -> bool:
    return (Path(dataset_dir) / PACK_DIR / "pack.json").exists()


def _pack_meta(dataset_dir: Path) -> dict:
    path = dataset_dir / PACK_DIR / "pack.json"
    if not path.exists():
        raise InputError(f"{dataset_dir}: not packed for streaming; run 'pix2pix-sar dataset pack {dataset_dir}'")
    meta = json.loads(path.read_text())
    bands = load_info(dataset_dir).band_names
    # A format-1 pack (no extra bands) still serves a dataset without extra bands.
    format_ok = meta.get("format") == PACK_FORMAT or (meta.get("format") == 1 and not bands)
    if (
        not format_ok
        or meta.get("manifest_sha256") != manifest_digest(dataset_dir)
        or meta.get("extra_bands", []) != bands
    ):
        raise InputError(
            f"{path}: out of date (manifest.csv changed or an older pack format); "
            f"run 'pix2pix-sar dataset pack {dataset_dir} {option('overwrite')}'"
        )
    return meta


@dataclass
class PackedSplit:
    """One split of a packed dataset, read record by record (any rows, any order).

    Opened `with_extras`, its reads put the dataset's extra bands (if any) after the SAR
    as further channels of the float16 array; the segmenter opens it without them."""

    dataset_dir: Path
    split: str
    count: int
    size: int
    extra_count: int = 0  # extra bands that reads return after the SAR channel

    @classmethod
    def open(cls, dataset_dir: str | Path, split: str, with_extras: bool = False) -> "PackedSplit":
        dataset_dir = Path(dataset_dir)
        meta = _pack_meta(dataset_dir)
        extras = len(meta.get("extra_bands", [])) if with_extras else 0
        return cls(dataset_dir, split, int(meta["counts"].get(split, 0)), int(meta["patch_size"]), extras)

    def _path(self, kind: str) -> Path:
        return self.dataset_dir / PACK_DIR / f"{self.split}.{kind}"

    def read(self, rows: np.ndarray, flips: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(zones uint8 (B, H, W), sar float16 (B, H, W, 1 + extra_count): the SAR, then the
        extra bands) of patches `rows` (manifest order within the split); `flips` (B, 2)
        flips patch j left-right / up-down. Opened per call, so it is safe from any thread
        or process."""
        rows = np.asarray(rows, np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= self.count):
            raise IndexError(f"rows outside 0..{self.count - 1} of {self.dataset_dir} {self.split}")
        n, k = rows.size, self.extra_count
        zones = np.empty((n, self.size, self.size), ZONES_DTYPE)
        sar = np.empty((n, self.size, self.size, 1), SAR_DTYPE)
        extras = np.empty((n, self.size, self.size, k), SAR_DTYPE)
        kinds = [("zones", zones, 1, 1), ("sar", sar, 2, 1)] + ([("extra", extras, 2, k)] if k else [])
        for kind, out, itemsize, planes in kinds:
            pixels = self.size * self.size * planes
            record = pixels * itemsize
            fd = os.open(self._path(kind), os.O_RDONLY)
            try:
                flat = out.reshape(n, record // itemsize).view(np.uint8).reshape(n, record)
                for j, row in enumerate(rows.tolist()):
                    got = os.preadv(fd, [flat[j]], row * record)
                    if got != record:
                        raise InputError(
                            f"{self._path(kind)}: truncated (record {row}); "
                            f"run 'pix2pix-sar dataset pack {self.dataset_dir} {option('overwrite')}'"
                        )
            finally:
                os.close(fd)
        if k:
            sar = np.concatenate([sar, extras], axis=-1)
        if flips is not None:
            for j, (left_right, up_down) in enumerate(np.asarray(flips, bool).reshape(-1, 2).tolist()):
                if left_right:
                    zones[j], sar[j] = zones[j, :, ::-1], sar[j, :, ::-1]
                if up_down:
                    zones[j], sar[j] = zones[j, ::-1], sar[j, ::-1]
        return zones, sar


@dataclass
class PackedUnion:
    """Several packed splits read as one (rows numbered part after part)."""

    parts: list[PackedSplit]

    def __post_init__(self) -> None:
        sizes = {p.size for p in self.parts}
        if len(sizes) != 1:
            raise InputError(f"packed splits of different patch sizes {sorted(sizes)} cannot be read together")
        self.size = sizes.pop()
        self.extra_count = 0  # the segmenter reads SAR and zones only
        if any(p.extra_count for p in self.parts):
            raise ValueError("PackedUnion reads SAR and zones only; open its parts without extras")
        self.count = sum(p.count for p in self.parts)
        self._starts = np.cumsum([0, *(p.count for p in self.parts)])

    def read(self, rows: np.ndarray, flips: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(rows, np.int64).reshape(-1)
        part_of = np.searchsorted(self._starts, rows, side="right") - 1
        zones = np.empty((rows.size, self.size, self.size), ZONES_DTYPE)
        sar = np.empty((rows.size, self.size, self.size, 1), SAR_DTYPE)
        for k in np.unique(part_of):
            at = part_of == k
            sub_flips = None if flips is None else np.asarray(flips, bool).reshape(-1, 2)[at]
            zones[at], sar[at] = self.parts[k].read(rows[at] - self._starts[k], sub_flips)
        return zones, sar


def memory_bytes(patches: int, patch_size: int, channels: int, extra_bands: int = 0) -> int:
    """Bytes a split takes in memory: float32 SAR plus one byte per mask channel per pixel
    (with extra bands, four bytes per mask channel and per band: the inputs are float32)."""
    per_pixel = 4 + (channels if not extra_bands else 4 * (channels + extra_bands))
    return patches * patch_size * patch_size * per_pixel


def choose_input(mode: str, dataset_dirs: list[Path], bytes_in_memory: int) -> str:
    """``memory`` or ``streamed`` for `mode` (see :data:`INPUT_MODES`); streamed needs
    every dataset packed and up to date (a one-line error names the one that is not)."""
    if mode not in INPUT_MODES:
        raise InputError(f"data.input {mode!r}: use one of {', '.join(INPUT_MODES)}")
    packed = all(is_packed(d) for d in dataset_dirs)
    if mode == "auto":
        ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        if bytes_in_memory <= min(AUTO_STREAM_BYTES, ram // 4):
            return "memory"
        if not packed:
            log.warning(
                "the training patches take %.1f GB in memory; pack them ('pix2pix-sar dataset pack') to stream instead",
                bytes_in_memory / 1e9,
            )
            return "memory"
        mode = "streamed"
    if mode == "streamed":
        for d in dataset_dirs:
            _pack_meta(Path(d))  # missing or out of date: the one error that says how to pack
    return mode
