#!/usr/bin/env python3
"""Golden token ids of transformers' generate() (greedy, beam search, stopping rules), for @q/model.

Reads the tiny models that @q wrote (tools/golden/make-generate-inputs.ts: <in-dir>/qwen2,
<in-dir>/llama and <in-dir>/inputs.json) and writes one JSON that
packages/model/test/generate-golden.test.ts compares against (packages/model/fixtures/generate-golden.json).

For each model, on a left-padded batch of two prompts, each case records the kwargs (snake_case,
as generation_config.json spells them) and what generate() returned:
  defaults       nothing passed to generate(): model.generation_config holds eos (a list), pad, bos,
                 max_new_tokens, repetition_penalty and sampling fields that greedy ignores
  min_new_tokens eos suppressed for the first tokens
  beam_*         num_beams / num_return_sequences / length_penalty / early_stopping (True, False, "never")
  stop_strings   (llama, which has a tokenizer) a stop string taken from the greedy text
  sample_top1    do_sample with top_k=1 and two return sequences (deterministic)
The eos ids are picked from a first greedy run so that rows do stop early. Greedy cases keep the
top-1/top-2 gap of each step's scores, so a test can tell a near-tie from a bug; beam cases keep
sequences_scores. A case that raises is recorded with its error instead of stopping the script.

Run from the repository root (torch, transformers, safetensors; CPU is enough; no network):
    python tools/golden/generate_golden.py .gpu/generate-in packages/model/fixtures/generate-golden.json
(make-inputs: `node .gpu/make-generate-inputs.mjs <in-dir>/generate` puts them where run-all.sh looks)
or through tools/golden/run-all.sh, which runs it when <in-dir>/generate exists.
"""
import argparse
import copy
import gzip
import json
import math
import os
import shutil
import traceback

import torch


def ensure_tokenizer(folder):
    plain = os.path.join(folder, "tokenizer.json")
    packed = plain + ".gz"
    if not os.path.exists(plain) and os.path.exists(packed):
        with gzip.open(packed, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst)


def load_model(folder):
    from transformers import AutoModelForCausalLM

    try:  # transformers >= 4.56 names it dtype; older releases torch_dtype
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    except TypeError:
        model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="eager")
    return model.float().eval()


def flat(t):
    return [x if math.isfinite(x) else None for x in (float(v) for v in t.detach().reshape(-1).tolist())]


def top2_gap(scores):
    """[rows] gap between the best and second-best processed score (inf where only one is finite)."""
    top = torch.topk(scores.float(), 2, dim=-1).values
    return top[..., 0] - top[..., 1]


@torch.no_grad()
def run(model, batch, kwargs, generation_config=None, tokenizer=None):
    from transformers import GenerationConfig

    ids = torch.tensor(batch["input_ids"], dtype=torch.long)
    mask = torch.tensor(batch["attention_mask"], dtype=torch.long)
    saved = model.generation_config
    if generation_config is not None:
        model.generation_config = GenerationConfig(**generation_config)
    try:
        extra = {"tokenizer": tokenizer} if tokenizer is not None else {}
        out = model.generate(input_ids=ids, attention_mask=mask, output_scores=True, return_dict_in_generate=True, **kwargs, **extra)
    finally:
        model.generation_config = saved
    rec = {"sequences": out.sequences.tolist(), "prompt_length": ids.shape[1]}
    if getattr(out, "sequences_scores", None) is not None:
        rec["sequences_scores"] = flat(out.sequences_scores)
    elif out.scores is not None and kwargs.get("num_beams", 1) == 1:
        rec["top2_gap"] = [flat(top2_gap(s)) for s in out.scores]
    return rec


def pick_eos(seqs, P):
    """Two eos ids that the greedy run produces: row 0's 4th new token and row 1's 6th."""
    a = seqs[0][P + 3]
    b = seqs[1][P + 5]
    return [a, b] if a != b else [a]


def pick_stop_string(tok, seqs, P):
    """A stop string that ends inside row 0's 5th new token: that token's text, stripped (at least 2 chars)."""
    new = seqs[0][P:]
    for k in range(4, len(new)):
        piece = tok.decode(new[k : k + 1]).strip()
        if len(piece) >= 2 and piece.isprintable():
            return piece
    return tok.decode(new[3:6]).strip()[-3:]


