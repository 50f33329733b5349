"""The segmenter network (a small U-Net) and the labels it learns.

Class indices follow the dataset's class scheme:

* ``zones``: 0 rock, 1 glacier, 2 ocean
* ``binary``: 0 land (rock + glacier), 1 ocean

No-data pixels get label 0 and are marked invalid; the loss ignores them.
"""

from __future__ import annotations

import numpy as np

from pix2pix_sar.data.zones import GLACIER, NODATA, OCEAN, ROCK, class_scheme
from pix2pix_sar.errors import ConfigError

#: Class names by class scheme, in class-index order.
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "zones": ("rock", "glacier", "ocean"),
    "binary": ("land", "ocean"),
}


def num_classes(scheme_name: str) -> int:
    class_scheme(scheme_name, "class scheme")  # an unknown name is an InputError
    return len(CLASS_NAMES[scheme_name])


def zone_labels(zones: np.ndarray, scheme_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Zone codes -> (int32 class labels, bool valid mask); no data -> label 0, valid False."""
    class_scheme(scheme_name, "class scheme")
    zones = np.asarray(zones)
    labels = np.zeros(zones.shape, np.int32)
    if scheme_name == "zones":
        labels[zones == ROCK] = 0
        labels[zones == GLACIER] = 1
        labels[zones == OCEAN] = 2
    else:
        labels[zones == OCEAN] = 1
    return labels, zones != NODATA


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
