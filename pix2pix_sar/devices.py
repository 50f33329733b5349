"""Which devices there are and what follows for precision and XLA.

Shared by training and generation (neither imports the other). TensorFlow is
imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations


def has_gpu() -> bool:
    """True if TensorFlow sees a physical GPU (does not start the runtime)."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


#: CPU flags (Linux /proc/cpuinfo) of native bfloat16 arithmetic.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")

#: On CPUs, bfloat16 pays from this model size on: patch side x base filters (the
#: conv work per output pixel grows with the filters, the per-op overhead with the
#: layer count). Measured on the 2-core Intel Xeon with AMX (docs/performance.md):
#: orig at 256 px, 64 filters (16,384) is 1.5x faster in bfloat16; the demo's 64 px,
#: 32 filters (2,048) slower.
BF16_CPU_MIN_SIZE = 8192


def cpu_has_native_bfloat16(cpuinfo: str | None = None) -> bool:
    """True if the CPU's flags (the text of /proc/cpuinfo; read when None) name
    bfloat16 arithmetic (AVX512-BF16 or AMX-BF16). False where it cannot be read."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
                cpuinfo = fh.read()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_precision(name: str, patch_size: int = 256, base_filters: int = 64, cpuinfo: str | None = None) -> str:
    """'auto' -> mixed_bfloat16 on GPUs; on CPUs mixed_bfloat16 where the CPU has
    native bfloat16 and the model is large enough for it to pay (patch_size x
    base_filters >= BF16_CPU_MIN_SIZE), else float32. Any other name is returned as is."""
    if name != "auto":
        return name
    if has_gpu():
        return "mixed_bfloat16"
    if patch_size * base_filters >= BF16_CPU_MIN_SIZE and cpu_has_native_bfloat16(cpuinfo):
        return "mixed_bfloat16"
    return "float32"


def resolve_xla(mode: str) -> bool:
    """'auto' -> XLA on GPUs, off on CPUs (on our CPU it made orig training 17% slower)."""
    if mode != "auto":
        return mode == "on"
    return has_gpu()
