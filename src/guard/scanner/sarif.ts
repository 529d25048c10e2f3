/**
 * SARIF 2.1.0 output of scan results, for CI code-scanning views: one run, one rule per rule id seen, one result
 * per finding, located at the scanned source (a file or server) with the definition and field as a logical location.
 */
import { VERSION } from '../../version.ts';
import type { ScanResult } from './index.ts';
import type { Severity } from './types.ts';

const LEVEL: Record<Severity, 'none' | 'note' | 'warning' | 'error'> = { info: 'none', low: 'note', medium: 'warning', high: 'error', critical: 'error' };
/** GitHub code scanning ranks by `security-severity` (0–10). */
const SECURITY_SEVERITY: Record<Severity, string> = { info: '0.0', low: '3.0', medium: '5.0', high: '8.0', critical: '9.5' };

/** A SARIF log of `results`; `source` names what was scanned (a file path or a server URL/command). */
export function toSarif(results: readonly ScanResult[], source: string): object {
  const rules = new Map<string, { id: string; shortDescription: { text: string }; properties: { 'security-severity': string } }>();
  const out: object[] = [];
  for (const r of results) {
    for (const f of r.findings) {
      if (!rules.has(f.rule)) rules.set(f.rule, { id: f.rule, shortDescription: { text: f.explanation.slice(0, 200) }, properties: { 'security-severity': SECURITY_SEVERITY[f.severity] } });
      const where = `${r.upstream ? `${r.upstream}/` : ''}${r.kind}:${r.name}`;
      out.push({
        ruleId: f.rule,
        level: LEVEL[f.severity],
        message: { text: `${where}${f.path ? ` at ${f.path}` : ''}: ${f.explanation}. Excerpt: ${f.excerpt}` },
        locations: [{
          physicalLocation: { artifactLocation: { uri: source } },
          logicalLocations: [{ name: r.name, fullyQualifiedName: `${where}${f.path ? `#${f.path}` : ''}`, kind: 'member' }],
        }],
        properties: { severity: f.severity, verdict: r.verdict, score: r.score, path: f.path, start: f.start, end: f.end },
      });
    }
  }
  return {
    version: '2.1.0',
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    runs: [{
      tool: { driver: { name: 'gatehouse-scan', version: VERSION, rules: [...rules.values()] } },
      results: out,
    }],
  };
}
