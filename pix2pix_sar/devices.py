"""Which devices there are and what follows for precision and XLA.

Shared by training and generation (neither imports the other). TensorFlow is
imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations


def has_gpu() -> bool:
    """True if TensorFlow sees a physical GPU (does not start the runtime)."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def resolve_precision(name: str) -> str:
    """'auto' -> mixed_bfloat16 on GPUs, float32 on CPUs.

    Measured on our 2-core CPU (AMX/AVX512-BF16): bfloat16 trains orig at 256
    1.55x faster but the demo's small model 15% slower, and CPUs without native
    bfloat16 are much slower, so on CPUs it is opt-in (experiments/benchmark.py)."""
    if name != "auto":
        return name
    return "mixed_bfloat16" if has_gpu() else "float32"


def resolve_xla(mode: str) -> bool:
    """'auto' -> XLA on GPUs, off on CPUs (on our CPU it made orig training 17% slower)."""
    if mode != "auto":
        return mode == "on"
    return has_gpu()
