# The two set-up commands: `make demo` (the main job on an embedded default) and `make test` (the suite).
# Both install what they need first (scripts/setup.sh). Rendering is headless EGL unless you set MUJOCO_GL.
PYTHON ?= python3
export MUJOCO_GL ?= egl
export EGL_PLATFORM ?= surfaceless
DEMO ?= demo

.PHONY: setup demo test bench

setup:
	PYTHON=$(PYTHON) bash scripts/setup.sh

demo: setup
	viva-robot collect --config configs/collect/demo.yaml $(DEMO)/microwave.zarr
	viva-robot dataset info $(DEMO)/microwave.zarr
	viva-robot dataset show $(DEMO)/microwave.zarr --episode 0 --out $(DEMO)/microwave-episode0.png
	rm -rf $(DEMO)/icvf
	viva-robot pretrain --config configs/pretrain/demo.yaml --data $(DEMO)/microwave.zarr --out $(DEMO)/icvf
	viva-robot value-check $(DEMO)/icvf/value.pt $(DEMO)/microwave.zarr --episodes all --out $(DEMO)/icvf/check
	rm -rf $(DEMO)/sac
	viva-robot train --backend sim --config configs/train/demo.yaml --value $(DEMO)/icvf/value.pt --out $(DEMO)/sac
	viva-robot eval $(DEMO)/sac --episodes 2 --video
	$(PYTHON) scripts/demo_report.py $(DEMO)

test: setup
	$(PYTHON) -m pytest -q

bench: setup
	$(PYTHON) benchmarks/frame_reader.py
	$(PYTHON) benchmarks/collect_speed.py
	$(PYTHON) benchmarks/ego4d_import.py
	$(PYTHON) benchmarks/pretrain_throughput.py
	$(PYTHON) benchmarks/sac_throughput.py
	$(PYTHON) benchmarks/ros_loop.py
