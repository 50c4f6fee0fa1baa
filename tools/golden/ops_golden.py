#!/usr/bin/env python3
"""Golden forward and backward values of @q/core's ops from PyTorch, on odd shapes.

Writes packages/core/fixtures/ops-golden.json; packages/core/test/ops-golden.test.ts checks each
op's float64 CPU reference (so a bug copied into a reference is caught) and its GPU kernel and
backward rule against these numbers.

    python3 tools/golden/ops_golden.py [out.json]

Everything runs in float64 on the CPU (no GPU needed). Inputs are rounded to float32 first, since
the GPU side stores them in f32. Each case records its inputs, a weight w of the output's shape,
torch's output and the gradient of sum(out * w) with respect to every float input.
The semantics follow the ops' doc comments (shapes in brackets):
  rmsNorm(x [.., D], w [D], eps)            w * x / sqrt(mean(x^2) + eps)
  rope(x [B,T,H,Dh], cos, sin [P,Dh/2], pos [B,T])   transformers' rotate_half layout
  swiglu(g, u)                               silu(g) * u
  softmax(x [.., N])                         over the last axis
  maskedSoftmax(x [B,H,T,S], mask [B,Smax])  scale, causal (s <= t + kvLen - T), key padding,
                                             keys >= kvLen masked; a fully masked row is zeros
  attention(q [B,T,Hq,D], k, v [B,Smax,Hkv,D], mask [B,Smax])  grouped-query, same masking
  crossEntropy(x [N,V], labels [N])          sum over labels != -100 / (count or normalizer)
  embedding(w [V,D], ids)                    rows, backward scatter-adds repeated ids
  matmul(a, b, transA, transB)
"""

import json
import math
import sys

import torch

torch.set_default_dtype(torch.float64)
OUT = sys.argv[1] if len(sys.argv) > 1 else "packages/core/fixtures/ops-golden.json"
GEN = torch.Generator().manual_seed(20261129)


def f32(t):
    return t.to(torch.float32).to(torch.float64)


def randn(*shape, scale=1.0, shift=0.0):
    return f32(torch.randn(*shape, generator=GEN) * scale + shift)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


CASES = []


def case(name, op, attrs, inputs, fn):
    """inputs: list of (tensor, dtype, grad?). fn(*tensors) -> out."""
    ts = []
    for x, dtype, grad in inputs:
        t = x.clone().detach()
        if grad:
            t.requires_grad_(True)
        ts.append(t)
    out = fn(*ts)
    w = f32(torch.randn(out.shape, generator=GEN)) if out.dim() > 0 else torch.tensor(1.0)
    if any(t.requires_grad for t in ts):  # decoding has no backward
        (out * w).sum().backward()
    CASES.append({
        "name": name,
        "op": op,
        "attrs": attrs,
        "inputs": [{"shape": list(x.shape), "dtype": dtype, "grad": grad,
                    "data": [int(v) for v in x.reshape(-1).tolist()] if dtype == "i32" else flat(x)}
                   for x, dtype, grad in inputs],
        "w": flat(w),
        "out_shape": list(out.shape),
        "out": flat(out),
        "grads": [flat(t.grad) if grad else None for t, (_, _, grad) in zip(ts, inputs)],
    })


def rms_norm(x, w, eps):
    return w * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def rope_tables(dh, p, theta):
    inv = 1.0 / (theta ** (torch.arange(0, dh, 2, dtype=torch.int64).to(torch.float32) / dh))
    ang = torch.outer(torch.arange(p, dtype=torch.float32), inv)
    return f32(ang.cos()), f32(ang.sin())


def rope(x, cos, sin, pos):
    # transformers: q * cos + rotate_half(q) * sin, cos/sin = cat(freqs, freqs) gathered by position
    c = torch.cat([cos, cos], -1)[pos.long()].unsqueeze(2)
    s = torch.cat([sin, sin], -1)[pos.long()].unsqueeze(2)
    half = x.shape[-1] // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * c + rot * s


def allowed(B, T, S, Smax, kv_len, causal, mask):
    """[B, 1, T, S] boolean: which keys each query sees."""
    s = torch.arange(S).view(1, 1, 1, S)
    t = torch.arange(T).view(1, 1, T, 1)
    ok = (s < kv_len).expand(B, 1, T, S)
    if causal:
        ok = ok & (s <= t + kv_len - T)
    if mask is not None:
        ok = ok & (mask[:, :S] != 0).view(B, 1, 1, S)
    return ok


