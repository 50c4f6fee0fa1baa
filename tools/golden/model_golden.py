#!/usr/bin/env python3
"""Golden forward, loss, greedy generation and token ids from transformers, for @q/model.

Reads the tiny models that @q wrote (tools/golden/make-inputs.ts: <in-dir>/qwen2, <in-dir>/llama and
<in-dir>/inputs.json) and writes one JSON that packages/model/test/golden.test.ts compares against
(packages/model/fixtures/model-golden.json). For each model:

  token_ids       tokenizer(text)["input_ids"] of every text (AutoTokenizer, fast, specials added)
  forward         on the fixed batch (row 1 left-padded): logsumexp over the vocabulary and the logits
                  at the sampled columns, per position; argmax and top-1/top-2 gap; logits' max |.|
  loss            model(..., labels=labels).loss (transformers shifts the labels itself)
  generate        model.generate(do_sample=False, max_new_tokens=8) on left-padded prompts, with the
                  top-1/top-2 gap of each step's scores (so a near-tie can be told from a bug)
  weight_probe    float64 sum and sum of |.| of every tensor, so the test knows it rebuilt the same model

Positions: transformers' forward() uses 0..T-1 when position_ids is not given, padding included;
generate() computes them from the attention mask (cumsum - 1, 1 on padding). @q always does the
latter, so the left-padded forward passes those position ids explicitly, as generate() would.

Run from the repository root (torch, transformers, safetensors; CPU is enough; no network):
    python tools/golden/model_golden.py .gpu/golden-in packages/model/fixtures/model-golden.json
Usually through tools/golden/run-all.sh, which runs every golden script.
"""
import argparse
import gzip
import json
import math
import os
import shutil

import torch

MODELS = ("qwen2", "llama")


def ensure_tokenizer(folder):
    """make-inputs.ts gzips tokenizer.json (it travels to the device machine); unpack it once."""
    plain = os.path.join(folder, "tokenizer.json")
    packed = plain + ".gz"
    if not os.path.exists(plain) and os.path.exists(packed):
        with gzip.open(packed, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst)


def load_model(folder):
    """float32, eager attention, eval mode, whatever dtype the checkpoint was saved in."""
    from transformers import AutoModelForCausalLM

    try:  # transformers >= 4.56 names it dtype; older releases torch_dtype
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    except TypeError:
        model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="eager")
    return model.float().eval()


def load_tokenizer(folder):
    from transformers import AutoTokenizer

    ensure_tokenizer(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    assert getattr(tok, "is_fast", True), f"{folder}: expected a fast (tokenizers-backed) tokenizer"
    return tok


def flat(t):
    """A tensor as a flat list of floats; non-finite values (none expected) as null, which JSON allows."""
    return [x if math.isfinite(x) else None for x in (float(v) for v in t.detach().reshape(-1).tolist())]


def positions_from_mask(mask):
    """transformers' generate(): cumsum(mask) - 1, and 1 where the mask is 0."""
    pos = mask.long().cumsum(-1) - 1
    return pos.masked_fill(mask == 0, 1)


def batch_tensors(batch):
    ids = torch.tensor(batch["input_ids"], dtype=torch.long)
    mask = torch.tensor(batch["attention_mask"], dtype=torch.long)
    labels = torch.tensor(batch["labels"], dtype=torch.long) if "labels" in batch else None
    return ids, mask, labels


def top2_gap(logits):
    top = torch.topk(logits, 2, dim=-1).values
    return top[..., 0] - top[..., 1]


@torch.no_grad()
def forward_record(model, batch, columns, position_ids=True):
    """Logits summary and loss on one batch; position_ids as generate() computes them, or none."""
    ids, mask, labels = batch_tensors(batch)
    kw = {"position_ids": positions_from_mask(mask)} if position_ids else {}
    out = model(input_ids=ids, attention_mask=mask, labels=labels, **kw)
    logits = out.logits.float()
    B, T, _ = logits.shape
    return {
        "shape": [B, T, logits.shape[-1]],
        "logsumexp": flat(torch.logsumexp(logits.double(), dim=-1)),
        "logits_at_columns": flat(logits[:, :, columns]),
        "argmax": [int(x) for x in logits.argmax(-1).reshape(-1).tolist()],
        "top2_gap": flat(top2_gap(logits)),
        # The scale of the comparison, over the unpadded positions (the only ones compared).
        "logits_abs_max": float(logits[mask.bool()].abs().max()),
        "loss": None if out.loss is None else float(out.loss),
    }


@torch.no_grad()
def generate_record(model, gen, pad, eos):
    ids, mask, _ = batch_tensors(gen)
    out = model.generate(
        input_ids=ids,
        attention_mask=mask,
        max_new_tokens=gen["max_new_tokens"],
        do_sample=False,
        num_beams=1,
        pad_token_id=pad,
        eos_token_id=eos,
        output_scores=True,
        return_dict_in_generate=True,
    )
    return {
        "sequences": out.sequences.tolist(),
        "prompt_length": ids.shape[1],
        # [step][row]: how far the chosen token's score is ahead of the runner-up.
        "top2_gap": [flat(top2_gap(s.float())) for s in out.scores],
    }


def weight_probe(folder):
    from safetensors.torch import load_file

    probe = {}
    for name, t in sorted(load_file(os.path.join(folder, "model.safetensors")).items()):
        d = t.double()
        probe[name] = [float(d.sum()), float(d.abs().sum())]
    return probe


def main():
    import transformers

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("in_dir", help="folder written by tools/golden/make-inputs.ts")
    ap.add_argument("out_json")
    args = ap.parse_args()
    torch.manual_seed(0)

    with open(os.path.join(args.in_dir, "inputs.json"), encoding="utf-8") as f:
        inputs = json.load(f)
    out = {"transformers": transformers.__version__, "torch": torch.__version__, "texts": inputs["texts"], "models": {}}
    for name in MODELS:
        folder = os.path.join(args.in_dir, name)
        spec = inputs["models"][name]
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            config = json.load(f)
        tok = load_tokenizer(folder)
        model = load_model(folder)
        rec = {
            "config": config,
            "inputs": spec,
            "weight_probe": weight_probe(folder),
            "token_ids": [tok(t)["input_ids"] for t in inputs["texts"]],
            "forward": forward_record(model, spec["batch"], spec["columns"]),
            "generate": generate_record(model, spec["generate"], spec["pad_token_id"], spec["eos_token_id"]),
        }
        out["models"][name] = rec
        fw = rec["forward"]
        print(f"{name}: loss {fw['loss']:.6f}, |logits| <= {fw['logits_abs_max']:.3f}, generated {rec['generate']['sequences']}")

    os.makedirs(os.path.dirname(os.path.abspath(args.out_json)), exist_ok=True)
    with open(args.out_json, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {args.out_json}")


if __name__ == "__main__":
    main()
