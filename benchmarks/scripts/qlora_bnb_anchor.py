#!/usr/bin/env python3
"""The real QLoRA anchor: transformers + peft + bitsandbytes 4-bit, at the seed's settings.

    python3 benchmarks/scripts/qlora_bnb_anchor.py [out.json] [--steps N] [--configs gc1,gc0]

The same workload as ../shared/reference/hf_peft_baseline.py (a Qwen2.5-0.5B-shaped model with
random weights; r=64, alpha=32, dropout 0.1, q/k/v targets; batch 2 x 512 tokens, 4 accumulation
steps, AdamW lr 2e-4, clip 1.0, fp16 autocast), but with the base loaded as the seed tutorial loads it:
BitsAndBytesConfig(load_in_4bit, nf4, double quant, compute dtype float16), then
prepare_model_for_kbit_training. Needs a CUDA GPU and bitsandbytes (build it with tools/bnb/build.sh
and put the source folder on PYTHONPATH). The random model is saved as fp16 to a temporary folder
first, since transformers quantizes while loading. Prints and writes tokens/s and peak GPU memory
per configuration (gc1 = gradient checkpointing on, gc0 = off).
"""

import argparse
import json
import shutil
import tempfile
import time

import torch
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, BitsAndBytesConfig, Qwen2Config, Qwen2ForCausalLM

ap = argparse.ArgumentParser()
ap.add_argument("out", nargs="?", default="/dev/stdout")
ap.add_argument("--steps", type=int, default=10, help="timed optimizer steps (after 3 warm-up steps)")
ap.add_argument("--warmup", type=int, default=3)
ap.add_argument("--configs", default="gc1,gc0")
a = ap.parse_args()

torch.manual_seed(0)
cfg = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                  num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768, rope_theta=1e6,
                  rms_norm_eps=1e-6, tie_word_embeddings=True)
tmp = tempfile.mkdtemp(prefix="qlora-anchor-")
Qwen2ForCausalLM(cfg).to(torch.float16).save_pretrained(tmp)
bnb_cfg = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                             bnb_4bit_compute_dtype=torch.float16)
res = {"torch": torch.__version__, "device": torch.cuda.get_device_name()}
try:
    import bitsandbytes
    import peft
    import transformers

    res.update(bitsandbytes=bitsandbytes.__version__, transformers=transformers.__version__, peft=peft.__version__)
except Exception:
    pass
B, T, accum = 2, 512, 4
for name in a.configs.split(","):
    gc = name == "gc1"
    model = AutoModelForCausalLM.from_pretrained(tmp, quantization_config=bnb_cfg, dtype=torch.float16, device_map="cuda")
    model.config.use_cache = False
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gc,
                                            gradient_checkpointing_kwargs={"use_reentrant": False})
    model = get_peft_model(model, LoraConfig(r=64, lora_alpha=32, lora_dropout=0.1, bias="none", task_type="CAUSAL_LM",
                                             target_modules=["q_proj", "k_proj", "v_proj"]))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=2e-4)
    ids = torch.randint(0, cfg.vocab_size, (B, T), device="cuda")
    losses = []

    def step():
        for _ in range(accum):
            with torch.autocast("cuda", dtype=torch.float16):
                out = model(input_ids=ids, labels=ids)
            (out.loss / accum).backward()
        losses.append(float(out.loss))
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(a.warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t = time.time()
    for _ in range(a.steps):
        step()
    torch.cuda.synchronize()
    dt = (time.time() - t) / max(a.steps, 1)
    key = f"qlora-nf4-dq-fp16-{name}-3mods"
    res[key] = {"tokens_per_s": B * T * accum / dt, "s_per_optimizer_step": dt,
                "peak_gib": torch.cuda.max_memory_allocated() / 2 ** 30, "steps": a.steps,
                "first_loss": losses[0], "last_loss": losses[-1]}
    print(key, res[key], flush=True)
    del model, opt
    torch.cuda.empty_cache()
shutil.rmtree(tmp, ignore_errors=True)
with open(a.out, "w") as fh:
    json.dump(res, fh, indent=1)
