#!/usr/bin/env python3
"""Golden NF4/FP4 quantization cases for @q/nf4, from bitsandbytes when it can run.

Writes packages/nf4/fixtures/nf4-golden.json; the nf4 test (packages/nf4/src/golden.test.ts)
compares every case bit for bit when that file exists.

Run from the repository root:
    pip install numpy torch            # bitsandbytes optional: pip install bitsandbytes
    python tools/golden/nf4_golden.py

With bitsandbytes importable and a CUDA device, the codes, absmax, nested state, packed quant
state JSON and dequantized values come from bitsandbytes itself ("source": "bitsandbytes").
Otherwise they come from the numpy reference below, which follows bitsandbytes' CUDA kernels
(csrc/kernels.cu: dQuantizeNF4, dQuantizeFP4, dQuantize, kQuantizeBlockwise) in float32
("source": "reference"); the dynamic map then comes from torch if importable, else numpy.
"""

import json
import os
import sys

import numpy as np

OUT = os.path.join("packages", "nf4", "fixtures", "nf4-golden.json")
F = np.float32

# ---- the CUDA decision trees, thresholds as float32 literals ---------------------------------
def f32_literal(v):
    """What nvcc makes of the literal `<v>f`: the decimal rounded to float32 directly. Seven of
    these decimals are a double lying exactly between two floats, which F(v) rounds to even; C
    rounds the decimal itself, one ulp away for four of them (bitsandbytes 0.50 on an H200 agrees)."""
    from fractions import Fraction

    d = Fraction(repr(v))
    f = F(v)
    cands = [np.nextafter(f, F(-np.inf)), f, np.nextafter(f, F(np.inf))]
    return min(cands, key=lambda c: abs(Fraction(float(c)) - d))


NF4_T = {k: f32_literal(v) for k, v in dict(
    n0=0.03979014977812767, n1=0.3893125355243683, n11=0.6427869200706482, n111=0.8614784181118011,
    n110=0.5016634166240692, n10=0.2035212516784668, n101=0.2920137718319893, n100=0.1202552504837513,
    m0=-0.33967943489551544, m01=-0.13791173323988914, m011=-0.045525018125772476,
    m010=-0.23460740596055984, m00=-0.6106329262256622, m001=-0.4599952697753906,
    m000=-0.8480964004993439).items()}
NF4_CODE = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                     -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                     0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
                     0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                     0.7229568362236023, 1.0], dtype=F)
FP4_CODE = (np.array([0, 0.0625, 8, 12, 4, 6, 2, 3, -0.0, -0.0625, -8, -12, -4, -6, -2, -3], dtype=F) / F(12)).astype(F)


def nf4_code(x):
    t = NF4_T
    if x > t["n0"]:
        if x > t["n1"]:
            if x > t["n11"]:
                return 15 if x > t["n111"] else 14
            return 13 if x > t["n110"] else 12
        if x > t["n10"]:
            return 11 if x > t["n101"] else 10
        return 9 if x > t["n100"] else 8
    if x > t["m0"]:
        if x > t["m01"]:
            return 7 if x > t["m011"] else 6
        return 5 if x > t["m010"] else 4
    if x > t["m00"]:
        return 3 if x > t["m001"] else 2
    return 1 if x > t["m000"] else 0


def fp4_code(x):
    sign = 8 if x < 0 else 0
    a = abs(x)
    if a > F(0.29166667):
        if a > F(0.583333):
            return (3 if a > F(0.8333333) else 2) + sign
        return (5 if a > F(0.4166667) else 4) + sign
    if a > F(0.0859375):
        return (7 if a > F(0.20833333) else 6) + sign
    return (1 if a > F(0.00260417) else 0) + sign


def q8(code, x):
    """dQuantize<0> of kernels.cu."""
    pivot, upper_pivot, lower_pivot = 127, 255, 0
    lower, upper = F(-1), F(1)
    val = code[pivot]
    i = 64
    while i > 0:
        if x > val:
            lower_pivot, lower, pivot = pivot, val, pivot + i
        else:
            upper_pivot, upper, pivot = pivot, val, pivot - i
        val = code[pivot]
        i >>= 1
    if upper_pivot == 255:
        upper = code[upper_pivot]
    if lower_pivot == 0:
        lower = code[lower_pivot]
    if x > val:
        return upper_pivot if x > F((upper + val) * F(0.5)) else pivot
    return lower_pivot if x < F((lower + val) * F(0.5)) else pivot


def blockwise_absmax(values, blocksize):
    n = len(values)
    return np.array([np.max(np.abs(values[b:b + blocksize])) for b in range(0, n, blocksize)], dtype=F)


