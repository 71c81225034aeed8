# The two set-up commands: `make demo` (the main job on a shipped value) and `make test` (the suite).
# Both install what they need first (scripts/setup.sh). Rendering is headless EGL unless you set MUJOCO_GL.
PYTHON ?= python3
export MUJOCO_GL ?= egl
export EGL_PLATFORM ?= surfaceless
DEMO ?= demo

.PHONY: setup demo test bench

setup:
	PYTHON=$(PYTHON) bash scripts/setup.sh

# The value the demo uses: a small checkpoint shipped in assets/values/ (made by the project's own commands, see
# assets/values/README.md), or DEMO_VALUE=scratch to collect play video and pretrain it here (~20 min more).
DEMO_VALUE ?= assets/values/kitchen-slide-cabinet-play.pt
VALUE = $(if $(filter scratch,$(DEMO_VALUE)),$(DEMO)/icvf/value.pt,$(DEMO_VALUE))

demo: setup
	@test "$(DEMO_VALUE)" = scratch || test -f "$(DEMO_VALUE)" || { echo "demo: $(DEMO_VALUE) not found; make demo DEMO_VALUE=scratch trains one"; exit 1; }
	viva-robot collect --config configs/collect/demo.yaml $(DEMO)/slide.zarr
	viva-robot dataset info $(DEMO)/slide.zarr
	viva-robot dataset show $(DEMO)/slide.zarr --episode 0 --out $(DEMO)/slide-episode0.png
ifeq ($(DEMO_VALUE),scratch)
	viva-robot collect --config configs/collect/kitchen-slide-cabinet.yaml $(DEMO)/slide-play.zarr
	rm -rf $(DEMO)/icvf
	viva-robot pretrain --config configs/pretrain/cpu-small.yaml --data $(DEMO)/slide-play.zarr --out $(DEMO)/icvf --steps 1500
endif
	rm -rf $(DEMO)/value-check $(DEMO)/sac-guided $(DEMO)/sac-sparse
	viva-robot value-check $(VALUE) $(DEMO)/slide.zarr --episodes all --out $(DEMO)/value-check
	$(PYTHON) experiments/goal_value.py $(VALUE) kitchen-slide-cabinet --episodes 3 --out $(DEMO)/goal-value.png
	@echo "demo: SAC guided by the value (potential) and plain sparse SAC, side by side (one core each)"
	viva-robot train --config configs/train/demo.yaml --mode sparse --value $(VALUE) --out $(DEMO)/sac-sparse -q & \
	  sparse=$$!; viva-robot train --config configs/train/demo.yaml --mode potential --value $(VALUE) --out $(DEMO)/sac-guided; \
	  guided=$$?; wait $$sparse && exit $$guided
	$(PYTHON) scripts/demo_report.py $(DEMO) $(VALUE)

test: setup
	$(PYTHON) -m pytest -q

bench: setup
	$(PYTHON) benchmarks/frame_reader.py
	$(PYTHON) benchmarks/collect_speed.py
	$(PYTHON) benchmarks/ego4d_import.py
	$(PYTHON) benchmarks/lerobot_import.py
	$(PYTHON) benchmarks/pretrain_throughput.py
	$(PYTHON) benchmarks/sac_throughput.py
	$(PYTHON) benchmarks/guided_step.py
	$(PYTHON) benchmarks/ros_loop.py
	$(PYTHON) benchmarks/actor_learner.py
