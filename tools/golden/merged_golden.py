"""What transformers computes from a model folder written by @q/merge (tools/golden/make-merged.ts):
AutoModelForCausalLM.from_pretrained on merged-q-f16/ (float16 safetensors, no quantization_config),
run in float32 on the same batch as peft_golden.py. Compared in packages/merge/test/golden.test.ts.

    python3 tools/golden/merged_golden.py <in-dir> <out.json>
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_golden import forward_record  # noqa: E402


def main():
    import transformers
    from transformers import AutoModelForCausalLM

    in_dir, out_path = sys.argv[1], sys.argv[2]
    with open(os.path.join(in_dir, "inputs.json"), encoding="utf-8") as f:
        spec = json.load(f)["models"]["qwen2"]
    folder = os.path.join(in_dir, "merged-q-f16")
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    out = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "config": config,
        "files": sorted(os.listdir(folder)),
        "inputs": spec,
        "merged": forward_record(model, spec["batch"], spec["columns"]),
    }
    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f)
    print(f"merged: loss {out['merged']['loss']:.6f}, files {out['files']}")


if __name__ == "__main__":
    main()