def ref_quantize_4bit(values, blocksize, quant_type):
    pick = nf4_code if quant_type == "nf4" else fp4_code
    n = len(values)
    absmax = blockwise_absmax(values, blocksize)
    packed = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(0, n, 2):
            inv = F(1) / absmax[i // blocksize]
            hi = pick(F(values[i] * inv))
            lo = pick(F((values[i + 1] if i + 1 < n else F(0)) * inv))
            packed.append((hi << 4) | lo)
    return packed, absmax


def ref_quantize_8bit(values, code, blocksize):
    absmax = blockwise_absmax(values, blocksize)
    out = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for i, v in enumerate(values):
            out.append(q8(code, F(v * (F(1) / absmax[i // blocksize]))))
    return out, absmax


def dynamic_map():
    """bitsandbytes create_dynamic_map(signed=True): via torch when present (its linspace is the
    thing to pin down), else numpy with a fused start + step * i, as x86 torch builds compute it."""
    try:
        import torch

        data = []
        for i in range(7):
            b = torch.linspace(0.1, 1, 2 ** i + 1)
            means = (b[:-1] + b[1:]) / 2.0
            data += ((10 ** (-6 + i)) * means).tolist()
            data += (-(10 ** (-6 + i)) * means).tolist()
        data += [0, 1.0]
        data.sort()
        return np.array(data, dtype=F), "torch " + torch.__version__
    except ImportError:
        pass
    data = []
    for i in range(7):
        steps = 2 ** i + 1
        s, e = F(0.1), F(1)
        step = F(F(e - s) / F(steps - 1))
        half = steps // 2
        b = [F(float(s) + float(step) * k) if k < half else F(float(e) - float(step) * (steps - k - 1)) for k in range(steps)]
        means = [F(F(b[k] + b[k + 1]) / F(2)) for k in range(steps - 1)]
        scale = F(10.0 ** (-6 + i))
        data += [float(F(scale * m)) for m in means] + [float(F(-scale * m)) for m in means]
    data += [0.0, 1.0]
    data.sort()
    return np.array(data, dtype=F), "numpy"


def load_bnb():
    try:
        import torch
        import bitsandbytes.functional as BF

        if not torch.cuda.is_available():
            return None
        return BF
    except Exception:
        return None


def cases():
    rng = np.random.default_rng(0)
    out = []
    for quant_type in ("nf4", "fp4"):
        for bs in (32, 64, 128, 256, 512, 1024, 2048, 4096):
            n = 2 * bs + 3  # a partial last block and an odd length
            out.append(dict(name=f"{quant_type}-normal-bs{bs}", quant_type=quant_type, blocksize=bs, double_quant=False,
                            values=rng.standard_normal(n).astype(F)))
        ties = np.concatenate([[F(1)], np.array(list(NF4_T.values()), dtype=F),
                               np.nextafter(np.array(list(NF4_T.values()), dtype=F), F(2))]).astype(F)
        out.append(dict(name=f"{quant_type}-thresholds", quant_type=quant_type, blocksize=64, double_quant=False, values=ties))
        special = np.zeros(64 * 3, dtype=F)
        special[64:128] = F(0.3)
        special[128] = F(1e30)
        special[129] = F(-1e-30)
        special[130] = F(-5e29)
        out.append(dict(name=f"{quant_type}-zero-constant-huge", quant_type=quant_type, blocksize=64, double_quant=False, values=special))
        out.append(dict(name=f"{quant_type}-double-quant", quant_type=quant_type, blocksize=64, double_quant=True,
                        values=(rng.standard_normal(64 * 300 + 10) * 0.02).astype(F)))
    return out


def main():
    code, map_source = dynamic_map()
    BF = load_bnb()
    fixture = {"source": "bitsandbytes" if BF else "reference", "dynamic_map_source": map_source,
               "dynamic_map": [float(v) for v in code], "cases": []}
    if BF:
        import bitsandbytes
        import torch

        fixture["bitsandbytes_version"] = bitsandbytes.__version__
        bnb_map = BF.create_dynamic_map().float().numpy()
        fixture["bnb_dynamic_map_equal"] = bool(np.array_equal(bnb_map, code))
    for c in cases():
        v = c["values"]
        rec = {k: c[k] for k in ("name", "quant_type", "blocksize", "double_quant")}
        rec["values"] = [float(x) for x in v]
        if BF:
            try:
                A = torch.tensor(v, dtype=torch.float32, device="cuda")
                out, st = BF.quantize_4bit(A, blocksize=c["blocksize"], compress_statistics=c["double_quant"], quant_type=c["quant_type"])
            except Exception as e:  # e.g. blocksize 32 on an older bitsandbytes
                print(f"skip {c['name']}: {e}", file=sys.stderr)
                continue
            rec["packed"] = out.flatten().cpu().tolist()
            if c["double_quant"]:
                rec["absmax_u8"] = st.absmax.cpu().tolist()
                rec["nested_absmax"] = [float(x) for x in st.state2.absmax.cpu()]
                rec["offset"] = float(st.offset.item())
                rec["nested_quant_map"] = [float(x) for x in st.state2.code.cpu()]
            else:
                rec["absmax"] = [float(x) for x in st.absmax.cpu()]
            qs = st.as_dict(packed=True)[f"quant_state.bitsandbytes__{c['quant_type']}"]
            rec["quant_state_json"] = bytes(qs.cpu().numpy().tolist()).decode("utf-8")
            rec["dequantized"] = [float(x) for x in BF.dequantize_4bit(out, st).flatten().cpu()]
        else:
            packed, absmax = ref_quantize_4bit(v, c["blocksize"], c["quant_type"])
            rec["packed"] = packed
            if c["double_quant"]:
                offset = F(np.mean(absmax, dtype=np.float64))
                q, nested = ref_quantize_8bit((absmax - offset).astype(F), code, 256)
                rec["absmax_u8"] = q
                rec["nested_absmax"] = [float(x) for x in nested]
                rec["offset"] = float(offset)
                absmax = np.array([F(F(code[qi] * nested[i // 256]) + offset) for i, qi in enumerate(q)], dtype=F)
            else:
                rec["absmax"] = [float(x) for x in absmax]
            table = NF4_CODE if c["quant_type"] == "nf4" else FP4_CODE
            codes = [b >> 4 if i % 2 == 0 else b & 15 for b in packed for i in (0, 1)][: len(v)]
            rec["dequantized"] = [float(F(table[k] * absmax[i // c["blocksize"]])) for i, k in enumerate(codes)]
        fixture["cases"].append(rec)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as fh:
        json.dump(fixture, fh)
    print(f"wrote {OUT}: {len(fixture['cases'])} cases from {fixture['source']}")


if __name__ == "__main__":
    main()
