# Two commands on a fresh machine: `make demo` and `make test`.
# Each first installs what it needs (scripts/install.sh, idempotent).

VENV ?= .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/pix2pix-sar
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
PYTEST_ARGS ?=
# pytest workers (pytest-xdist, in the dev extra); 0 runs the tests in one process. Each
# module goes to one worker (its shared fixtures are built once); modules with slow or
# training tests start first (tests/conftest.py).
TEST_WORKERS ?= 2
PYTEST_XDIST := -n $(TEST_WORKERS) $(if $(filter 0,$(TEST_WORKERS)),,--dist loadscope --no-loadscope-reorder)

.PHONY: install lint test test-fast demo clean paper paper-smoke augmentation extra-bands structure-variety sensors

$(STAMP): setup.cfg setup.py scripts/install.sh
	bash scripts/install.sh $(VENV)
	touch $(STAMP)

install: $(STAMP)

# Lint and format check (ruff.toml) before the tests; a finding stops the run.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

test-fast: lint
	$(PY) -m pytest -m "not slow" $(PYTEST_XDIST) $(PYTEST_ARGS)

# The main job on the embedded default: a synthetic scene -> zones patches (rock,
# glacier, ocean) -> a short CPU training of the variant that measured best on whole
# scenes (docs/scene.md "orig vs scene") -> the whole scene and a new artificial glacier
# generated -> a PNG of patches and of the whole scene.
DEMO_VARIANT ?= scene
demo: $(STAMP)
	$(CLI) synth $(DEMO_DIR)/scene --width 768 --height 768 --seed 0
	$(CLI) prepare --sar $(DEMO_DIR)/scene/scene.tif --mask $(DEMO_DIR)/scene/zones.tif \
		--out $(DEMO_DIR)/dataset --patch-size 64 --classes zones --overwrite
	$(CLI) fit --data $(DEMO_DIR)/dataset --out $(DEMO_DIR)/run --variant $(DEMO_VARIANT) \
		--config experiments/demo/config.yaml
	$(CLI) generate $(DEMO_DIR)/scene/zones.tif --run $(DEMO_DIR)/run --out $(DEMO_DIR)/generated_scene.tif --overwrite
	$(CLI) masks $(DEMO_DIR)/masks --width 768 --height 512 --seed 3 --overwrite
	$(CLI) generate $(DEMO_DIR)/masks/mask_0000.tif --run $(DEMO_DIR)/run --out $(DEMO_DIR)/generated_new_glacier.tif \
		--overwrite
	$(CLI) preview $(DEMO_DIR)/run --out $(DEMO_DIR)/preview.png --count 4 \
		--scene $(DEMO_DIR)/scene/zones.tif $(DEMO_DIR)/scene/scene.tif
	@echo
	@echo "demo done:"
	@echo "  scene and zones     $(DEMO_DIR)/scene/"
	@echo "  patch dataset       $(DEMO_DIR)/dataset/"
	@echo "  run (snapshots, TensorBoard logs, config.yaml)  $(DEMO_DIR)/run/"
	@echo "  generated scene     $(DEMO_DIR)/generated_scene.tif (from the scene's zones)"
	@echo "  new glacier         $(DEMO_DIR)/masks/mask_0000.tif -> $(DEMO_DIR)/generated_new_glacier.tif"
	@echo "  preview PNG         $(DEMO_DIR)/preview.png (patches; whole scene: zones | real | generated)"

# The paper's protocol (Sec. III-C) on a prepared dataset: five variants x 300 epochs,
# every snapshot evaluated, Fig. 3 / Table I / Fig. 4 in $(PAPER_DIR)/report.
PAPER_DIR ?= paper
paper: $(STAMP)
	@test -n "$(DATA)" || { echo "usage: make paper DATA=path/to/dataset [PAPER_DIR=paper]"; exit 2; }
	$(PY) experiments/paper/run_paper.py --data $(DATA) --out $(PAPER_DIR)

# The same flow on a tiny synthetic dataset (two variants, two epochs), about 30 s on CPU.
paper-smoke: $(STAMP)
	$(PY) experiments/paper/run_paper.py --smoke --out $(PAPER_DIR)-smoke

# Does synthetic data help a calving-front segmenter, and how much of a perfect simulator's
# gain does each generator capture? (issue 23, experiments/augmentation/README.md)
# 4.3 CPU-hours measured (a replicate 42-44 CPU-min, 43-49 wall-min on 2 cores shared with another
# benchmark); resumable: every step skips what is done, and
# AUG_STOP=MIN starts no new step after MIN minutes, so it can run in parts across sessions.
# AUG_HARDER=1: the harder benchmark (synth scenes with varied fjord width, mélange, icebergs,
# looks), in its own folder and results/harder.
AUG_DIR ?= augmentation$(if $(AUG_HARDER),_harder)
augmentation: $(STAMP)
	$(PY) experiments/augmentation/run.py --out $(AUG_DIR) \
		--results experiments/augmentation/results$(if $(AUG_HARDER),/harder) \
		$(if $(AUG_STOP),--stop-after $(AUG_STOP)) $(if $(AUG_HARDER),--harder)

# Does elevation help the generator draw rock? (experiments/extra_bands/README.md)
# Six synthetic scenes with their DEMs, split by scene, about 20 minutes on 2 CPU cores.
EXTRA_DIR ?= extra_bands
extra-bands: $(STAMP)
	$(PY) experiments/extra_bands/run.py --out $(EXTRA_DIR) --results experiments/extra_bands/results

# Do generated whole scenes have the real scenes' structure and variety? (issue 22,
# experiments/structure_variety/README.md): each variant trains 15 CPU-minutes on four synth
# scenes, then is measured on four held-out 1024-px scenes against the content oracle.
# About 40 minutes on 2 CPU cores. SV_VARIANTS picks the variants (the last one is judged);
# SV_REPLICATES=N trains and measures each N times (training and sample seeds), N x the time.
SV_DIR ?= structure_variety
SV_VARIANTS ?= scene,sampler
structure-variety: $(STAMP)
	$(PY) experiments/structure_variety/run.py --out $(SV_DIR) --variants $(SV_VARIANTS) \
		--results experiments/structure_variety/results $(if $(SV_REPLICATES),--replicates $(SV_REPLICATES))

# Does a run conditioned on the sensor render each sensor's look? (issue 25,
# experiments/sensors/README.md): S1, TSX and PALSAR synth scenes, a conditioned and a
# sensor-blind run on the same patches for 5 CPU-minutes each, W1 / ENL ratio per sensor and
# a sensor classifier. About 12 CPU-minutes (8-12 min wall on 2 cores); resumable.
SENSORS_DIR ?= sensors
SENSORS_VARIANT ?= scene
sensors: $(STAMP)
	$(PY) experiments/sensors/run.py --out $(SENSORS_DIR)_$(SENSORS_VARIANT) --variant $(SENSORS_VARIANT) \
		--results experiments/sensors/results/$(SENSORS_VARIANT)

clean:
	rm -rf $(DEMO_DIR) .pytest_cache
