#!/usr/bin/env python3
"""Loads @q's -bnb-4bit checkpoints in transformers + bitsandbytes and compares logits with @q's.

    python3 tools/golden/bnb_checkpoint.py <dir from make-bnb-checkpoint.ts> <out.json>

Needs a CUDA GPU, torch, transformers and bitsandbytes (tools/bnb/build.sh). For each folder named
in q-logits.json, transformers loads it as saved (config.json's quantization_config: no re-quantizing),
computes float32 logits on the same batch, and the report gives the largest difference from @q's
logits over the attended positions, plus the dequantized weights' difference from the float32 base.
Exit status 1 when a folder fails to load or differs by more than 1e-3 (relative to max |logit|).
"""

import json
import os
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

IN, OUT = sys.argv[1], sys.argv[2]
q = json.load(open(os.path.join(IN, "q-logits.json")))
ids = torch.tensor(q["input_ids"], device="cuda")
mask = torch.tensor(q["attention_mask"], device="cuda")
B, T, V = ids.shape[0], ids.shape[1], q["vocab"]
base = load_file(os.path.join(IN, "base", "model.safetensors"))
report = {"torch": torch.__version__, "folders": {}}
ok = True
for name, q_logits in q["logits"].items():
    rec = {}
    try:
        import bitsandbytes as bnb
        import bitsandbytes.functional as BF
        import transformers

        report["bitsandbytes"] = bnb.__version__
        report["transformers"] = transformers.__version__
        model = AutoModelForCausalLM.from_pretrained(os.path.join(IN, name), device_map="cuda", dtype=torch.float32)
        model.eval()
        n4 = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
        rec["linear4bit_modules"] = len(n4)
        rec["quant_type"] = n4[0].weight.quant_state.quant_type if n4 else None
        rec["double_quant"] = bool(n4[0].weight.quant_state.nested) if n4 else None
        # Dequantized weights against the float32 base: what 4-bit costs, the same on both sides.
        worst = 0.0
        for mod_name, m in model.named_modules():
            if isinstance(m, bnb.nn.Linear4bit):
                w = BF.dequantize_4bit(m.weight.data, m.weight.quant_state).float().cpu()
                ref = base[mod_name + ".weight"]
                worst = max(worst, float((w - ref).abs().max() / ref.abs().max()))
        rec["dequant_vs_base_rel"] = worst
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask).logits.float().cpu()
        mine = torch.tensor(q_logits, dtype=torch.float32).view(B, T, V)
        keep = torch.tensor(q["attention_mask"], dtype=torch.bool)
        diff = (logits - mine).abs()[keep]
        rec["max_abs_logit"] = float(logits[keep].abs().max())
        rec["max_abs_diff"] = float(diff.max())
        rec["rel_diff"] = rec["max_abs_diff"] / max(rec["max_abs_logit"], 1e-30)
        rec["argmax_agree"] = float((logits.argmax(-1) == mine.argmax(-1))[keep].float().mean())
        rec["ok"] = rec["rel_diff"] <= 1e-3
    except Exception as e:  # report and go on with the next folder
        import traceback

        traceback.print_exc()
        rec["error"] = f"{type(e).__name__}: {e}"
        rec["ok"] = False
    ok = ok and rec["ok"]
    report["folders"][name] = rec
    print(name, json.dumps(rec), flush=True)
report["ok"] = ok
json.dump(report, open(OUT, "w"), indent=1)
sys.exit(0 if ok else 1)
