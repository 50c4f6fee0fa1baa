/**
 * Typed errors shared by every @q package. Each names what was wrong (a file, a field, a tensor)
 * and what was expected, so a user can fix the input without reading a stack trace.
 *
 * @example
 * ```ts
 * try { validateLoraConfig(cfg) } catch (e) {
 *   if (e instanceof ConfigError) console.error(e.field, e.expected)
 * }
 * ```
 */
export class QError extends Error {
  /** Stable machine-readable code, e.g. `E_CONFIG`, `E_FORMAT`, `E_SHAPE`. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A configuration field holds a value that is not allowed. */
export class ConfigError extends QError {
  constructor(
    readonly field: string,
    readonly expected: string,
    readonly got: unknown,
    readonly source?: string,
  ) {
    super(
      'E_CONFIG',
      `${source ? `${source}: ` : ''}invalid value for "${field}": expected ${expected}, got ${describe(got)}`,
    );
  }
}

/** A file is missing, truncated or not in the format expected. */
export class FormatError extends QError {
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    super('E_FORMAT', `${file}: ${detail}`);
  }
}

/** Tensor shapes or dtypes do not fit the operation. */
export class ShapeError extends QError {
  constructor(message: string) {
    super('E_SHAPE', message);
  }
}

/** The data holds values the operation cannot take (NaN, Inf, out-of-range ids). */
export class ValueError extends QError {
  constructor(message: string) {
    super('E_VALUE', message);
  }
}

/** No WebGPU adapter, or a feature the caller asked for is missing. */
export class DeviceError extends QError {
  constructor(message: string) {
    super('E_DEVICE', message);
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  // JSON.stringify writes NaN and ±Infinity as null, which hid what was wrong.
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (v === undefined) return 'undefined';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
