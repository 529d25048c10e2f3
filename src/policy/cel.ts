/**
 * CEL (Common Expression Language) conditions for policy rules, on @marcbachmann/cel-js: parsed and type-checked
 * once at config load, evaluated per decision with two map variables, `principal` and `target`.
 */
import { Environment } from '@marcbachmann/cel-js';

const env = new Environment()
  .registerVariable('principal', 'map<string, dyn>')
  .registerVariable('target', 'map<string, dyn>');

/** The variables a rule's expression sees. */
export interface CelVariables {
  readonly principal: {
    readonly id: string;
    readonly kind: string;
    readonly subject: string | null;
    readonly issuer: string | null;
    readonly scopes: readonly string[];
    readonly groups: readonly string[];
    readonly claims: Readonly<Record<string, unknown>>;
  };
  readonly target: { readonly virtualServer: string; readonly upstream: string | null; readonly kind: string; readonly name: string };
}

export type CelCondition = (vars: CelVariables) => unknown;

/** Parse and type-check; throws an Error with a one-line reason when the expression is not a boolean CEL expression. */
export function compileCel(source: string): CelCondition {
  let program: ReturnType<typeof env.parse>;
  try {
    program = env.parse(source);
  } catch (err) {
    throw new Error(firstLine(err), { cause: err });
  }
  const checked = program.check();
  if (!checked.valid) throw new Error(firstLine(checked.error));
  if (checked.type !== 'bool' && checked.type !== 'dyn') throw new Error(`the expression is of type ${checked.type}, not bool`);
  return program as unknown as CelCondition;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
