"""`make demo`'s last step: a short Markdown report linking the pictures the demo made."""

import json
import sys
from pathlib import Path

from viva_robot.data.dataset import VideoDataset

demo = Path(sys.argv[1] if len(sys.argv) > 1 else "demo")
check = json.loads((demo / "icvf" / "check" / "value_check.json").read_text())
rows = [json.loads(line) for line in (demo / "sac" / "metrics.jsonl").read_text().splitlines()]
evals = [r for r in rows if r["kind"] == "eval"]
episodes = [r for r in rows if r["kind"] == "episode"]
ds = VideoDataset(demo / "microwave.zarr")
videos = sorted((demo / "sac" / "eval").glob("*.mp4"))
report = f"""# viva-robot demo report

1. **Play video**: `microwave.zarr`, {ds.num_episodes} episodes, {ds.num_frames} frames. First episode:
   ![episode 0](microwave-episode0.png)
2. **Value** (`icvf/`): temporal-order accuracy {check['temporal_order_accuracy']:.3f} on {len(check['episodes'])} episodes
   (0.5 = chance; the demo trains for seconds, the README's door run for 18 minutes).
   ![value curves](icvf/check/value_curves.png)
3. **SAC guided by the value** (`sac/`): {episodes[-1]['step'] if episodes else 0} environment steps, {len(episodes)} episodes,
   {int(sum(r['success'] for r in episodes))} with success; last evaluation: success rate {evals[-1]['success_rate']:.2f},
   return {evals[-1]['return']:.1f}.
   ![learning curve](sac/learning_curve.png)
   Evaluation video with the value curve: [{videos[-1].name}](sac/eval/{videos[-1].name})
"""
(demo / "report.md").write_text(report)
print(f"wrote {demo / 'report.md'}")
