#!/usr/bin/env python3
"""Golden scale trajectories of torch.amp.GradScaler, for @q/optim's GradScaler.

Writes packages/optim/fixtures/grad-scaler-golden.json; packages/optim/src/amp/grad-scaler.test.ts
replays every case and compares the scale, the growth tracker and whether the step ran, step by step.

    python tools/golden/grad_scaler_golden.py            # with torch: the real GradScaler
    python tools/golden/grad_scaler_golden.py --check    # with torch: compare against the fixture

Each step sets a parameter's gradient to a finite value or to inf/NaN, then runs
scaler.step(optimizer) and scaler.update(), and records scaler.get_scale(), the growth tracker and
whether the optimizer changed the parameter. Without torch the script transcribes
_amp_update_scale_ (aten/src/ATen/native/cuda/AmpKernels.cu) in float32 with numpy and marks the
file "source": "transcription"; --check then needs torch.
"""

import json
import math
import os
import sys

import numpy as np

OUT = os.path.join("packages", "optim", "fixtures", "grad-scaler-golden.json")

# (name, options, pattern of found_inf per step: "." clean, "i" inf, "n" nan)
CASES = [
    ("defaults_clean_then_inf", {}, "iii" + "." * 2000 + "i" + "." * 3),
    ("interval_3", {"growth_interval": 3}, "........i..i...nn......"),
    ("factors", {"init_scale": 1024.0, "growth_factor": 4.0, "backoff_factor": 0.25, "growth_interval": 2}, "....ii.....i."),
    ("growth_overflow_kept", {"init_scale": 2.0**126, "growth_interval": 1}, "...."),
    ("backoff_many", {"init_scale": 8.0, "growth_interval": 5}, "i" * 40 + "." * 6),
]


def transcription(opts, pattern):
    scale = np.float32(opts.get("init_scale", 2.0**16))
    growth = opts.get("growth_factor", 2.0)
    backoff = opts.get("backoff_factor", 0.5)
    interval = opts.get("growth_interval", 2000)
    tracker = 0
    steps = []
    for c in pattern:
        found = c != "."
        if found:
            scale = np.float32(scale * np.float32(backoff))
            tracker = 0
        else:
            successful = tracker + 1
            if successful == interval:
                with np.errstate(over="ignore"):
                    new = np.float32(scale * np.float32(growth))
                if math.isfinite(float(new)):
                    scale = new
                tracker = 0
            else:
                tracker = successful
        steps.append({"found_inf": found, "ran": not found, "scale": float(scale), "growth_tracker": tracker})
    return steps


def with_torch(opts, pattern):
    import torch

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    p = torch.nn.Parameter(torch.zeros(1, device=dev))
    opt = torch.optim.SGD([p], lr=1.0)
    scaler = torch.amp.GradScaler(dev, **opts)
    steps = []
    for c in pattern:
        scaler.scale(torch.ones((), device=dev))  # initialises the scale lazily, as a loss would
        g = {".": 1.0, "i": math.inf, "n": math.nan}[c]
        p.grad = torch.full((1,), g * scaler.get_scale(), device=dev)
        before = p.detach().clone()
        scaler.step(opt)
        scaler.update()
        ran = not torch.equal(before, p.detach())
        steps.append({"found_inf": c != ".", "ran": ran, "scale": scaler.get_scale(), "growth_tracker": int(scaler._growth_tracker.item())})
    return steps


def main():
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    if "--check" in sys.argv:
        if not have_torch:
            sys.exit("--check needs torch")
        want = json.load(open(OUT))
        bad = 0
        for case in want["cases"]:
            got = with_torch(case["options"], case["pattern"])
            for i, (a, b) in enumerate(zip(got, case["steps"])):
                if a != b:
                    bad += 1
                    print(f"{case['name']} step {i}: torch {a}, fixture {b}")
        print(f"grad_scaler_golden --check: {bad} differing steps (torch {__import__('torch').__version__})")
        sys.exit(1 if bad else 0)
    run = with_torch if have_torch else transcription
    cases = [{"name": n, "options": o, "pattern": pat, "steps": run(o, pat)} for n, o, pat in CASES]
    src = f"torch {__import__('torch').__version__}" if have_torch else "transcription"
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"source": src, "cases": cases}, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT} ({src})")


if __name__ == "__main__":
    main()
