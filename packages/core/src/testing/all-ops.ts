/**
 * Every op that @q/core defines, found by walking the op modules' exports (no registry: ops are
 * plain exports, see op.ts). Tests look up an op's float64 reference here by name.
 */
import { isOp, type Op } from '../op';
import * as opModules from '../ops';

/** Ops among a module's exports: what defineOp returned, and tables of them (the unary ops). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function opsOf(mod: Record<string, unknown>): Op<any>[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const found: Op<any>[] = [];
  for (const v of Object.values(mod)) {
    if (isOp(v)) found.push(v);
    else if (v && typeof v === 'object') for (const w of Object.values(v)) if (isOp(w)) found.push(w);
  }
  return found;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let byName: Map<string, Op<any>> | undefined;

/** Every core op by name. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function coreOps(): Map<string, Op<any>> {
  byName ??= new Map(opsOf(opModules).map((op) => [op.def.name, op]));
  return byName;
}
