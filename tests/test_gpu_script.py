"""benchmarks/gpu.sh, the one prepared run for a lent GPU machine, smoke-run on this CPU (SMOKE=1: the same three
steps at toy sizes, gloo instead of NCCL) as the device's image would run it: without MuJoCo, gymnasium, PyAV,
pyarrow or pyzmq, which that image lacks (only zarr and pydantic travel as wheels). The GPU figures themselves
need a GPU and are not measured here; this keeps the script from failing on its first, expensive call."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ABSENT_ON_THE_DEVICE = ["mujoco", "gymnasium", "gymnasium_robotics", "av", "pyarrow", "zmq"]


@pytest.mark.slow
def test_gpu_script_runs_its_three_steps_without_the_simulator(tmp_path):
    block = tmp_path / "block"
    block.mkdir()
    # sys.modules[name] = None makes `import name` raise ImportError: any step that reaches for one fails
    (block / "sitecustomize.py").write_text(f"import sys\nsys.modules.update(dict.fromkeys({ABSENT_ON_THE_DEVICE}))\n")
    env = {**os.environ, "SMOKE": "1", "PYTHONPATH": str(block), "OMP_NUM_THREADS": "1"}
    blocked = subprocess.run([sys.executable, "-c", "import mujoco"], env=env, capture_output=True, text=True)
    assert "import of mujoco halted; None in sys.modules" in blocked.stderr  # the block holds for the run below
    out = tmp_path / "out"
    proc = subprocess.run(["bash", str(REPO / "benchmarks/gpu.sh"), str(out)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert (out / "gpu.log").read_text().count("\n== ") == 3
    assert "== 3/3 viva-robot pretrain under torchrun, 2 process(es), DDP over gloo" in log
    summary = dict(line.split(": ", 1) for line in log.splitlines()
                   if re.match(r"^(pretrain_throughput_gpu|pixel_update|torchrun_pretrain): ", line))
    assert set(summary) == {"pretrain_throughput_gpu", "pixel_update", "torchrun_pretrain"}, log[-4000:]
    rates = re.findall(r"(?:fp32|channels_last) (\d+)(?:,| samples/s)", summary["pretrain_throughput_gpu"])
    assert len(rates) == 2 and all(int(r) > 0 for r in rates), summary  # fp32, bf16 + channels_last
    assert re.search(r"fp32 \d+\.\d+ ms, bf16 \d+\.\d+ ms; best (fp32|bf16) \d+\.\dx", summary["pixel_update"])
    assert re.fullmatch(r"2 process\(es\) on cpu, step 4: \d+ samples/s \(all processes\), data wait \d+%",
                        summary["torchrun_pretrain"])
    # what comes back from the device: the log and the run's small files, not its checkpoints or the dataset
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "gpu.log", "torchrun-pretrain/config.json", "torchrun-pretrain/metrics.jsonl"]
    assert json.loads((out / "torchrun-pretrain/config.json").read_text())["steps"] == 4


def test_gpu_script_stops_with_a_clear_message_without_a_gpu(tmp_path):
    if subprocess.run(["sh", "-c", "command -v nvidia-smi"], capture_output=True).returncode == 0:
        pytest.skip("this machine has nvidia-smi: the no-GPU message is for machines without one")
    proc = subprocess.run(["bash", str(REPO / "benchmarks/gpu.sh"), str(tmp_path)], capture_output=True, text=True,
                          timeout=60, env={k: v for k, v in os.environ.items() if k != "SMOKE"})
    assert proc.returncode == 1
    assert "gpu.sh: no NVIDIA GPU here (nvidia-smi failed); SMOKE=1 runs the steps on a CPU" in proc.stdout
