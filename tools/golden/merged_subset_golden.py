"""transformers loads the merged folders that tools/golden/make-merged-subset.ts wrote from adapters on
a subset of the projections (q/k/v in memory, q/v through `qlora merge --load-in-4bit`, MLP-only through
the train-time merge). For each it records what from_pretrained reports as missing, unexpected or
mismatched (all must be empty: nothing initialised at random) and its logits on @q's batch, with the
largest difference from @q's own logits of the same folder. Checked in packages/merge/test/subset-golden.test.ts.

    python3 tools/golden/merged_subset_golden.py <subset-dir> <out.json>
"""
import gzip
import json
import os
import sys

import torch


def main():
    import transformers
    from transformers import AutoModelForCausalLM

    in_dir, out_path = sys.argv[1], sys.argv[2]
    opener = gzip.open if os.path.exists(os.path.join(in_dir, "q-logits.json.gz")) else open
    name = "q-logits.json.gz" if opener is gzip.open else "q-logits.json"
    with opener(os.path.join(in_dir, name), "rt", encoding="utf-8") as f:
        q = json.load(f)
    out = {"transformers": transformers.__version__, "torch": torch.__version__, "cases": {}}
    for case, rec in q.items():
        folder = os.path.join(in_dir, case, "merged")
        model, info = AutoModelForCausalLM.from_pretrained(
            folder, torch_dtype=torch.float32, attn_implementation="eager", output_loading_info=True
        )
        model.eval()
        ids = torch.tensor(rec["ids"])
        with torch.no_grad():
            logits = model(input_ids=ids).logits.float()
        B, T, V = logits.shape
        ql = torch.tensor(rec["logits"], dtype=torch.float32).reshape(B, T, V)
        cols = sorted({(7 * k + 3) % V for k in range(16)})
        out["cases"][case] = {
            "files": sorted(os.listdir(folder)),
            "missing_keys": sorted(info.get("missing_keys", [])),
            "unexpected_keys": sorted(info.get("unexpected_keys", [])),
            "mismatched_keys": [list(map(str, m)) for m in info.get("mismatched_keys", [])],
            "error_msgs": [str(m) for m in info.get("error_msgs", [])],
            "ids": rec["ids"],
            "columns": cols,
            "logits_at_columns": logits[:, :, cols].reshape(-1).tolist(),
            "logsumexp": torch.logsumexp(logits.double(), dim=-1).reshape(-1).tolist(),
            "logits_abs_max": float(logits.abs().max()),
            "max_abs_diff_vs_q": float((logits - ql).abs().max()),
        }
        c = out["cases"][case]
        print(f"{case}: missing {len(c['missing_keys'])}, unexpected {len(c['unexpected_keys'])}, "
              f"mismatched {len(c['mismatched_keys'])}, max |transformers - @q| {c['max_abs_diff_vs_q']:.3g} "
              f"(scale {c['logits_abs_max']:.3g})")
    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
