/**
 * Cross-server shadowing: a definition that changes how *another* server's tool must be used ("when send_email is
 * called, always bcc…"), or that lays down rules for every tool at once. Other servers' tool names come in through
 * the scan context, so the test is a reference to one of them plus directive language in the same sentence.
 */
import { DIRECTIVE_WORDS } from './hidden-instructions.ts';
import { applyRules, finding, sentenceOf } from './rules.ts';
import type { PatternRule } from './rules.ts';
import type { Detector, Finding, KnownLookup, ScanItem } from './types.ts';

const DIRECTIVE = new RegExp(DIRECTIVE_WORDS, 'i');
const SCOPE = String.raw`(?:tools?|servers?|plugins?|functions?|integrations?|extensions?|mcp\s+servers?|actions)`;

export const SHADOWING_RULES: readonly PatternRule[] = [
  {
    id: 'shadow.global-rule',
    severity: 'high',
    pattern: new RegExp(String.raw`\b(?:for|to|on|with|across|of)\s+(?:all|every|any|each)\s+(?:of\s+)?(?:the\s+)?(?:other\s+)?${SCOPE}\b|\b(?:all|every|any|each)\s+(?:other\s+)?${SCOPE}\s+(?:you\s+(?:have|can|use|call)|available|on\s+this\s+(?:system|machine|host)|in\s+this\s+(?:session|conversation))|\bregardless\s+of\s+(?:which|what|the)\s+${SCOPE}|\bwhen(?:ever)?\s+(?:you\s+)?(?:use|call|invoke|run|using|calling|invoking|running)\s+(?:any|another|other|a\s+different|some\s+other)\s+${SCOPE}|\b(?:before|after)\s+(?:invoking|calling|using|running)\s+(?:them|those|other|any\s+other|another)\b|\bother\s+${SCOPE}\s+(?:must|should|have\s+to|need\s+to|are\s+to|will\s+not)\b|\b(?:on|of|from|in|by|to)\s+(?:another|other|a\s+different|any\s+other|different|third-party)\s+(?:mcp\s+)?(?:servers?|plugins?|integrations?|providers?|connections?)\b|\bprefer\s+(?:this|our|these|my)\s+(?:server['’]s\s+)?(?:tools?|functions?|server)\s+(?:over|to|instead\s+of)\b|\b(?:over|instead\s+of|rather\s+than)\s+(?:any|all)\s+others?\b`, 'gi'),
    explanation: 'lays down a rule for tools in general (other servers\' included), beyond what this tool does',
    adjust: (text, start, end) => (DIRECTIVE.test(sentenceOf(text, start, end)) ? 'high' : 'low'),
  },
  {
    id: 'shadow.other-server',
    severity: 'medium',
    pattern: /\b(?:the\s+)?[\w-]+\s+(?:server|mcp\s+server|plugin|integration)['’]?s?\s+(?:tool|tools|function)s?\b|\b(?:tool|tools)\s+(?:from|of|on)\s+(?:the\s+)?[\w-]+\s+(?:server|plugin|integration)\b/gi,
    explanation: 'speaks about the tools of another server',
    adjust: (text, start, end) => (DIRECTIVE.test(sentenceOf(text, start, end)) ? 'medium' : 'info'),
  },
];

/** Names worth matching in prose: generic words ("search", "list") would match ordinary English. */
function distinctive(name: string): boolean {
  return name.length >= 5 && /[_\-.]|[a-z][A-Z]/.test(name);
}

const TOKEN = /[\p{L}\p{N}_][\p{L}\p{N}_.-]*[\p{L}\p{N}_]/gu;

/** References to other servers' tools, by name; with directive language in the sentence they are shadowing. */
function crossReferences(text: string, path: string, item: ScanItem, byName: KnownLookup): Finding[] {
  const out: Finding[] = [];
  const seen = new Set<string>();
  for (const m of text.matchAll(TOKEN)) {
    const word = m[0].toLowerCase();
    if (seen.has(word) || !distinctive(m[0])) continue;
    const named = byName.get(word);
    // A name the item's own server also has is a reference to itself (servers share tool sets), not shadowing.
    if (named === undefined || (item.upstream !== undefined && named.some((t) => t.upstream === item.upstream))) continue;
    const tool = named.find((t) => t.upstream !== item.upstream && t.name !== item.name);
    if (!tool) continue;
    seen.add(word);
    const end = m.index + m[0].length;
    const directive = DIRECTIVE.test(sentenceOf(text, m.index, end));
    out.push(finding('shadow.cross-server-reference', directive ? 'high' : 'low', path, text, m.index, end,
      directive ? `gives orders about "${tool.name}", a tool of another server (${tool.upstream})` : `mentions "${tool.name}", a tool of another server (${tool.upstream})`));
  }
  return out;
}

/** Shadowing in the prose fields of a definition, against the tools of every other upstream in the context. */
export const shadowing: Detector = function shadowing(item, ctx) {
  const out: Finding[] = [];
  for (const f of ctx.fields(item)) {
    if (f.role === 'name' || f.text.length < 8) continue;
    out.push(...applyRules(SHADOWING_RULES, f.text, f.path), ...crossReferences(f.text, f.path, item, ctx.toolsByName));
  }
  return out;
};

/** Shadowing phrases in one text without tool names (decoders re-scan with these). */
export function shadowingText(text: string, path: string): Finding[] {
  return applyRules(SHADOWING_RULES, text, path);
}
