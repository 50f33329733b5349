"""`--precision auto` on CPUs: native bfloat16 (from the CPU's flags) and a model large enough."""

import pytest

from pix2pix_sar import devices

AMD_EPYC = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512vl\n"
XEON_AMX = "processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_tile amx_int8\n"
OLD_XEON = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\nbugs\t\t: avx512_bf16_not_a_flag\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n"


@pytest.mark.parametrize(
    ("cpuinfo", "native"), [(AMD_EPYC, True), (XEON_AMX, True), (OLD_XEON, False), (ARM, False), ("", False)]
)
def test_native_bfloat16_comes_from_the_flags_line(cpuinfo, native):
    assert devices.cpu_has_native_bfloat16(cpuinfo) is native


@pytest.mark.parametrize(
    ("cpuinfo", "patch", "filters", "want"),
    [
        (AMD_EPYC, 256, 64, "mixed_bfloat16"),  # orig at full size
        (XEON_AMX, 128, 64, "mixed_bfloat16"),
        (AMD_EPYC, 64, 32, "float32"),  # the demo's small model: bfloat16 measured slower
        (OLD_XEON, 256, 64, "float32"),  # no bfloat16 units: emulated, far slower
    ],
)
def test_auto_on_a_cpu_depends_on_the_flags_and_the_model_size(monkeypatch, cpuinfo, patch, filters, want):
    monkeypatch.setattr(devices, "has_gpu", lambda: False)
    assert devices.resolve_precision("auto", patch, filters, cpuinfo=cpuinfo) == want
    assert devices.resolve_precision("float32", patch, filters, cpuinfo=cpuinfo) == "float32"


def test_auto_on_a_gpu_is_bfloat16(monkeypatch):
    monkeypatch.setattr(devices, "has_gpu", lambda: True)
    assert devices.resolve_precision("auto", 32, 8, cpuinfo=OLD_XEON) == "mixed_bfloat16"
