"""The segmenter network: a small U-Net from a SAR patch to class logits.

The classes are the dataset's class scheme's (:attr:`ClassScheme.class_names`):
rock / glacier / ocean for ``zones``, land / ocean for ``binary``.
"""

from __future__ import annotations

from pix2pix_sar.errors import ConfigError


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
