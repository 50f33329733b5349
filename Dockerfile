# GPU image: CUDA-enabled TensorFlow 2.21 (CUDA libraries come with the
# tensorflow[and-cuda] wheels; the host needs only the NVIDIA driver and
# container toolkit), GDAL with its Python bindings, and pix2pix-sar.
#   docker build -t pix2pix-sar .
#   docker run --gpus all -v $PWD/data:/data -v $PWD/runs:/runs pix2pix-sar \
#       fit --data /data/dataset --variant dis3 --out /runs/dis3
FROM python:3.11-slim-bookworm

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    PATH=/opt/venv/bin:$PATH

WORKDIR /opt/pix2pix-sar
COPY setup.cfg setup.py README.md ./
COPY scripts/ scripts/
COPY pix2pix_sar/ pix2pix_sar/

# The same install script as `make` uses: libgdal-dev, venv, GDAL bindings, TensorFlow, package.
RUN TF_PACKAGE="tensorflow[and-cuda]==2.21.0" EXTRAS="" EDITABLE=0 CLEAN_APT=1 \
        bash scripts/install.sh /opt/venv

RUN useradd --create-home --uid 1000 sar \
    && mkdir -p /data /runs \
    && chown sar:sar /data /runs
USER 1000:1000
WORKDIR /runs
VOLUME ["/data", "/runs"]

ENTRYPOINT ["pix2pix-sar"]
CMD ["--help"]
