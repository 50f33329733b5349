#!/usr/bin/env bash
# One install path for developers, CI and the Docker image.
#   scripts/install.sh [VENV_DIR]
# Environment:
#   TF_PACKAGE  TensorFlow requirement (default tensorflow-cpu==2.21.0; the GPU image
#               uses "tensorflow[and-cuda]==2.21.0")
#   EXTRAS      package extras to install (default "dev")
#   EDITABLE    1 (default) installs the package in editable mode, 0 a regular install
# Idempotent: every step is skipped when its result is already there.
set -euo pipefail

VENV=${1:-.venv}
TF_PACKAGE=${TF_PACKAGE:-tensorflow-cpu==2.21.0}
EXTRAS=${EXTRAS:-dev}
EDITABLE=${EDITABLE:-1}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if ! command -v gdal-config >/dev/null 2>&1; then
    echo "install: gdal-config missing, installing Debian's libgdal-dev"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        libgdal-dev gdal-bin g++ >/dev/null
    [ "${CLEAN_APT:-0}" = "1" ] && $SUDO rm -rf /var/lib/apt/lists/*
fi

PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
    echo "install: creating $VENV"
    "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"

$PIP install --upgrade pip setuptools wheel numpy
GDAL_VERSION=$(gdal-config --version)
if ! "$VENV/bin/python" -c "from osgeo import gdal, gdal_array; assert gdal.__version__ == '$GDAL_VERSION'" 2>/dev/null; then
    echo "install: building GDAL $GDAL_VERSION Python bindings against the system library"
    $PIP install --no-build-isolation "gdal[numpy]==$GDAL_VERSION"
fi
$PIP install "$TF_PACKAGE"
TARGET="$HERE"
[ -z "$EXTRAS" ] || TARGET="$HERE[$EXTRAS]"
if [ "$EDITABLE" = "1" ]; then
    $PIP install -e "$TARGET"
else
    $PIP install "$TARGET"
fi
echo "install: ready ($VENV)"