def safe_softmax(z, ok):
    """softmax over the allowed keys; a row with none is all zeros (and passes no gradient)."""
    any_ok = ok.any(-1, keepdim=True)
    z = torch.where(ok, z, torch.full_like(z, -math.inf))
    z = torch.where(any_ok, z, torch.zeros_like(z))
    return torch.softmax(z, -1) * any_ok


def masked_softmax(x, mask, scale, causal, kv_len):
    B, H, T, S = x.shape
    ok = allowed(B, T, S, mask.shape[1] if mask is not None else S, kv_len, causal, mask)
    return safe_softmax(x * scale, ok)


def attention(q, k, v, mask, scale, causal, kv_len):
    B, T, Hq, D = q.shape
    Hkv = k.shape[2]
    S = kv_len
    kk = k[:, :S].repeat_interleave(Hq // Hkv, dim=2)  # [B, S, Hq, D]
    vv = v[:, :S].repeat_interleave(Hq // Hkv, dim=2)
    sc = torch.einsum("bthd,bshd->bhts", q, kk) * scale
    ok = allowed(B, T, S, k.shape[1], S, causal, mask)
    p = safe_softmax(sc, ok)
    return torch.einsum("bhts,bshd->bthd", p, vv)


def cross_entropy(x, labels, normalizer=None):
    valid = labels != -100
    tot = torch.nn.functional.cross_entropy(x, torch.where(valid, labels, 0).long(), reduction="none")
    tot = (tot * valid).sum()
    return tot / (normalizer if normalizer is not None else valid.sum())


def main():
    # rmsNorm: a row width that is not a power of two, one wider than a workgroup, and rows so
    # small that eps matters (mean(x^2) ~ eps), which a wrong or missing eps fails.
    for shape, eps, scale in (((3, 5, 37), 1e-6, 1.0), ((2, 300), 1e-5, 1.0), ((4, 33), 1e-6, 1e-3), ((3, 19), 1e-5, 3e-3)):
        D = shape[-1]
        case(f"rmsNorm {list(shape)} eps={eps} |x|~{scale}", "rmsNorm", {"eps": eps},
             [(randn(*shape, scale=scale), "f32", True), (randn(D, scale=0.5, shift=1.0), "f32", True)],
             lambda x, w, eps=eps: rms_norm(x, w, eps))

    # rope: head dim 10 (half 5), positions repeated and out of order; theta 10000 and 1e6.
    for (B, T, H, Dh, P, theta) in ((2, 5, 3, 10, 16, 10000.0), (1, 7, 2, 6, 40, 1e6)):
        cos, sin = rope_tables(Dh, P, theta)
        pos = torch.tensor([[0, 1, 2, 3, 7, 2, 9][:T] if b == 0 else [5, 0, 15, 15, 1, 3, 2][:T] for b in range(B)]) if P == 16 else \
            torch.tensor([[0, 39, 1, 20, 21, 22, 3]])
        case(f"rope [{B},{T},{H},{Dh}] theta={theta:g}", "rope", {"inverse": False},
             [(randn(B, T, H, Dh), "f32", True), (cos, "f32", False), (sin, "f32", False), (pos, "i32", False)],
             rope)

    case("swiglu [5,23]", "swiglu", None, [(randn(5, 23, scale=2.0), "f32", True), (randn(5, 23), "f32", True)],
         lambda g, u: torch.nn.functional.silu(g) * u)

    # softmax: odd widths, and logits near 1000, where exp without the max subtracted overflows
    # (in float64 too).
    case("softmax [3,37]", "softmax", None, [(randn(3, 37, scale=3.0), "f32", True)], lambda x: torch.softmax(x, -1))
    case("softmax [2,300] logits ~1000", "softmax", None, [(randn(2, 300, scale=4.0, shift=1000.0), "f32", True)],
         lambda x: torch.softmax(x, -1))
    case("softmax [2,3,7] logits ~ -900", "softmax", None, [(randn(2, 3, 7, scale=2.0, shift=-900.0), "f32", True)],
         lambda x: torch.softmax(x, -1))

    # maskedSoftmax: causal + padding + an unfilled cache slot; batch 1's first rows see nothing.
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1, 1, 1]])
    case("maskedSoftmax [2,3,4,7] causal kvLen=6", "maskedSoftmax", {"scale": 0.7, "causal": True, "kvLen": 6},
         [(randn(2, 3, 4, 7), "f32", True), (mask, "i32", False)],
         lambda x, m: masked_softmax(x, m, 0.7, True, 6))
    case("maskedSoftmax [1,2,3,300] logits ~700", "maskedSoftmax", {"scale": 1.3, "causal": False, "kvLen": 300},
         [(randn(1, 2, 3, 300, shift=700.0), "f32", True)],
         lambda x: masked_softmax(x, None, 1.3, False, 300))

    # attention: GQA with left padding; non-causal with odd sizes; decode against a partly filled cache.
    am = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])
    case("attention GQA 4/2 heads, D=6, causal, padding", "attention", {"scale": 1 / math.sqrt(6), "causal": True, "kvLen": 5},
         [(randn(2, 5, 4, 6), "f32", True), (randn(2, 5, 2, 6), "f32", True), (randn(2, 5, 2, 6), "f32", True), (am, "i32", False)],
         lambda q, k, v, m: attention(q, k, v, m, 1 / math.sqrt(6), True, 5))
    case("attention [1,7,3,5] non-causal scale 0.3", "attention", {"scale": 0.3, "causal": False, "kvLen": 7},
         [(randn(1, 7, 3, 5), "f32", True), (randn(1, 7, 3, 5), "f32", True), (randn(1, 7, 3, 5), "f32", True)],
         lambda q, k, v: attention(q, k, v, None, 0.3, False, 7))
    case("attention decode: 2 queries, 6 of 9 cache slots", "attention", {"scale": 0.5, "causal": True, "kvLen": 6},
         [(randn(1, 2, 2, 4), "f32", False), (randn(1, 9, 1, 4), "f32", False), (randn(1, 9, 1, 4), "f32", False)],
         lambda q, k, v: attention(q, k, v, None, 0.5, True, 6))

    # crossEntropy: ignore_index, a wide vocabulary, large logits, and a fixed normalizer (num_items_in_batch).
    lab = torch.tensor([2, -100, 0, 10, -100, 4])
    case("crossEntropy [6,11] ignore -100", "crossEntropy", {"ignoreIndex": -100},
         [(randn(6, 11, scale=2.0), "f32", True), (lab, "i32", False)], lambda x, l: cross_entropy(x, l))
    lab2 = torch.tensor([299, 0, 150, -100, 7])
    case("crossEntropy [5,300] logits ~500, normalizer 7", "crossEntropy", {"ignoreIndex": -100, "normalizer": 7},
         [(randn(5, 300, scale=5.0, shift=500.0), "f32", True), (lab2, "i32", False)], lambda x, l: cross_entropy(x, l, 7))

    ids = torch.tensor([3, 0, 3, 6, 3, 1, 9, 0])
    case("embedding [10,13] repeated ids", "embedding", None,
         [(randn(10, 13), "f32", True), (ids, "i32", False)], lambda w, i: w[i.long()])

    for ta, tb, (M, K, N) in ((False, False, (5, 7, 3)), (True, False, (6, 9, 4)), (False, True, (3, 65, 17)), (True, True, (2, 5, 3))):
        a = randn(*((K, M) if ta else (M, K)))
        b = randn(*((N, K) if tb else (K, N)))
        case(f"matmul {M}x{K}x{N} transA={ta} transB={tb}", "matmul", {"transA": ta, "transB": tb},
             [(a, "f32", True), (b, "f32", True)],
             lambda a, b, ta=ta, tb=tb: (a.T if ta else a) @ (b.T if tb else b))

    import os
    os.makedirs(os.path.dirname(OUT) or ".", exist_ok=True)
    with open(OUT, "w") as fh:
        json.dump({"torch": torch.__version__, "dtype": "float64", "cases": CASES}, fh)
    print(f"wrote {OUT}: {len(CASES)} cases (torch {torch.__version__})")


if __name__ == "__main__":
    main()
