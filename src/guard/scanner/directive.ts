/**
 * The directive-language detector: every sentence of a definition's prose scored by the shared model
 * (src/guard/directive/model.ts). It catches what the pattern rules have no pattern for — an order to the model
 * phrased some new way — and its findings carry the sentence and the score.
 */
import { directiveModel } from '../directive/model.ts';
import { finding } from './rules.ts';
import type { Detector, Finding, Severity } from './types.ts';

/**
 * Model scores at which a sentence is a high finding (it quarantines alone), a medium one (it warns) or a low one
 * (it counts toward the score with what the rules found): `scanner.directive` in the config. The defaults were chosen
 * on sets the weights were not trained on (training/directive/README.md).
 */
export interface DirectiveThresholds {
  readonly high: number;
  readonly medium: number;
  readonly low: number;
}

export const DEFAULT_DIRECTIVE_THRESHOLDS: DirectiveThresholds = { high: 0.97, medium: 0.9, low: 0.75 };

const EXPLANATION = 'reads as an order to the AI model rather than a description of the tool';

/** Directive-language findings in one text; spans are within `text`. */
export function directiveText(text: string, path: string, at: DirectiveThresholds = DEFAULT_DIRECTIVE_THRESHOLDS): Finding[] {
  return directiveModel().sentencesOver(text, at.low).map(({ start, end, score }) => {
    const severity: Severity = score >= at.high ? 'high' : score >= at.medium ? 'medium' : 'low';
    return finding('directive.model-language', severity, path, text, start, end, `${EXPLANATION} (directive-language model, score ${score.toFixed(2)})`);
  });
}

/**
 * Over every prose and value field. A server's `instructions` are written for the model by design, so there only a
 * high finding counts, and as medium (it warns).
 */
export const directive: Detector = function directive(item, ctx) {
  const out: Finding[] = [];
  for (const f of ctx.fields(item)) {
    if (f.role === 'name' || f.text.length <= 12) continue;
    const found = directiveText(f.text, f.path, ctx.directive);
    if (item.kind === 'server' && f.path === 'instructions') out.push(...found.filter((x) => x.severity === 'high').map((x) => ({ ...x, severity: 'medium' as const })));
    else out.push(...found);
  }
  return out;
};
