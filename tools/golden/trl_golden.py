#!/usr/bin/env python3
"""trl as the oracle for @q's SFT data path: token ids, label masks, batches, packing, one step.

    python3 tools/golden/trl_golden.py <golden-in dir> <tiny-chat.jsonl> <out.json> [--set base|assistant]

--set base (the default) writes trl-golden.json's configurations; --set assistant writes
trl-assistant-golden.json's: assistant-only loss with trl's own training chat templates, which carry
`{% generation %}` markers (trl/chat_templates/qwen3_training.jinja, qwen2_5_training.jinja), so trl
takes transformers' return_assistant_tokens_mask as it is and swaps nothing in. The template is set
on the tokenizer (as SFTConfig(chat_template_path=<a .jinja file>) does) and recorded in the fixture.

<golden-in dir> is what tools/golden/make-inputs.ts wrote (qwen2/ with config, weights and the
Qwen3 tokenizer; adapter-q/, @q's LoRA adapter for it). Needs torch, transformers, peft, accelerate,
datasets and trl (trl and datasets may come on PYTHONPATH; see tools/golden/run-trl.sh). Runs on the
CPU in float32.

For each configuration below, trl's SFTTrainer prepares the rows (its own _prepare_dataset: eos
appended to text, chat template, assistant masks from trl's training template, completion masks,
truncation, packing) and the fixture records, in dataset order:
  examples: input_ids, labels (and seq_lengths when packed) per example;
  batches:  trl's DataCollatorForLanguageModeling on fixed groups of consecutive examples
            (input_ids, attention_mask or position_ids, labels);
  step:     for configurations with one: the two groups as the micro-batches of one optimizer step
            (gradient accumulation 2), through Trainer.training_step with transformers'
            num_items_in_batch: the summed loss, every LoRA gradient and their global norm.
packages/sft/test/trl-golden.test.ts checks @q against it; ids, masks and labels must be equal.
"""

import gzip
import json
import os
import shutil
import sys
import tempfile

import torch

IN, ROWS, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
SET = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--set" else "base"
if SET not in ("base", "assistant") or len(sys.argv) not in (4, 6):
    sys.exit("usage: trl_golden.py <golden-in dir> <tiny-chat.jsonl> <out.json> [--set base|assistant]")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import datasets  # noqa: E402
import transformers  # noqa: E402
import trl  # noqa: E402
from peft import PeftModel  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402
from trl import SFTConfig, SFTTrainer  # noqa: E402

torch.manual_seed(0)
work = tempfile.mkdtemp(prefix="trl-golden-")
model_dir = os.path.join(work, "qwen2")
shutil.copytree(os.path.join(IN, "qwen2"), model_dir)
gz = os.path.join(model_dir, "tokenizer.json.gz")
if os.path.exists(gz):
    with gzip.open(gz, "rb") as f, open(os.path.join(model_dir, "tokenizer.json"), "wb") as g:
        g.write(f.read())
    os.remove(gz)
tok = AutoTokenizer.from_pretrained(model_dir)

chat = [json.loads(l) for l in open(ROWS) if l.strip()]


def as_text(messages):
    """A plain-text rendering, the same on both sides (the seed's 'text' column)."""
    return "".join(f"### {m['role'].capitalize()}:\n{m['content']}\n\n" for m in messages).rstrip("\n")


def prompt_completion(messages):
    head = "".join(f"### {m['role'].capitalize()}:\n{m['content']}\n\n" for m in messages[:-1]) + "### Assistant:\n"
    return {"prompt": head, "completion": messages[-1]["content"]}


def multi_turn(a, b):
    """Two conversations as one: a's turns, then b's without its system message."""
    return a + [m for m in b if m["role"] != "system"]


def with_think(messages, thought):
    """The last assistant turn with a reasoning block in its content (Qwen3 templates split it off)."""
    return messages[:-1] + [{"role": "assistant", "content": f"<think>\n{thought}\n</think>\n\n{messages[-1]['content']}"}]


ROW_SETS = {
    "text": [{"text": as_text(c["messages"])} for c in chat[:8]],
    "messages": [{"messages": c["messages"]} for c in chat[:8]],
    "prompt_completion": [prompt_completion(c["messages"]) for c in chat[:8]],
    # Multi-turn conversations (several assistant spans per row), reasoning blocks, single turns.
    "messages_multi": [{"messages": multi_turn(chat[2 * k]["messages"], chat[2 * k + 1]["messages"])} for k in range(4)]
    + [{"messages": with_think(chat[8]["messages"], "Three and five.")}, {"messages": with_think(chat[9]["messages"], "")}]
    + [{"messages": chat[k]["messages"]} for k in (10, 11)],
}

# name, rows, SFTConfig fields, batch size, whether to record a training step
CONFIGS = [
    ("seed-text-512", "text", dict(dataset_text_field="text", max_length=512), 4, True),
    ("text-truncated-16", "text", dict(dataset_text_field="text", max_length=16), 4, False),
    ("text-pad-multiple-8", "text", dict(dataset_text_field="text", max_length=512, pad_to_multiple_of=8), 4, False),
    ("assistant-only", "messages", dict(max_length=512, assistant_only_loss=True), 4, True),
    ("completion-only", "prompt_completion", dict(max_length=512), 4, True),
    ("completion-full-loss", "prompt_completion", dict(max_length=512, completion_only_loss=False), 4, False),
    ("packing-wrapped-64", "text", dict(dataset_text_field="text", max_length=64, packing=True, packing_strategy="wrapped"), 2, False),
    ("packing-bfd-96", "text", dict(dataset_text_field="text", max_length=96, packing=True, packing_strategy="bfd"), 2, True),
]

