"""The patches `evaluate` scores (:mod:`pix2pix_sar.evaluation.sweep`): one split of a
dataset, decoded into memory or streamed from its pack, read batch by batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pix2pix_sar.data.dataset import load_info, load_manifest, load_split, pixel_sizes_of
from pix2pix_sar.data.extra_bands import select_bands
from pix2pix_sar.data.packed import PackedSplit, choose_input, memory_bytes
from pix2pix_sar.data.sensors import conditioning_sensors, sensor_planes


@dataclass
class EvalPatches:
    """The patches `evaluate` scores, read batch by batch in manifest order: decoded
    into memory once (exact GeoTIFF values), or streamed from the pack (SAR rounded
    to float16, as streamed training reads it; memory does not grow with the split)."""

    ids: list[str]
    pixel_sizes: np.ndarray
    input_mode: str  # "memory" or "streamed"
    _read: object  # (start, stop) -> (zones, targets, extras or None)
    sensors: list[str] = field(default_factory=list)  # each patch's sensor code ("" unknown)
    conditioning: tuple[str, ...] = ()  # the run's sensors: one-hot planes follow the extras
    source: str = ""

    @classmethod
    def open(
        cls, data_dir: Path, split: str, run_info, input_mode: str, sensor_conditioning: bool = True
    ) -> "EvalPatches":
        """`run_info`: the run's DatasetInfo (the bands it takes, in its order);
        `sensor_conditioning`: its config's data.sensor_conditioning."""
        data_info = load_info(data_dir)
        records = [r for r in load_manifest(data_dir) if r.split == split]
        sensors = conditioning_sensors(run_info.sensors, sensor_conditioning)
        # Refuse patches of a sensor the run does not know now, before anything is written.
        sensor_planes([r.sensor for r in records] if sensors else [], sensors, (1, 1), str(data_dir))
        mode = choose_input(
            input_mode,
            [data_dir],
            memory_bytes(len(records), data_info.patch_size, 1, len(data_info.band_names)),
        )
        if mode == "memory":
            arrays = load_split(data_dir, split)
            extras = select_bands(arrays.extras, data_info.band_names, run_info.band_names, str(data_dir))

            def read(start, stop):
                return (
                    arrays.zones[start:stop],
                    arrays.images[start:stop],
                    None if extras is None else extras[start:stop],
                )

            return cls(arrays.ids, arrays.pixel_sizes, mode, read, arrays.sensors, sensors, str(data_dir))
        packed = PackedSplit.open(data_dir, split, with_extras=True)
        # Refuse a dataset without the run's bands now, before anything is written.
        select_bands(np.zeros(len(data_info.band_names)), data_info.band_names, run_info.band_names, str(data_dir))

        def read(start, stop):
            zones, planes = packed.read(np.arange(start, stop))
            planes = planes.astype(np.float32)
            extras = select_bands(planes[..., 1:], data_info.band_names, run_info.band_names, str(data_dir))
            return zones, planes[..., :1], extras

        return cls(
            [r.id for r in records],
            pixel_sizes_of(data_dir, split, records),
            mode,
            read,
            [r.sensor for r in records],
            sensors,
            str(data_dir),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def batches(self, batch_size: int):
        """(first index, (zones, targets, extras or None)) per batch, in order; for a
        sensor-conditioned run the extras end with each patch's one-hot sensor planes."""
        for start in range(0, len(self), batch_size):
            stop = min(start + batch_size, len(self))
            zones, targets, extras = self._read(start, stop)
            if self.conditioning:
                planes = sensor_planes(self.sensors[start:stop], self.conditioning, zones.shape[1:], self.source)
                extras = planes if extras is None else np.concatenate([extras, planes], axis=-1)
            yield start, (zones, targets, extras)
