"""The install path shared by make, CI and Docker, and the Dockerfile itself
(no Docker engine runs here: lint the file, exercise the script)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_dockerfile_lints_clean_and_uses_the_shared_install_script():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (it comes with the dev extra)")
    proc = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (ROOT / "Dockerfile").read_text()
    assert "bash scripts/install.sh" in text and "tensorflow[and-cuda]==2.21.0" in text
    assert 'ENTRYPOINT ["pix2pix-sar"]' in text and 'CMD ["--help"]' in text
    assert "\nUSER " in text  # not root


@pytest.mark.slow
def test_install_script_is_idempotent_on_the_current_environment():
    venv = Path(sys.prefix)
    if not (venv / "bin" / "pix2pix-sar").exists():
        pytest.skip("not running from a venv made by scripts/install.sh")
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts/install.sh"), str(venv)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "install: ready" in proc.stdout
    assert "building GDAL" not in proc.stdout  # already there: not rebuilt
