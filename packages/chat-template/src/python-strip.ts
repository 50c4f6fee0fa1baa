/**
 * Python's str.strip/lstrip/rstrip take the characters to remove (`content.lstrip('\n')` in
 * Qwen3's template keeps leading spaces). @huggingface/jinja 0.5.11 ignores that argument and
 * trims all whitespace, so an interpreter subclass puts Python's behaviour back.
 */
import { Interpreter, type Environment } from '@huggingface/jinja';

const STRIPS = new Set(['strip', 'lstrip', 'rstrip']);

export function pythonStrip(s: string, which: 'strip' | 'lstrip' | 'rstrip', chars: string | null): string {
  const set = chars === null ? null : new Set(chars);
  const drop = (c: string) => (set ? set.has(c) : /\s/.test(c));
  let a = 0;
  let b = s.length;
  if (which !== 'rstrip') while (a < b && drop(s[a]!)) a++;
  if (which !== 'lstrip') while (b > a && drop(s[b - 1]!)) b--;
  return s.slice(a, b);
}

type Value = { value: unknown; constructor: new (v: unknown) => Value };
interface MemberExpr {
  computed: boolean;
  object: unknown;
  property: { value?: unknown };
}
// evaluateMemberExpression is private in the library's typings; it is a plain method at run time.
interface Internals {
  evaluateMemberExpression(expr: MemberExpr, env: unknown): Value;
  evaluate(node: unknown, env: unknown): Value;
  run(program: unknown): { value: unknown };
}
const Base = Interpreter as unknown as new (env: Environment) => Internals;

export class PythonStringsInterpreter extends Base {
  override evaluateMemberExpression(expr: MemberExpr, env: unknown): Value {
    const out = super.evaluateMemberExpression(expr, env);
    const prop = expr.property.value;
    if (expr.computed || typeof prop !== 'string' || !STRIPS.has(prop)) return out;
    const target = this.evaluate(expr.object, env);
    if (typeof target.value !== 'string') return out;
    const text = target.value;
    const FunctionValue = out.constructor;
    const StringValue = target.constructor;
    // The callee receives evaluated arguments as runtime values.
    return new FunctionValue((args: Value[]) => {
      const chars = args.length && typeof args[0]!.value === 'string' ? (args[0]!.value as string) : null;
      return new StringValue(pythonStrip(text, prop as 'strip', chars));
    });
  }
}
