"""``segtool bench latency``, SAM engines: segtool's click policy against SAM's raw output, side by side.

The same prompts on the same prepared image, interleaved so both see the same machine load:

- **raw**: the engine with ``interactive.raw`` (SAM's own mask choice, no post-processing; the click
  path before issue 15);
- **segtool**: the default click policy (mask choice among the decoder's four outputs, negative-click
  reach, clean-up of specks and pinholes; zoom-in and refine edges off, as by default).

Two prompts: the first click on the object, and a follow-up (three clicks, the second one negative,
with the previous low-res logits fed back, as every click after the first). The goal of issue 15 is
``segtool / raw <= 1.10`` for both.
"""

from __future__ import annotations

import copy
import dataclasses
import statistics
from typing import Any

from segtool.engines.base import Prompt

#: Issue 15: the interactive click stays within 10 % of SAM's raw click.
POLICY_GOAL = 1.10


def _prompts(engine: Any, context: Any, h: int, w: int) -> dict[str, Prompt]:
    first = Prompt(points=[[w / 2, h / 2]], labels=[1])
    seed = engine.predict(context, first)[0]
    follow = Prompt(points=[[w / 2, h / 2], [w * 0.9, h * 0.9], [w / 2 + w / 16, h / 2]], labels=[1, 0, 1],
                    mask_logits=seed.low_res_logits, state=seed.state)
    return {"first": first, "follow_up": follow}


def measure_policy(engine: Any, context: Any, image_hw: tuple[int, int], repeats: int,
                   interleaved_ms: Any) -> dict[str, Any]:
    """Median ms of raw and segtool clicks for both prompts and their ratios (``{}`` for engines
    without click options)."""
    if getattr(engine, "interactive", None) is None:
        return {}
    raw = copy.copy(engine)
    raw.interactive = dataclasses.replace(engine.interactive, raw=True)
    policy = copy.copy(engine)
    policy.interactive = dataclasses.replace(engine.interactive, raw=False, zoom_in=False, refine_edges=False)
    out: dict[str, Any] = {}
    for name, prompt in _prompts(policy, context, *image_hw).items():
        raw_prompt = dataclasses.replace(prompt, state=None)
        times = interleaved_ms({"raw": lambda p=raw_prompt: raw.predict(context, p),
                                "segtool": lambda p=prompt: policy.predict(context, p)}, repeats)
        r, s = statistics.median(times["raw"]), statistics.median(times["segtool"])
        out[f"{name}_raw_ms"], out[f"{name}_segtool_ms"], out[f"{name}_policy_ratio"] = r, s, s / r
    return out


def print_policy(rows: list[dict[str, Any]]) -> None:
    """The side-by-side table of :func:`measure_policy` rows (nothing when there are none)."""
    rows = [r for r in rows if "first_raw_ms" in r]
    if not rows:
        return
    print(f"segtool click policy vs SAM raw (same prompts, interleaved; goal <= {POLICY_GOAL})")
    print(f"{'engine':<14} {'image':>11} {'1st raw':>8} {'1st seg':>8} {'ratio':>6} "
          f"{'next raw':>9} {'next seg':>9} {'ratio':>6}")
    for r in rows:
        print(f"{r['engine']:<14} {r['image_hw'][1]:>5}x{r['image_hw'][0]:<5} {r['first_raw_ms']:8.2f} "
              f"{r['first_segtool_ms']:8.2f} {r['first_policy_ratio']:6.3f} {r['follow_up_raw_ms']:9.2f} "
              f"{r['follow_up_segtool_ms']:9.2f} {r['follow_up_policy_ratio']:6.3f}")
