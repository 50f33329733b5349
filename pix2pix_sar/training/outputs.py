"""What only the chief writes besides the state, behind the training thread: TensorBoard
loss scalars per epoch, generator snapshots, and the preview strip (mask | target |
output for a few validation patches) at each snapshot."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from pix2pix_sar.atomic import atomic_path
from pix2pix_sar.data.dataset import load_split, split_size
from pix2pix_sar.data.extra_bands import encode_inputs
from pix2pix_sar.data.zones import valid_zones
from pix2pix_sar.noise import patch_keys
from pix2pix_sar.run_folder import RunFolder

#: Validation patches shown in TensorBoard at each snapshot.
PREVIEW_COUNT = 3


class ChiefOutputs:
    """What only the chief writes besides the state, all through the background writer:
    TensorBoard scalars per epoch, and generator snapshots with the image strip."""

    def __init__(self, run: RunFolder, generator, preview: "Preview", writer):
        import tensorflow as tf

        self.run, self.generator, self.preview, self.writer = run, generator, preview, writer
        self.summaries = tf.summary.create_file_writer(str(run.log_dir))
        self._copy = None  # a host copy of the generator for snapshots and the strip
        # Made (and the strip's function traced) behind the first steps, not at the first snapshot.
        writer.submit(self._prepare)

    def _prepare(self) -> None:
        import keras
        import tensorflow as tf

        with tf.device("/cpu:0"):
            self._copy = keras.models.clone_model(self.generator)
        self.preview.strip(self._copy)

    def scalars(self, epoch: int, means: dict[str, float]) -> None:
        def job():
            import tensorflow as tf

            with self.summaries.as_default(step=epoch):
                for k, v in means.items():
                    tf.summary.scalar(f"loss/{k}", v)
            self.summaries.flush()

        self.writer.submit(job)

    def snapshot(self, epoch: int) -> float:
        """Copy the generator's weights now (between steps); save them and the strip
        behind. The seconds spent on this thread."""
        start = time.perf_counter()
        weights = [v.value.read_value() for v in self.generator.weights]
        self.writer.submit(lambda: self._write_snapshot(weights, epoch))
        return time.perf_counter() - start

    def _write_snapshot(self, weights, epoch: int) -> None:
        import tensorflow as tf

        for variable, value in zip(self._copy.weights, weights):
            variable.assign(value)
        save_snapshot(self.run, self._copy, epoch)
        with self.summaries.as_default(step=epoch):
            tf.summary.image("mask_target_output", self.preview.strip(self._copy), max_outputs=PREVIEW_COUNT)
        self.summaries.flush()


class Preview:
    """A few validation patches, generated at each snapshot for TensorBoard (by one
    generation function, traced once); `sensors`: those the run is conditioned on."""

    def __init__(self, data_dir: Path, scheme, seed: int, sensors: tuple[str, ...]):
        name = "val" if split_size(data_dir, "val") else "train"
        split = load_split(data_dir, name, list(range(min(PREVIEW_COUNT, split_size(data_dir, name)))))
        self.masks = encode_inputs(scheme, split.zones, split.extras, split.sensors, sensors, str(data_dir))
        self.valid = valid_zones(split.zones)[..., None]
        self.targets = split.images
        self.keys = patch_keys(seed, np.arange(len(self.masks)))
        self._generate = None

    def strip(self, generator) -> np.ndarray:
        """mask | target | output per row, scaled to [0, 1]. `generator` is always the
        same model (its weights change), so its generation function is made once."""
        import tensorflow as tf

        from pix2pix_sar.models.inference import make_generate_fn

        if self._generate is None:
            self._generate = make_generate_fn(generator)
        outputs = self._generate(tf.constant(self.masks, tf.float32), tf.constant(self.keys)).numpy()
        outputs = np.where(self.valid, outputs, -1.0)  # no data as in the target
        panels = [self.masks[..., :1], self.targets, outputs]
        return np.clip((np.concatenate(panels, axis=2) + 1.0) / 2.0, 0.0, 1.0)


def save_snapshot(run: RunFolder, generator, epoch: int) -> Path:
    path = run.snapshot_path(epoch)
    with atomic_path(path, suffix=".keras") as tmp:
        generator.save(tmp)
    return path
