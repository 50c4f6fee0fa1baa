#!/usr/bin/env python3
"""Golden learning rates from transformers' get_scheduler, for @q/optim's lrSchedule.

Writes packages/optim/fixtures/schedulers-golden.json; the optim test
(src/schedulers/lr-schedule.test.ts) compares every step when that file exists.

Run from the repository root, in an environment with torch and transformers:
    pip install torch transformers
    python tools/golden/schedulers_golden.py

Each case records the options exactly as lrSchedule takes them (camelCase) and the rate the
optimizer sees at each update: scheduler.get_last_lr() read *before* optimizer.step(), which is
what the Trainer's update number `step` (0-based) uses.
"""

import json
import math
import os
import tempfile

import torch
import transformers
from transformers import TrainingArguments, get_scheduler

OUT = os.path.join("packages", "optim", "fixtures", "schedulers-golden.json")


def camel(key):
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def warmup_from_ratio(total, ratio):
    """Warmup steps as the Trainer computes them from a ratio (v5: float warmup_steps; v4: warmup_ratio)."""
    major = int(transformers.__version__.split(".")[0])
    with tempfile.TemporaryDirectory() as tmp:
        if major >= 5:
            args = TrainingArguments(output_dir=tmp, warmup_steps=ratio, report_to="none")
        else:
            args = TrainingArguments(output_dir=tmp, warmup_ratio=ratio, report_to="none")
        return args.get_warmup_steps(total)


# (name, type, lr, total, warmup_steps or None, warmup_ratio or None, kwargs, steps to record)
CASES = [
    ("linear", "linear", 2e-4, 20, 3, None, {}, 24),
    ("linear_no_warmup", "linear", 5e-5, 7, 0, None, {}, 9),
    ("linear_ratio", "linear", 1e-3, 100, None, 0.07, {}, 102),
    ("cosine", "cosine", 2e-4, 30, 3, None, {}, 40),
    ("cosine_cycles_2", "cosine", 1e-4, 25, 0, None, {"num_cycles": 2.0}, 28),
    ("cosine_with_restarts", "cosine_with_restarts", 3e-4, 30, 2, None, {}, 33),
    ("cosine_with_restarts_3", "cosine_with_restarts", 3e-4, 31, 4, None, {"num_cycles": 3}, 33),
    ("polynomial", "polynomial", 1e-3, 20, 2, None, {}, 24),
    ("polynomial_pow2", "polynomial", 1e-3, 20, 0, None, {"power": 2.0, "lr_end": 1e-5}, 22),
    ("constant", "constant", 3e-4, 10, 0, None, {}, 10),
    ("constant_with_warmup", "constant_with_warmup", 3e-4, 10, 4, None, {}, 10),
    ("inverse_sqrt", "inverse_sqrt", 1e-3, 50, 5, None, {}, 50),
    ("inverse_sqrt_no_warmup", "inverse_sqrt", 1e-3, 50, 0, None, {}, 20),
    ("cosine_with_min_lr", "cosine_with_min_lr", 2e-4, 30, 3, None, {"min_lr_rate": 0.1}, 33),
    ("cosine_with_min_lr_abs", "cosine_with_min_lr", 2e-4, 30, 3, None, {"min_lr": 1e-5}, 33),
    ("warmup_stable_decay", "warmup_stable_decay", 1e-3, 30, 5, None, {"num_decay_steps": 10}, 33),
    (
        "warmup_stable_decay_shapes",
        "warmup_stable_decay",
        1e-3,
        30,
        5,
        None,
        {"num_decay_steps": 10, "warmup_type": "cosine", "decay_type": "1-sqrt", "min_lr_ratio": 0.1},
        33,
    ),
]


def record(sched_type, lr, total, warmup, kwargs, n):
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([param], lr=lr)
    sched = get_scheduler(
        sched_type,
        opt,
        num_warmup_steps=warmup,
        num_training_steps=total,
        scheduler_specific_kwargs=dict(kwargs),
    )
    lrs = []
    for _ in range(n):
        lrs.append(float(sched.get_last_lr()[0]))
        opt.step()
        sched.step()
    return lrs


def main():
    cases = []
    for name, sched_type, lr, total, warmup_steps, warmup_ratio, kwargs, n in CASES:
        warmup = warmup_steps if warmup_ratio is None else warmup_from_ratio(total, warmup_ratio)
        options = {"type": sched_type, "learningRate": lr, "numTrainingSteps": total}
        if warmup_ratio is None:
            options["warmupSteps"] = warmup
        else:
            options["warmupRatio"] = warmup_ratio
            assert warmup == math.ceil(total * warmup_ratio), (warmup, total, warmup_ratio)
        options.update({camel(k): v for k, v in kwargs.items()})
        cases.append({"name": name, "options": options, "lrs": record(sched_type, lr, total, warmup, kwargs, n)})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(
            {"transformers": transformers.__version__, "torch": torch.__version__, "cases": cases},
            f,
            indent=1,
        )
        f.write("\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
