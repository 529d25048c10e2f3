/**
 * `gatehouse policy explain`: load a config and print what its policy decides for a principal and a target, and
 * the rule that decided. Nothing is started: the decision comes from the config alone.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.ts';
import { explain, formatExplanation, principalFromJson } from '../policy/explain.ts';
import type { ExplainQuery } from '../policy/explain.ts';

export const POLICY_HELP = `Usage:
  gatehouse policy explain -c FILE --principal JSON (--tool NAME | --prompt NAME | --resource URI)
                           [--virtual-server VS] [--upstream U] [--json]

Prints the decision the config's policy makes and the rule that made it, then every rule's outcome.
  --principal  token claims as JSON, e.g. '{"sub":"alice","groups":["eng"],"scopes":["mcp:tools"]}'
               (also "kind", "apiKey": {"owner": ...}, "iss", "scope": "a b", any other claim)
  --tool, --prompt, --resource   the target, named as the virtual server lists it
  --virtual-server  the virtual server (default: the default endpoint)
  --upstream   the upstream behind the target (default: from a namespaced name, or the only upstream)
  --json       print the explanation as JSON
`;

export interface Output {
  write(text: string): void;
}

/** Run `gatehouse policy ...`; returns the exit status. */
export async function policyCommand(argv: string[], stdout: Output, stderr: Output): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        principal: { type: 'string' },
        tool: { type: 'string' },
        prompt: { type: 'string' },
        resource: { type: 'string' },
        'virtual-server': { type: 'string' },
        upstream: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    stderr.write(`gatehouse policy: ${(err as Error).message}\n\n${POLICY_HELP}`);
    return 1;
  }
  if (values.help) {
    stdout.write(POLICY_HELP);
    return 0;
  }
  if (positionals[0] !== 'explain' || positionals.length !== 1) {
    stderr.write(`gatehouse policy: expected the subcommand "explain"\n\n${POLICY_HELP}`);
    return 1;
  }
  const fail = (message: string) => {
    stderr.write(`gatehouse policy explain: ${message}\n`);
    return 1;
  };
  if (!values.config) return fail('-c FILE is required');
  if (values.principal === undefined) return fail('--principal JSON is required');
  const targets = [['tool', values.tool], ['prompt', values.prompt], ['resource', values.resource]].filter(([, v]) => v !== undefined);
  if (targets.length !== 1) return fail('give exactly one of --tool, --prompt, --resource');

  let principal;
  try {
    principal = principalFromJson(JSON.parse(values.principal));
  } catch (err) {
    return fail(`--principal: ${(err as Error).message}`);
  }
  const { config } = await loadConfig(values.config);
  const query: ExplainQuery = {
    kind: targets[0][0] as ExplainQuery['kind'],
    name: targets[0][1]!,
    virtualServer: values['virtual-server'],
    upstream: values.upstream,
  };
  let explanation;
  try {
    explanation = explain(config, principal, query);
  } catch (err) {
    return fail((err as Error).message);
  }
  stdout.write(values.json ? `${JSON.stringify(explanation, null, 2)}\n` : formatExplanation(explanation));
  return 0;
}
