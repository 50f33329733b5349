"""JSON the project writes is strict JSON: no NaN or Infinity (null instead)."""

import json
import math

import numpy as np
from click.testing import CliRunner

from pix2pix_sar import jsonio
from pix2pix_sar.cli.main import cli


def strict_loads(text: str):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_become_null_and_numpy_plain():
    value = {"a": math.nan, "b": [math.inf, np.float32("nan"), np.float64(1.5)], "c": np.array([1.0, -np.inf]), "d": 2}
    assert strict_loads(jsonio.dumps(value)) == {"a": None, "b": [None, None, 1.5], "c": [1.0, None], "d": 2}
    assert jsonio.strict((1, "x")) == [1, "x"]


def test_seg_evaluate_output_is_strict_json_with_null_for_an_undefined_mde(zones_dataset, tmp_path, monkeypatch):
    from pix2pix_sar.evaluation.segscore import Segmenter

    out = tmp_path / "seg"
    tiny = ["--base-filters", 4, "--depth", 2, "--batch-size", 16, "--steps", 2]
    fit = ["-q", "seg", "fit", "--data", zones_dataset, "--out", out, *tiny]
    assert CliRunner().invoke(cli, [str(a) for a in fit]).exit_code == 0
    # An all-ocean prediction has no front to measure: MDE is undefined (NaN inside).
    all_ocean = lambda self, images: np.full(images.shape[:3], self.scheme.class_names.index("ocean"))  # noqa: E731
    monkeypatch.setattr(Segmenter, "predict", all_ocean)
    result = CliRunner().invoke(cli, ["-q", "seg", "evaluate", str(out)])
    assert result.exit_code == 0, result.output
    scores = strict_loads(result.output.strip().splitlines()[-1])
    assert scores["mde_m"] is None and strict_loads((out / "eval" / "seg_val.json").read_text()) == scores