def main():
    import transformers
    from transformers import AutoTokenizer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("in_dir", help="folder written by tools/golden/make-generate-inputs.ts")
    ap.add_argument("out_json")
    args = ap.parse_args()
    torch.manual_seed(0)
    with open(os.path.join(args.in_dir, "inputs.json"), encoding="utf-8") as f:
        inputs = json.load(f)

    out = {"transformers": transformers.__version__, "torch": torch.__version__, "models": {}}
    for name, spec in inputs.items():
        folder = os.path.join(args.in_dir, name)
        model = load_model(folder)
        tok = None
        if spec.get("tokenizer"):
            ensure_tokenizer(folder)
            tok = AutoTokenizer.from_pretrained(folder)
        batch = spec["batch"]
        pad = spec["pad_token_id"]
        P = len(batch["input_ids"][0])
        base = run(model, batch, {"max_new_tokens": 12, "do_sample": False, "eos_token_id": None, "pad_token_id": pad})
        eos = pick_eos(base["sequences"], P)
        cases = {}
        cases["defaults"] = {
            "generation_config": {
                "bos_token_id": spec["config"]["bos_token_id"],
                "eos_token_id": eos,
                "pad_token_id": pad,
                "max_new_tokens": 12,
                "do_sample": False,
                "repetition_penalty": 1.3,
                "temperature": 0.7,
                "top_k": 20,
                "top_p": 0.8,
            },
            "kwargs": {},
        }
        common = {"eos_token_id": eos, "pad_token_id": pad}
        cases["greedy_no_eos"] = {"kwargs": {"max_new_tokens": 12, "do_sample": False, "eos_token_id": None, "pad_token_id": pad}}
        cases["min_new_tokens"] = {"kwargs": {**common, "max_new_tokens": 10, "min_new_tokens": 6, "do_sample": False}}
        cases["beam4_return2"] = {"kwargs": {**common, "max_new_tokens": 8, "num_beams": 4, "num_return_sequences": 2, "do_sample": False}}
        cases["beam3_early_lp05"] = {"kwargs": {**common, "max_new_tokens": 8, "num_beams": 3, "early_stopping": True, "length_penalty": 0.5, "do_sample": False}}
        cases["beam3_never_lp2_rep"] = {
            "kwargs": {**common, "max_new_tokens": 7, "num_beams": 3, "early_stopping": "never", "length_penalty": 2.0,
                       "num_return_sequences": 3, "repetition_penalty": 1.2, "do_sample": False}
        }
        cases["beam2_no_eos"] = {"kwargs": {"max_new_tokens": 6, "num_beams": 2, "eos_token_id": None, "pad_token_id": pad, "do_sample": False}}
        cases["sample_top1"] = {"kwargs": {**common, "max_new_tokens": 6, "do_sample": True, "top_k": 1, "num_return_sequences": 2}}
        if tok is not None:
            stop = pick_stop_string(tok, base["sequences"], P)
            cases["stop_strings"] = {"kwargs": {"max_new_tokens": 12, "do_sample": False, "eos_token_id": None, "pad_token_id": pad, "stop_strings": [stop]}, "tokenizer": True}
        for cname, case in cases.items():
            try:
                case["result"] = run(model, batch, copy.deepcopy(case["kwargs"]), case.get("generation_config"), tok if case.get("tokenizer") else None)
                print(f"{name}/{cname}: {case['result']['sequences']}")
            except Exception as e:  # recorded, so one unsupported case does not lose the others
                case["error"] = f"{type(e).__name__}: {e}"
                traceback.print_exc()
        out["models"][name] = {"config": spec["config"], "weights": spec["weights"], "tokenizer": spec.get("tokenizer"),
                               "batch": batch, "pad_token_id": pad, "eos": eos, "base": base, "cases": cases}

    os.makedirs(os.path.dirname(os.path.abspath(args.out_json)), exist_ok=True)
    with open(args.out_json, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {args.out_json}")


if __name__ == "__main__":
    main()
