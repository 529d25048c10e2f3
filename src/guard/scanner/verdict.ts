/**
 * Score and verdict from findings, by policy: the worst severity meets a threshold (default: high or critical
 * quarantines, medium warns), or the weights add up past a score threshold (several weak signals together).
 */
import type { ScanPolicy } from './config.ts';
import { severityRank } from './types.ts';
import type { Finding, Severity } from './types.ts';

export type Verdict = 'allow' | 'warn' | 'quarantine';

/** What each severity adds to a definition's score. */
export const SEVERITY_WEIGHT: Readonly<Record<Severity, number>> = { info: 0, low: 1, medium: 4, high: 10, critical: 25 };

/** Scores are capped so one flood of findings cannot overflow a report column. */
const MAX_SCORE = 100;

/** The score (0–100) and verdict of one definition's findings. */
export function judge(findings: readonly Finding[], policy: ScanPolicy): { score: number; verdict: Verdict } {
  let score = 0;
  let worst = -1;
  for (const f of findings) {
    score += SEVERITY_WEIGHT[f.severity];
    worst = Math.max(worst, severityRank(f.severity));
  }
  score = Math.min(MAX_SCORE, score);
  if (worst >= severityRank(policy.quarantine) || score >= policy.quarantineScore) return { score, verdict: 'quarantine' };
  if (worst >= severityRank(policy.warn) || score >= policy.warnScore) return { score, verdict: 'warn' };
  return { score, verdict: 'allow' };
}
