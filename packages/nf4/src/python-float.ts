/**
 * Python's `repr(float)`, so JSON we write matches `json.dumps` byte for byte.
 */

/**
 * Format a number as Python's repr of a float: shortest round-trip digits, fixed notation when
 * the decimal exponent is in [-4, 16), else `d.ddde-05` / `de+16` (at least two exponent
 * digits), and always a `.0` on integral fixed values.
 *
 * @example
 * ```ts
 * pythonFloatRepr(1)       // '1.0'
 * pythonFloatRepr(1e-5)    // '1e-05'
 * pythonFloatRepr(0.0001)  // '0.0001'
 * ```
 */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // toExponential() without an argument gives the shortest digits that round-trip.
  const [mant, expStr] = Math.abs(x).toExponential().split('e');
  const digits = mant.replace('.', '');
  const exp = Number(expStr);
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    if (digits.length <= exp + 1) return `${sign}${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
    return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  }
  return sign + sci(digits, exp);
}

function sci(digits: string, exp: number): string {
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp).toString().padStart(2, '0');
  return `${m}e${exp < 0 ? '-' : '+'}${e}`;
}