# name, rows, SFTConfig fields, batch size, whether to record a training step, trl training template
ASSISTANT_CONFIGS = [
    ("assistant-only-qwen3-training", "messages_multi", dict(max_length=512, assistant_only_loss=True), 4, True, "qwen3_training.jinja"),
    ("assistant-only-qwen2.5-training", "messages_multi", dict(max_length=512, assistant_only_loss=True), 4, False, "qwen2_5_training.jinja"),
    ("assistant-only-truncated-40", "messages_multi", dict(max_length=40, assistant_only_loss=True), 4, False, "qwen3_training.jinja"),
    ("assistant-only-bfd-128", "messages_multi", dict(max_length=128, assistant_only_loss=True, packing=True), 2, True, "qwen3_training.jinja"),
]


def to_list(t):
    return t.tolist() if isinstance(t, torch.Tensor) else t


def load_model():
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    return PeftModel.from_pretrained(base, os.path.join(IN, "adapter-q"), is_trainable=True)


def run(name, rows_name, fields, bs, with_step, template=None):
    rows = ROW_SETS[rows_name]
    proc = tok
    if template is not None:
        # A fresh tokenizer with trl's training template, as SFTConfig(chat_template_path=...) sets it.
        proc = AutoTokenizer.from_pretrained(model_dir)
        with open(os.path.join(os.path.dirname(trl.__file__), "chat_templates", template), encoding="utf-8") as fh:
            proc.chat_template = fh.read()
    args = SFTConfig(
        output_dir=os.path.join(work, name), per_device_train_batch_size=bs, gradient_accumulation_steps=2,
        use_cpu=True, report_to="none", seed=0, dataset_num_proc=None, logging_steps=1, save_strategy="no",
        learning_rate=1e-3, **fields,
    )
    model = load_model()
    trainer = SFTTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(rows), processing_class=proc)
    ds = trainer.train_dataset
    examples = []
    for ex in ds:
        e = {"input_ids": to_list(ex["input_ids"]), "labels": to_list(ex["labels"])}
        if "seq_lengths" in ex:
            e["seq_lengths"] = to_list(ex["seq_lengths"])
        examples.append(e)
    groups = [list(range(k, min(k + bs, len(examples)))) for k in range(0, min(2 * bs, len(examples)), bs)]
    collator = trainer.data_collator
    raw = [[dict(ds[i]) for i in g] for g in groups]
    batches = [collator([{k: v for k, v in ex.items() if k in ("input_ids", "labels", "seq_lengths")} for ex in r]) for r in raw]
    rec = {
        "name": name, "rows": rows_name, "fields": fields, "batch_size": bs,
        "padding_free": bool(getattr(trainer, "padding_free", False)),
        "chat_template_swapped": getattr(trainer, "chat_template", None) is not None,
        "examples": examples, "groups": groups,
        "batches": [{k: to_list(v) for k, v in b.items()} for b in batches],
    }
    if template is not None:
        rec["chat_template_file"] = f"trl/chat_templates/{template}"
        rec["chat_template"] = proc.chat_template
    if with_step:
        dev = torch.device("cpu")
        samples, n_items = trainer.get_batch_samples(iter(batches), len(batches), dev)
        trainer.current_gradient_accumulation_steps = len(samples)
        model.zero_grad(set_to_none=True)
        total = 0.0
        for b in samples:
            total += float(trainer.training_step(model, dict(b), num_items_in_batch=n_items))
        grads = {n: p.grad.detach().reshape(-1).tolist() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None}
        norm = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None)))
        rec["step"] = {
            "num_items_in_batch": int(n_items) if n_items is not None else None,
            "loss": total, "grad_norm": norm, "grads": grads,
            "model_accepts_loss_kwargs": bool(trainer.model_accepts_loss_kwargs),
        }
        print(f"{name}: loss {total:.6f}, grad norm {norm:.6f}, items {rec['step']['num_items_in_batch']}", flush=True)
    print(f"{name}: {len(examples)} examples, batches {[len(b['input_ids'][0]) for b in rec['batches']]}", flush=True)
    return rec


def main():
    inputs = json.load(open(os.path.join(IN, "inputs.json")))
    out = {"model_config": json.load(open(os.path.join(model_dir, "config.json"))), "weights": inputs["models"]["qwen2"]["weights"],
           "adapter": inputs["adapter_q"], "trl": trl.__version__, "transformers": transformers.__version__, "datasets": datasets.__version__,
           "torch": torch.__version__, "pad_token_id": tok.pad_token_id, "eos_token_id": tok.eos_token_id,
           "trl_commit": os.environ.get("TRL_COMMIT"), "row_sets": ROW_SETS, "configs": []}
    failed = []
    for c in CONFIGS if SET == "base" else ASSISTANT_CONFIGS:
        try:
            out["configs"].append(run(*c))
        except Exception as e:  # record and go on: one configuration must not cost the others
            import traceback

            traceback.print_exc()
            failed.append(f"{c[0]}: {type(e).__name__}: {e}")
    out["failed"] = failed
    os.makedirs(os.path.dirname(OUT) or ".", exist_ok=True)
    with open(OUT, "w") as fh:
        json.dump(out, fh)
    print(f"wrote {OUT}: {len(out['configs'])} configurations, {len(failed)} failed", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
