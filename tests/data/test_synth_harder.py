"""synth's harder-benchmark factors (issue 23): 1 draws today's scene bit for bit; other
values widen the fjord, spread the mélange or add icebergs, as named."""

from __future__ import annotations

import hashlib

import numpy as np
from click.testing import CliRunner

from pix2pix_sar import geo
from pix2pix_sar.cli.main import cli
from pix2pix_sar.data.synth import synth_scene
from pix2pix_sar.data.zones import OCEAN, ROCK
from tests.evaluation.test_structure import SCENE_256_SEED0  # today's scene, as drawn before these options


def _sha(array: np.ndarray) -> str:
    return hashlib.sha256(array.tobytes()).hexdigest()


def test_factors_of_one_draw_todays_scene_and_files_bit_for_bit(tmp_path):
    scene = synth_scene(256, 256, seed=0, fjord_width=1.0, melange=1.0, icebergs=1.0)
    assert (_sha(scene.intensity), _sha(scene.zones)) == (SCENE_256_SEED0["intensity"], SCENE_256_SEED0["zones"])
    runner = CliRunner()
    size = ["--width", "256", "--height", "256"]
    plain = runner.invoke(cli, ["synth", str(tmp_path / "plain"), *size])
    ones = runner.invoke(cli, ["synth", str(tmp_path / "ones"), *size, "--fjord-width", "1", "--melange", "1"])
    assert plain.exit_code == 0 and ones.exit_code == 0, plain.output + ones.output
    for name in ("scene.tif", "zones.tif", "dem.tif"):  # metadata included: no new items at the defaults
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "ones" / name).read_bytes(), name


def test_each_factor_changes_what_it_names_and_is_recorded(tmp_path):
    base = synth_scene(256, 256, seed=5)
    ocean = base.zones == OCEAN
    wide = synth_scene(256, 256, seed=5, fjord_width=1.4)
    assert (wide.zones == ROCK).mean() < 0.8 * (base.zones == ROCK).mean()  # a wider fjord: less rock
    # Mélange and icebergs are content: the zones stay, the ocean brightens.
    dense = synth_scene(256, 256, seed=5, melange=3.0)
    bergs = synth_scene(256, 256, seed=5, icebergs=5.0)
    none = synth_scene(256, 256, seed=5, melange=0.0, icebergs=0.0)
    for scene in (dense, bergs, none):
        np.testing.assert_array_equal(scene.zones, base.zones)
    mean = {name: s.intensity[ocean].mean() for name, s in (("base", base), ("dense", dense), ("none", none))}
    assert mean["dense"] > 1.3 * mean["base"] > 1.3 * mean["none"]  # 0.030, 0.019, 0.011 (seed 5)
    bright = {name: (s.intensity[ocean] > 0.3).mean() for name, s in (("base", base), ("bergs", bergs))}
    assert bright["bergs"] > 2 * bright["base"]
    # A content redraw keeps a widened fjord's zones (fjord_width is geometry, from --seed).
    redraw = synth_scene(256, 256, seed=5, fjord_width=1.4, content_seed=1)
    np.testing.assert_array_equal(redraw.zones, wide.zones)
    result = CliRunner().invoke(
        cli, ["synth", str(tmp_path / "s"), "--width", "64", "--height", "64", "--melange", "2", "--icebergs", "0"]
    )
    assert result.exit_code == 0, result.output
    meta = geo.raster_metadata(tmp_path / "s" / "scene.tif")
    assert (meta["SYNTH_MELANGE"], meta["SYNTH_ICEBERGS"]) == ("2.0", "0.0") and "SYNTH_FJORD_WIDTH" not in meta
    refused = CliRunner().invoke(cli, ["synth", str(tmp_path / "t"), "--fjord-width", "0"])
    assert refused.exit_code != 0 and "--fjord-width" in refused.output and not (tmp_path / "t").exists()
