/**
 * IEEE float32 arithmetic on bit patterns, in WGSL integer ops, for the kernels that must match
 * the CPU quantizer bit for bit. WGSL allows `1.0 / x` to be 2.5 ulp off and lets devices flush
 * subnormals (lavapipe does), while bitsandbytes' code choice depends on the exactly rounded
 * fround(1/absmax) and fround(v * inv), tiny weights included. Every function takes and returns
 * f32 bits (u32) and rounds to nearest, ties to even.
 */

/** WGSL source of the helpers; prepend to a kernel's header. */
export const EXACT_FLOAT_WGSL = /* wgsl */ `
// Bits of the f32 nearest to (sig + d) * 2^ex, where 0 < d < 1 when sticky is set (callers
// guarantee sig has at least 26 significant bits then, so d stays below half an ulp).
fn fx_pack(sign: u32, sig: u32, ex: i32, sticky: bool) -> u32 {
  if (sig == 0u) { return sign; }
  let top = 31 - i32(countLeadingZeros(sig));
  var e = top + ex + 127;
  var shift = top - 23;
  if (e < 1) { shift = -149 - ex; e = 0; }
  var mant = 0u;
  if (shift <= 0) {
    mant = sig << u32(-shift);
  } else if (shift >= 32) {
    // Everything is below the smallest subnormal: round to 0 or up to it.
    if (shift == 32 && (sig > 0x80000000u || (sig == 0x80000000u && sticky))) { mant = 1u; }
  } else {
    let s = u32(shift);
    mant = sig >> s;
    let rest = sig & ((1u << s) - 1u);
    let half = 1u << (s - 1u);
    if (rest > half || (rest == half && (sticky || (mant & 1u) == 1u))) { mant += 1u; }
  }
  // A subnormal that rounded up to 2^23 is the smallest normal, whose bits are the same.
  if (e == 0) { return sign | mant; }
  if (mant == 0x1000000u) { mant = 0x800000u; e += 1; }
  if (e >= 255) { return sign | 0x7f800000u; }
  return sign | (u32(e) << 23u) | (mant & 0x7fffffu);
}

// |x| = m * 2^e with m in [2^23, 2^24), for finite nonzero x (subnormals normalised).
fn fx_unpack(b: u32) -> vec2<i32> {
  let ef = (b >> 23u) & 0xffu;
  let f = b & 0x7fffffu;
  if (ef == 0u) {
    let s = countLeadingZeros(f) - 8u;
    return vec2<i32>(i32(f << s), -149 - i32(s));
  }
  return vec2<i32>(i32(f | 0x800000u), i32(ef) - 150);
}

// fround(1 / x); 1/±0 = ±inf.
fn fx_recip(b: u32) -> u32 {
  let sign = b & 0x80000000u;
  let a = b & 0x7fffffffu;
  if (a == 0u) { return sign | 0x7f800000u; }
  let u = fx_unpack(a);
  let m = u32(u.x);
  // 1/x = (2^23 / m) * 2^(-23 - e); long division gives 27 bits of 2^23/m (the first is 2^0's).
  var rem = 0x800000u;
  var q = 0u;
  for (var i = 0u; i < 27u; i++) {
    q = q << 1u;
    if (rem >= m) { rem -= m; q |= 1u; }
    rem = rem << 1u;
  }
  return fx_pack(sign, q, -49 - u.y, rem != 0u);
}

// fround(x * y) for finite x and y finite or infinite (0 * inf = NaN).
fn fx_mul(x: u32, y: u32) -> u32 {
  let sign = (x ^ y) & 0x80000000u;
  let a = x & 0x7fffffffu;
  let b = y & 0x7fffffffu;
  if (a >= 0x7f800000u || b >= 0x7f800000u) {
    if (a == 0u || b == 0u) { return 0x7fc00000u; }
    return sign | 0x7f800000u;
  }
  if (a == 0u || b == 0u) { return sign; }
  let ua = fx_unpack(a);
  let ub = fx_unpack(b);
  // 24 x 24 -> 48-bit product from 16-bit halves.
  let ma = u32(ua.x); let mb = u32(ub.x);
  let al = ma & 0xffffu; let ah = ma >> 16u; let bl = mb & 0xffffu; let bh = mb >> 16u;
  let ll = al * bl;
  let mid = al * bh + ah * bl;
  let lo = ll + (mid << 16u);
  let hi = ah * bh + (mid >> 16u) + select(0u, 1u, lo < ll);
  return fx_pack(sign, (hi << 16u) | (lo >> 16u), ua.y + ub.y + 16, (lo & 0xffffu) != 0u);
}

// fround(x + y) for finite x, y.
fn fx_add(x: u32, y: u32) -> u32 {
  var a = x; var b = y;
  if ((y & 0x7fffffffu) > (x & 0x7fffffffu)) { a = y; b = x; }
  let aa = a & 0x7fffffffu;
  let bb = b & 0x7fffffffu;
  if (bb == 0u) { if (aa == 0u) { return a & b; } return a; }
  let ea = max(i32(aa >> 23u), 1);
  let eb = max(i32(bb >> 23u), 1);
  let ma = ((aa & 0x7fffffu) | select(0u, 0x800000u, (aa >> 23u) != 0u)) << 7u;
  let mb = ((bb & 0x7fffffu) | select(0u, 0x800000u, (bb >> 23u) != 0u)) << 7u;
  let d = u32(ea - eb);
  var bs = 0u;
  var sticky = d >= 32u;
  if (d < 32u) { bs = mb >> d; sticky = (mb & ((1u << d) - 1u)) != 0u; }
  let sign = a & 0x80000000u;
  let ex = ea - 157;
  if (((a ^ b) & 0x80000000u) == 0u) { return fx_pack(sign, ma + bs, ex, sticky); }
  let diff = ma - bs;
  if (diff == 0u && !sticky) { return 0u; }
  // x - tiny = (diff - 1) + (1 - tiny): keep the sticky fraction positive.
  if (sticky) { return fx_pack(sign, diff - 1u, ex, true); }
  return fx_pack(sign, diff, ex, false);
}

// Round to a multiple of 2^qexp (ties to even); used for float16's subnormal range.
fn fx_round_quantum(b: u32, qexp: i32) -> u32 {
  let sign = b & 0x80000000u;
  let a = b & 0x7fffffffu;
  if (a == 0u) { return b; }
  let u = fx_unpack(a);
  let shift = qexp - u.y;
  if (shift <= 0) { return b; }
  if (shift > 25) { return sign; }
  let m = u32(u.x);
  let s = u32(shift);
  var q = m >> s;
  let rest = m & ((1u << s) - 1u);
  let half = 1u << (s - 1u);
  if (rest > half || (rest == half && (q & 1u) == 1u)) { q += 1u; }
  return fx_pack(sign, q, qexp, false);
}

// bfloat16 rounding of a finite f32 (overflows to inf), as torch's __float2bfloat16.
fn fx_round_bf16(b: u32) -> u32 {
  return (b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u;
}

// float16 rounding of a finite f32, kept as f32 bits (overflows to inf past 65504 + half an ulp).
fn fx_round_f16(b: u32) -> u32 {
  let a = b & 0x7fffffffu;
  if (a < 0x38800000u) { return fx_round_quantum(b, -24); }
  let r = (b + 0xfffu + ((b >> 13u) & 1u)) & 0xffffe000u;
  if ((r & 0x7fffffffu) > 0x477fe000u) { return (b & 0x80000000u) | 0x7f800000u; }
  return r;
}

// float16 bits of an f32 that float16 represents exactly (or inf).
fn fx_to_half(b: u32) -> u32 {
  let sign = (b >> 16u) & 0x8000u;
  let a = b & 0x7fffffffu;
  if (a >= 0x7f800000u) { return sign | 0x7c00u; }
  if (a == 0u) { return sign; }
  let e = a >> 23u;
  if (e >= 113u) { return sign | ((e - 112u) << 10u) | ((a >> 13u) & 0x3ffu); }
  return sign | (((a & 0x7fffffu) | 0x800000u) >> (126u - e));
}

// f32 bits of a float16 (exact).
fn fx_from_half(h: u32) -> u32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let f = h & 0x3ffu;
  if (e == 31u) { return sign | 0x7f800000u | (f << 13u); }
  if (e == 0u) {
    if (f == 0u) { return sign; }
    let s = countLeadingZeros(f) - 21u; // normalise so bit 10 is set
    return sign | ((113u - s) << 23u) | (((f << s) & 0x3ffu) << 13u);
  }
  return sign | ((e + 112u) << 23u) | (f << 13u);
}

// Order-preserving key of f32 bits: key(x) > key(y) iff x > y (non-NaN; -0 sorts below +0).
fn fx_key(b: u32) -> u32 {
  return select(b | 0x80000000u, ~b, (b >> 31u) == 1u);
}
`;
