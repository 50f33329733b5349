"""The resolved precision is recorded in run.json; a resume never changes it silently."""

import json

import pytest

from pix2pix_sar.errors import RunStateError

#: Two encoder blocks: the precision rule does not depend on the depth, and fits are faster.
SHALLOW = "model.unet_depth=2"


def test_a_resume_keeps_the_recorded_precision_and_refuses_another(tiny_dataset, tiny_config, tmp_path, monkeypatch):
    from pix2pix_sar import run_folder
    from pix2pix_sar.training import loop

    run = tmp_path / "run"
    loop.fit(tiny_config("orig", SHALLOW, epochs=1), tiny_dataset, run)  # auto: a tiny model trains in float32 anywhere
    assert json.loads((run / "run.json").read_text())["precision"] == "float32"
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}

    with pytest.raises(RunStateError, match=r"trained in float32 \(run.json\).*rerun with precision float32"):
        loop.fit(tiny_config("orig", SHALLOW, "training.precision=mixed_bfloat16", epochs=2), tiny_dataset, run)
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == before  # nothing rewritten

    # On a machine where auto would pick bfloat16, the run still continues in float32.
    monkeypatch.setattr(run_folder, "resolve_precision", lambda *a, **k: "mixed_bfloat16")
    built, build = [], loop.build_pix2pix
    monkeypatch.setattr(loop, "build_pix2pix", lambda cfg, precision: built.append(precision) or build(cfg, precision))
    loop.fit(tiny_config("orig", SHALLOW, epochs=2), tiny_dataset, run)
    assert built == ["float32"]
    assert json.loads((run / "run.json").read_text())["precision"] == "float32"
