#!/usr/bin/env python3
"""Golden AdamW trajectories from torch.optim.AdamW, for @q/optim's GPU AdamW and clipGradNorm.

Writes packages/optim/fixtures/adamw-golden.json; the optim test (test/adamw-golden.test.ts)
replays every case and compares parameters, exp_avg and exp_avg_sq after each step when that
file exists.

Run from the repository root, in an environment with torch (CPU is enough):
    pip install torch
    python tools/golden/adamw_golden.py

Inputs are fixed here (closed-form values, rounded to float32) and written to the fixture too, so
the test needs no generator of its own. Per step: gradients are set, optionally clipped with
torch.nn.utils.clip_grad_norm_, then the group's lr is set to the step's rate and step() runs.
"""

import json
import math
import os

import torch

OUT = os.path.join("packages", "optim", "fixtures", "adamw-golden.json")

SHAPES = {"layer.weight": [4, 6], "layer.bias": [6], "lora_A": [2, 9]}

# (name, betas, eps, weight_decay, lrs per step, max_norm or None, grad amplitude)
CASES = [
    ("no_weight_decay", (0.9, 0.999), 1e-8, 0.0, [1e-2, 5e-3, 2e-2, 1e-3, 8e-3, 3e-2], None, 1.0),
    ("weight_decay_betas", (0.8, 0.95), 1e-6, 0.1, [2e-2, 2e-2, 1e-2, 5e-3, 1e-2], None, 0.3),
    ("clip_grad_norm", (0.9, 0.999), 1e-8, 0.01, [1e-2, 1e-2, 5e-3, 5e-3, 1e-2, 2e-3], 1.0, None),
]


def f32(xs):
    return torch.tensor(xs, dtype=torch.float32)


def init_values(k, n):
    return [0.5 * math.sin(0.7 * i + 1.3 * k + 0.1) for i in range(n)]


def grad_values(k, t, n, amp):
    return [amp * math.cos(1.1 * i + 0.9 * t + 2.0 * k) + 0.05 * amp * (i % 3 - 1) for i in range(n)]


def amplitude(t):
    """For the clip case: large, then small, so clipping is active on some steps and not others."""
    return [2.0, 0.05, 3.0, 0.02, 1.5, 0.1][t]


def as_list(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def run(name, betas, eps, wd, lrs, max_norm, amp):
    params = {}
    for k, (pname, shape) in enumerate(SHAPES.items()):
        n = math.prod(shape)
        params[pname] = torch.nn.Parameter(f32(init_values(k, n)).reshape(shape))
    init = {p: as_list(v) for p, v in params.items()}
    # foreach=False: the single-tensor loop, torch's default on CPU and the order the kernel follows.
    opt = torch.optim.AdamW(list(params.values()), lr=lrs[0], betas=betas, eps=eps, weight_decay=wd, foreach=False)
    steps = []
    for t, lr in enumerate(lrs):
        a = amp if amp is not None else amplitude(t)
        grads = {}
        for k, (pname, p) in enumerate(params.items()):
            p.grad = f32(grad_values(k, t, p.numel(), a)).reshape(p.shape)
            grads[pname] = as_list(p.grad)
        rec = {"lr": lr, "grads": grads}
        if max_norm is not None:
            norm = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm)
            rec["gradNorm"] = float(norm)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        rec["params"] = {p: as_list(v) for p, v in params.items()}
        rec["expAvg"] = {p: as_list(opt.state[v]["exp_avg"]) for p, v in params.items()}
        rec["expAvgSq"] = {p: as_list(opt.state[v]["exp_avg_sq"]) for p, v in params.items()}
        steps.append(rec)
    return {
        "name": name,
        "config": {"lr": lrs[0], "betas": list(betas), "eps": eps, "weightDecay": wd},
        "maxNorm": max_norm,
        "shapes": SHAPES,
        "init": init,
        "steps": steps,
    }


def main():
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "cases": [run(*c) for c in CASES]}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f)
        f.write("\n")
    print(f"wrote {OUT} ({len(out['cases'])} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()
