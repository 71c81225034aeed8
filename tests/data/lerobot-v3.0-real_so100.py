"""How tests/data/lerobot-v3.0-real_so100/ was made: by the real lerobot package (0.4.4, codebase v3.0), not by us.

lerobot 0.4.4 pins torch<2.11 and av<16, so it lives in its own venv beside the project's torch (2026-12-01):
    python3 -m venv --system-site-packages /opt/lerobot-venv
    /opt/lerobot-venv/bin/pip install --no-deps lerobot==0.4.4 accelerate
    /opt/lerobot-venv/bin/pip install datasets huggingface-hub draccus==0.10.0 deepdiff pandas jsonlines termcolor \
        einops safetensors   # with a constraints file holding torch, av, numpy, pyarrow at the system's versions
    /opt/lerobot-venv/bin/python tests/data/lerobot-v3.0-real_so100.py OUT_DIR [VCODEC]
Content: the same as tests/data/test_lerobot.py's own writer (episode colour on top, frame index in grey levels below,
state [e, i, i/2, -1], action [100 + i, e]) so the test reads it with the same checks.
"""
import shutil, sys
from pathlib import Path
import numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset

ROOT = Path(sys.argv[1])
VCODEC = sys.argv[2] if len(sys.argv) > 2 else "libsvtav1"
H, W = 72, 96
LENGTHS = [12, 7, 20]
COLOURS = [(220, 40, 40), (40, 200, 60), (50, 60, 220)]
TASKS = ["open the drawer", "pick up the cube", "open the drawer"]

features = {
    "observation.images.top": {"dtype": "video", "shape": (H, W, 3), "names": ["height", "width", "channels"]},
    "observation.state": {"dtype": "float32", "shape": (4,), "names": ["s0", "s1", "s2", "s3"]},
    "action": {"dtype": "float32", "shape": (2,), "names": ["a0", "a1"]},
}

def image(e, i):
    img = np.zeros((H, W, 3), dtype=np.uint8)
    img[: H // 2, :, :] = COLOURS[e]
    img[H // 2 :, : W // 2, :] = 20 + 20 * (i // 10)
    img[H // 2 :, W // 2 :, :] = 20 + 20 * (i % 10)
    return img

if ROOT.exists():
    shutil.rmtree(ROOT)
ROOT.parent.mkdir(parents=True, exist_ok=True)

ds = LeRobotDataset.create(
    repo_id="local/real_so100", fps=10, root=ROOT, robot_type="so100",
    features=features, use_videos=True, vcodec=VCODEC,
)
for e, n in enumerate(LENGTHS):
    for i in range(n):
        ds.add_frame({
            "observation.images.top": image(e, i),
            "observation.state": np.array([e, i, 0.5 * i, -1.0], dtype=np.float32),
            "action": np.array([100 + i, e], dtype=np.float32),
            "task": TASKS[e],
        })
    ds.save_episode()
ds.finalize()
print("written", ROOT, "episodes", ds.meta.total_episodes, "frames", ds.meta.total_frames, "vcodec", VCODEC)
