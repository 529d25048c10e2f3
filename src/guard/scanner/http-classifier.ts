/**
 * A model-based classifier as one more detector: the definition's text fields are POSTed to an HTTP endpoint and
 * its answer is mapped to findings. A timeout bounds the wait; a failure adds nothing (fail-open) or quarantines
 * the definition (fail-closed), as configured.
 */
import type { ClassifierConfig } from './config.ts';
import { SEVERITIES } from './types.ts';
import type { Detector, Finding, Severity } from './types.ts';

export interface ClassifierOptions extends Omit<ClassifierConfig, 'timeout' | 'threshold' | 'failMode'> {
  timeout?: number;
  threshold?: number;
  failMode?: 'open' | 'closed';
  /** Injected for tests; the global fetch otherwise. */
  fetch?: typeof fetch;
}

/** What an endpoint may answer: findings of its own, or one label with a score for the whole definition. */
interface ClassifierAnswer {
  findings?: { rule?: unknown; severity?: unknown; path?: unknown; start?: unknown; end?: unknown; excerpt?: unknown; explanation?: unknown }[];
  label?: unknown;
  score?: unknown;
}

const MALICIOUS_LABELS = /^(?:malicious|injection|poison(?:ed|ing)?|unsafe|jailbreak|attack|positive|1|true)$/i;

function severityFromScore(score: number): Severity {
  return score >= 0.9 ? 'critical' : score >= 0.7 ? 'high' : 'medium';
}

function toFindings(answer: ClassifierAnswer, threshold: number): Finding[] {
  if (Array.isArray(answer.findings)) {
    return answer.findings.map((f) => ({
      rule: `classifier.${typeof f.rule === 'string' && /^[\w.-]+$/.test(f.rule) ? f.rule : 'flagged'}`,
      severity: SEVERITIES.includes(f.severity as Severity) ? (f.severity as Severity) : 'high',
      path: typeof f.path === 'string' ? f.path : '',
      start: typeof f.start === 'number' ? f.start : 0,
      end: typeof f.end === 'number' ? f.end : 0,
      excerpt: typeof f.excerpt === 'string' ? f.excerpt.slice(0, 200) : '',
      explanation: typeof f.explanation === 'string' ? f.explanation.slice(0, 500) : 'the classifier flagged this definition',
    }));
  }
  const score = typeof answer.score === 'number' ? answer.score : MALICIOUS_LABELS.test(String(answer.label ?? '')) ? 1 : 0;
  const flagged = answer.label === undefined ? score >= threshold : MALICIOUS_LABELS.test(String(answer.label)) && score >= threshold;
  if (!flagged) return [];
  return [{ rule: 'classifier.flagged', severity: severityFromScore(score), path: '', start: 0, end: 0, excerpt: `${String(answer.label ?? 'score')} ${score}`, explanation: `the classifier judged the definition malicious (score ${score})` }];
}

/** A detector that asks the endpoint at `options.url`; never throws. */
export function createHttpClassifier(options: ClassifierOptions): Detector {
  const doFetch = options.fetch ?? fetch;
  const timeout = options.timeout ?? 2_000;
  const threshold = options.threshold ?? 0.5;
  const closed = options.failMode === 'closed';
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  const failure = (why: string): Finding[] => (closed
    ? [{ rule: 'classifier.unavailable', severity: 'high', path: '', start: 0, end: 0, excerpt: why, explanation: `the classifier could not judge the definition (${why}) and the scanner fails closed` }]
    : []);

  return async function httpClassifier(item, ctx) {
    const fields = ctx.fields(item).filter((f) => f.text.length > 0).map((f) => ({ path: f.path, text: f.text }));
    try {
      const res = await doFetch(options.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ kind: item.kind, name: item.name, upstream: item.upstream ?? null, fields }),
        signal: AbortSignal.timeout(timeout),
      });
      if (!res.ok) return failure(`HTTP ${res.status}`);
      const answer = (await res.json()) as ClassifierAnswer;
      if (answer === null || typeof answer !== 'object') return failure('an answer that is not a JSON object');
      return toFindings(answer, threshold);
    } catch (err) {
      const e = err as Error;
      return failure(e.name === 'TimeoutError' ? `no answer within ${timeout} ms` : e.message);
    }
  };
}
