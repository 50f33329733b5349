"""The segmenter network: a small U-Net from a SAR patch to class logits.

The classes are the dataset's class scheme's (:attr:`ClassScheme.class_names`):
rock / glacier / ocean for ``zones``, land / ocean for ``binary``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pix2pix_sar.data.dataset import DatasetInfo
from pix2pix_sar.data.zones import ClassScheme, class_scheme
from pix2pix_sar.errors import ConfigError, InputError, option
from pix2pix_sar.run_folder import SegRunFolder


def check_depth(patch_size: int, depth: int) -> None:
    if depth < 1 or patch_size % (2**depth):
        raise ConfigError(f"segmenter depth {depth} needs a patch size divisible by {2**depth}, got {patch_size}")


def build_segmenter(patch_size: int, classes: int, base_filters: int = 16, depth: int = 4):
    """A Keras functional U-Net: (H, W, 1) SAR in [-1, 1] -> (H, W, classes) logits.

    Each level: two 3x3 Conv-ReLU; down by 2x2 max-pooling, up by 2x nearest
    upsampling concatenated with the skip connection."""
    import keras
    from keras import layers

    check_depth(patch_size, depth)

    def block(x, filters, name):
        for i in (1, 2):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv{i}")(x)
        return x

    inputs = keras.Input((patch_size, patch_size, 1), name="sar")
    x, skips = inputs, []
    for level in range(depth):
        x = block(x, base_filters * 2**level, f"down{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{level}")(x)
    x = block(x, base_filters * 2**depth, "bottleneck")
    for level in reversed(range(depth)):
        x = layers.UpSampling2D(2, name=f"up{level}")(x)
        x = layers.Concatenate(name=f"concat{level}")([x, skips[level]])
        x = block(x, base_filters * 2**level, f"dec{level}")
    logits = layers.Conv2D(classes, 1, name="logits")(x)
    return keras.Model(inputs, logits, name="segmenter")


@dataclass
class TrainedSegmenter:
    """A trained segmenter (``SEGRUN/segmenter.keras``), loaded once, with what its inputs must be."""

    folder: SegRunFolder
    info: DatasetInfo  # classes and SAR scaling it was trained with
    model: object  # keras.Model

    @classmethod
    def load(cls, path):
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
                f"{self.info.classes}; use a segmenter trained with the same {option('classes')}"
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
