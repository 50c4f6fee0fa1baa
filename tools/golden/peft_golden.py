#!/usr/bin/env python3
"""Golden LoRA forward, training step and merge from peft, for @q/lora (and @q/merge).

Reads the tiny qwen2 model and @q's adapter from <in-dir> (tools/golden/make-inputs.ts) and writes
into <out-dir> (packages/lora/fixtures when installed):

  adapter-peft/      an adapter made by peft here: LoraConfig(r=4, lora_alpha=8, q/k/v_proj,
                     init_lora_weights=False) after torch.manual_seed(1234), save_pretrained'd
  adapter-q/         a copy of the adapter @q saved (so the test loads exactly what peft loaded)
  peft-golden.json   with
    adapter_q        PeftModel.from_pretrained(model, adapter-q): logits summary and loss on the batch
    merge            the same after merge_and_unload(), and the merged weights of every adapted layer
    adapter_peft     adapter-peft's logits summary and loss on the batch
    train            adapter-peft trained for a few steps on an SFT-style batch (right padding,
                     prompt labels -100, no position_ids: as the Trainer calls the model) with
                     torch.optim.AdamW(lr=1e-3, weight_decay=0.0, foreach=False): each step's loss,
                     the LoRA gradients of step 0 and the LoRA parameters after step 0's update

packages/lora/test/golden.test.ts compares against it. Run from the repository root
(torch, transformers, peft, safetensors; CPU is enough; no network):
    python tools/golden/peft_golden.py .gpu/golden-in packages/lora/fixtures
Usually through tools/golden/run-all.sh.
"""
import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_golden import batch_tensors, flat, forward_record, load_model, weight_probe  # noqa: E402


def lora_named(model, what):
    """LoRA tensors (or their gradients) under peft's in-memory names."""
    out = {}
    for n, p in model.named_parameters():
        if "lora_" not in n:
            continue
        t = p.grad if what == "grad" else p
        out[n] = {"shape": list(p.shape), "data": flat(t)}
    return out


def train_record(peft_model, batch, train):
    ids, mask, labels = batch_tensors(batch)
    params = [p for _, p in peft_model.named_parameters() if p.requires_grad]
    opt = torch.optim.AdamW(
        params, lr=train["lr"], betas=tuple(train["betas"]), eps=train["eps"], weight_decay=train["weight_decay"], foreach=False
    )
    peft_model.train()
    rec = {"losses": []}
    for step in range(train["steps"]):
        opt.zero_grad(set_to_none=True)
        loss = peft_model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        rec["losses"].append(float(loss))
        if step == 0:
            rec["grads"] = lora_named(peft_model, "grad")
        opt.step()
        if step == 0:
            rec["params_after_step"] = lora_named(peft_model, "param")
    peft_model.eval()
    return rec


def main():
    import peft
    import transformers
    from peft import LoraConfig, PeftModel, get_peft_model

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("in_dir", help="folder written by tools/golden/make-inputs.ts")
    ap.add_argument("out_dir")
    args = ap.parse_args()

    with open(os.path.join(args.in_dir, "inputs.json"), encoding="utf-8") as f:
        inputs = json.load(f)
    spec = inputs["models"]["qwen2"]
    folder = os.path.join(args.in_dir, "qwen2")
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    os.makedirs(args.out_dir, exist_ok=True)
    out = {
        "peft": peft.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "config": config,
        "inputs": spec,
        "adapter_peft_config": inputs["adapter_peft"],
        "train_config": inputs["train"],
        "weight_probe": weight_probe(folder),
    }

    # @q's adapter, loaded by peft; then merged into the base weights.
    q_dir = os.path.join(args.out_dir, "adapter-q")
    shutil.rmtree(q_dir, ignore_errors=True)
    shutil.copytree(os.path.join(args.in_dir, "adapter-q"), q_dir)
    pm = PeftModel.from_pretrained(load_model(folder), q_dir).eval()
    out["adapter_q"] = forward_record(pm, spec["batch"], spec["columns"])
    targets = [n for n, m in pm.named_modules() if hasattr(m, "lora_A") and hasattr(m, "base_layer")]
    merged = pm.merge_and_unload(safe_merge=True).eval()
    out["merge"] = forward_record(merged, spec["batch"], spec["columns"])
    state = merged.state_dict()
    out["merge"]["weights"] = {}
    for n in targets:
        key = n.replace("base_model.model.", "", 1) + ".weight"
        out["merge"]["weights"][key] = {"shape": list(state[key].shape), "data": flat(state[key])}
    del pm, merged

    # An adapter made by peft itself.
    a = inputs["adapter_peft"]
    torch.manual_seed(a["torch_seed"])
    lora = LoraConfig(
        r=a["r"],
        lora_alpha=a["lora_alpha"],
        lora_dropout=a["lora_dropout"],
        target_modules=a["target_modules"],
        init_lora_weights=a["init_lora_weights"],
        task_type="CAUSAL_LM",
    )
    pm = get_peft_model(load_model(folder), lora)
    p_dir = os.path.join(args.out_dir, "adapter-peft")
    shutil.rmtree(p_dir, ignore_errors=True)
    pm.save_pretrained(p_dir, safe_serialization=True, save_embedding_layers=False)
    # save_pretrained also writes a model card; the fixture keeps the two files an adapter is.
    for extra in set(os.listdir(p_dir)) - {"adapter_config.json", "adapter_model.safetensors"}:
        os.remove(os.path.join(p_dir, extra))
    pm.eval()
    out["adapter_peft"] = forward_record(pm, spec["batch"], spec["columns"])
    out["train"] = train_record(pm, spec["train"], inputs["train"])

    path = os.path.join(args.out_dir, "peft-golden.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f)
        f.write("\n")
    print(
        f"adapter_q loss {out['adapter_q']['loss']:.6f}, merged loss {out['merge']['loss']:.6f}, "
        f"adapter_peft loss {out['adapter_peft']['loss']:.6f}, train losses {out['train']['losses']}"
    )
    print(f"wrote {path}, {p_dir}, {q_dir}")


if __name__ == "__main__":
    main()
