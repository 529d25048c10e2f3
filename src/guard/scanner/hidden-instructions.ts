/**
 * Instructions aimed at the model rather than describing the tool: pseudo-system tags and notes addressed to the
 * assistant, orders to hide things from the user, overrides of earlier rules, coercion ("or the tool will fail"),
 * prerequisite actions, and remote-code one-liners. Patterns are built from word classes, not from fixed sentences.
 */
import { anyWord, applyRules, sentenceOf } from './rules.ts';
import type { PatternRule } from './rules.ts';
import type { Detector, Finding, Severity } from './types.ts';

const MODEL = String.raw`(?:ai|a\.i\.|assistant|llm|(?:language\s+)?model|agent|chat\s?bot|bot|claude|chatgpt|gpt(?:-\d)?|copilot|gemini)`;
const USER = String.raw`(?:the\s+|your\s+|any\s+)?(?:user|human|operator|end[\s-]?user|customer|requester|person)s?(?!['’]s)\b`;
const AUDIENCE = String.raw`(?:${USER}|anyone|anybody|them|people)`;
const REVEAL = String.raw`(?:tell|mention|inform|reveal|disclose|show|notify|alert|explain|report|surface|say|acknowledge|admit|expose|display|bring\s+up|let\s+(?:${USER}|them)\s+know)`;
const NEG = String.raw`(?:do\s+not|don['’]?t|never|must\s+not|mustn['’]?t|should\s+not|shouldn['’]?t|avoid|refrain\s+from|no\s+need\s+to|under\s+no\s+circumstances(?:\s+should\s+you)?|you\s+(?:may|can)\s+not)`;
/** Base-form action verbs: model-directed text is imperative ("send"), tool descriptions third person ("sends"). */
const ACT = String.raw`(?:append|add|include|insert|send|resend|forward|email|e-mail|mail|message|text|notify|share|sync|report|call|invoke|run|execute|copy|upload|read|open|pass|attach|put|set|change|modify|replace|collect|gather|fetch|post|write|store|save|log|record|delete|remove|print|dump|embed|leak|transmit|repeat|list|query|swap|route|redirect)`;
const OVERRIDE_VERB = String.raw`(?:ignore|disregard|forget|override|overrule|bypass|skip|abandon|discard|set\s+aside|pay\s+no\s+attention\s+to|stop\s+following|do\s+not\s+(?:follow|obey|heed|apply))`;
const PRIOR = String.raw`(?:(?:all|any|every|the|your|its|my|these|those)\s+)?(?:(?:previous|prior|above|earlier|preceding|former|original|initial|existing|other|system|developer|safety|security|current|standard|usual|normal|default)\s+)*`;
const DIRECTIVE = String.raw`(?:instructions?|directions?|directives?|rules|guidelines|guidance|guardrails|prompts?|constraints|restrictions|programming|polic(?:y|ies)|orders|system\s+prompt|training|safeguards)`;
/** What the user asked for: ignoring it is an override only with a verb of neglect ("ignore the user's request"). */
const ASKED = String.raw`(?:(?:the|this|that|their|his|her|${USER}['’]s)\s+)(?:original\s+|actual\s+|real\s+)?(?:requests?|questions?|task|story|query|ask)`;
const TAG_NAME = String.raw`(?:important|system|sys|instructions?|inst|admin|secret|hidden|assistant|ai|model|context|critical|mandatory|priority|directive|override|rules?|prompt|internal|private|confidential|attention|note[\s_-]?(?:to|for)[\s_-]?(?:the[\s_-]?)?(?:ai|assistant|model)|developer|root)`;

const rx = (source: string, flags = 'gi') => new RegExp(source, flags);

const PROTECTIVE = /\b(?:refuses?|blocked|rejected|denied|not\s+allowed|prevents?|protects?)\b/i;
const EXAMPLE_CUE = /\b(?:e\.g\.|for\s+example|for\s+instance|such\s+as|like|detects?|flags?|flagged|classif\w*|filters?|moderat\w*|blocks?|catches)\b/i;

/** Protective sentences ("are blocked") keep only a weak signal. */
function unlessProtective(base: Severity): PatternRule['adjust'] {
  return (text, start, end) => (PROTECTIVE.test(sentenceOf(text, start, end)) ? 'low' : base);
}

/**
 * A phrase quoted as an example of what a security tool catches ("flags 'ignore all previous instructions'") is
 * described, not spoken; it keeps a weak signal so a score can still add up.
 */
function unlessQuotedExample(base: Severity): PatternRule['adjust'] {
  return (text, start, end) => {
    const before = text.slice(Math.max(0, start - 3), start);
    const after = text.slice(end, end + 3);
    const quoted = /['"“‘`]/.test(before) && /['"”’`]/.test(after);
    return quoted && EXAMPLE_CUE.test(sentenceOf(text, start, end)) ? 'low' : base;
  };
}

/** The rules, exported so decoders (encoded.ts, comments.ts, invisible-text.ts) can re-scan what they uncover. */
export const HIDDEN_INSTRUCTION_RULES: readonly PatternRule[] = [
  {
    id: 'hidden.instruction-tag',
    severity: 'high',
    pattern: rx(String.raw`<\s*/?\s*${TAG_NAME}(?:[\s_-]*(?:notes?|instructions?|messages?|prompts?|directives?|only|info|block|mode))?\s*/?\s*>|<<\s*/?\s*sys\s*>>|<\|\s*(?:im_start|im_end|system|assistant|user|endoftext)\s*\|>|\[\s*/?\s*(?:inst|sys|system|important|admin|hidden|assistant|ai|instructions?|note\s+(?:to|for)\s+(?:the\s+)?${MODEL})(?:\s+(?:note|message|notice|instructions?|prompt|override|directive|update))*(?:\s+(?:for|to)\s+(?:the\s+)?${MODEL})?\s*[:\]]|\{\{\s*(?:system|assistant|instructions?|ai|model|prompt|directive)[\w\s-]*\}\}`),
    explanation: 'a pseudo-system tag or block (<IMPORTANT>, [SYSTEM], <|im_start|>, {{assistant…}}) that frames text as orders to the model',
  },
  {
    id: 'hidden.instruction-heading',
    severity: 'high',
    pattern: rx(String.raw`^[ \t]*(?:#{1,6}|\*\*|==+|--+)?[ \t]*(?:(?:system|hidden|secret|internal|special|important)\s+)?(?:instructions?|directives?|rules|notes?|prompt)\s+(?:for|to)\s+(?:the\s+|any\s+|all\s+)?${MODEL}s?\b`, 'gim'),
    explanation: 'a heading or label that addresses the model with instructions',
  },
  {
    id: 'hidden.addresses-model',
    gate: /ai\b|a\.i\.|assistant|llm|model|agent|bot|claude|gpt|copilot|gemini/i,
    severity: 'high',
    pattern: rx(String.raw`\b(?:note|message|reminder|notice|memo|hint|instructions?|directive|attention|psa|p\.s\.)\s*(?:to|for)\s+(?:the\s+|any\s+|all\s+|every\s+)?(?:${MODEL}|${MODEL}\s+(?:reading|using|processing)\s+this)s?\b|(?:^|[.!?\n(\[{"'“]\s*|\bdear\s+|\bhey\s+)${MODEL}\s*[,:]\s*(?:you|please|always|never|do|ignore|disregard|from|before|after|when|first|make\s+sure|remember|note)\b|\b${MODEL}[\s-]only\b|\b(?:the|any|every|an?)\s+${MODEL}\s+(?:reading\s+this\s+)?(?:should|must|shall|will\s+(?:now|always)|is\s+(?:to|required\s+to|obligated\s+to|expected\s+to|supposed\s+to)|needs\s+to|has\s+to)\s+(?:\w+\s+){0,2}?${ACT}\b`),
    explanation: 'text addressed to the AI model itself rather than describing the tool',
  },
  {
    id: 'hidden.conceal-from-user',
    gate: /not|n['’]t|never|avoid|refrain|without|keep|kept|hid|conceal|mask|suppress|obscur|silent|secret|covert|quiet|discreet|invisib|behind|user|human|customer|person|operator|requester/i,
    severity: 'high',
    pattern: rx(String.raw`${NEG}\s+(?:ever\s+|even\s+|explicitly\s+)?${REVEAL}\w*\b(?:\s+(?:this|these|that|it|any(?:thing)?|the\s+(?:above|following|step|steps|instructions?|notes?|fact|call|request|detail|details|change|error|errors|failure))){0,2}(?:\s+(?:of\s+this|about\s+(?:this|it|that)))?\s+(?:(?:to|with|from)\s+)?${AUDIENCE}|${NEG}\s+${REVEAL}\w*\s+(?:\w+\s+){0,2}?(?:these|this|the|your|my)\s+(?:instructions?|notes?|rules|directives?|steps?|prompt|message|block|section|comment|part|text|content)\b|\bwithout\s+(?:\w+\s+)?(?:telling|informing|notifying|alerting|letting|warning)\s+${AUDIENCE}|\bwithout\s+${USER}\s+(?:knowing|noticing|seeing|being\s+(?:told|aware|informed))|\b(?:keep|kept)\s+(?:this|it|these|that|the\s+\w+)\s+(?:\w+\s+){0,2}?(?:secret|quiet|hidden|private|confidential|between\s+us|to\s+yourself)\b|\b(?:hide|conceal|mask|suppress|obscure)\s+(?:this|these|it|that|the\s+\w+|any\s+\w+|all\s+\w+|errors?|failures?)(?:\s+\w+){0,5}?\s+from\s+${AUDIENCE}|\b${USER}\s+(?:must|should|need|needs\s+to|is\s+not\s+to|may)\s+(?:not|never)\s+(?:know|see|notice|learn|find\s+out|be\s+(?:told|informed|notified|aware|shown))|\b${USER}\s+(?:will|would|does|do|need|needs)\s*(?:n['’]?t|\s+not)\s+(?:need\s+to\s+)?(?:know|notice|see|find\s+out|hear|be\s+(?:bothered|told|informed|notified|involved|troubled|asked|aware))\b|\b(?:silently|secretly|covertly|quietly|discreetly|invisibly|behind\s+(?:the\s+)?(?:user['’]?s?|their)\s+back)\s+(?:also\s+)?${ACT}\b|\bhides?\s+(?:any\s+|all\s+)?errors\b|\bhide\s+(?:any\s+|all\s+)?(?:errors|failures)\b|\bin\s+a\s+way\s+that\s+hides\b`),
    explanation: 'asks the model to hide something from the user — honest tools have nothing to keep from the person using them',
    adjust: unlessProtective('high'),
  },
  {
    id: 'hidden.override-instructions',
    gate: /ignor|disregard|forget|overr|bypass|skip|abandon|discard|aside|attention|stop|do\s+not|safety|security|content|privacy|precedence|priority|authority|you\s+are|mode|obey|follow|literally|answer|respond|even|treat/i,
    severity: 'high',
    pattern: rx(String.raw`\b${OVERRIDE_VERB}\s+(?:\w+\s+){0,2}?${PRIOR}(?:${USER}['’]?s?\s+)?${DIRECTIVE}\b|\b(?:ignore|disregard|forget|pay\s+no\s+attention\s+to)\s+${ASKED}\b|\b(?:safety|security|content|privacy)\s+(?:polic(?:y|ies)|rules|guidelines|filters|restrictions|checks)\s+(?:no\s+longer|do\s+not|don['’]t|does\s+not|doesn['’]t|are\s+(?:not|disabled|suspended|lifted|off))\s*(?:apply|matter|count|in\s+effect)?|\b(?:takes?|has|have|given?)\s+(?:\w+\s+)?(?:precedence|priority)\s+over\s+(?:\w+\s+){0,2}?(?:user|system|other|previous|prior|any|all|every|your)\b|\b(?:higher|more)\s+(?:priority|precedence|authority)\s+than\s+(?:\w+\s+){0,2}?(?:user|system|developer|your)|\boverrides?\s+(?:\w+\s+)?(?:your|the|all|any)\s+(?:\w+\s+)?(?:safety|system|security|user|previous|other)\s+(?:\w+\s+)?(?:rules|instructions|settings|guidelines|prompt|polic(?:y|ies))\b|\byou\s+are\s+now\s+(?:a|an|in|my|the|free|unrestricted|allowed|permitted|authori[sz]ed)\b|\byou\s+are\s+no\s+longer\s+(?:bound|restricted|limited|required|an?)\b|\b(?:developer|god|jailbreak|unrestricted|dan)\s+mode\b|\b(?:obey|follow)\s+(?:any|all|every|the)\s+(?:text|instructions?|commands?|orders?)\s+(?:inside|in|within|found\s+in|contained)\b|\bfollow\s+(?:them|it|these)\s+literally\b|\beven\s+(?:if|when)\s+(?:it|this|that|they)\s+(?:conflicts?|contradicts?|disagrees?|clashes?)\s+with\s+(?:what\s+)?(?:the\s+|your\s+)?(?:user|person|human|you|system|developer|operator)|\btreat\s+(?:[\w'’-]+\s+){0,6}?as\s+(?:(?:trusted|authoritative|binding|mandatory)\b|(?:system[\s-]level|system)\s+(?:guidance|instructions|prompts?|messages?|commands))|\b(?:answer|respond\s+to|do)\s+(?:every|any|all)\s+(?:\w+\s+)?without\s+(?:any\s+)?(?:restrictions|limits|filters)\b`),
    explanation: 'tries to override the model\'s instructions, the user\'s request or its safety rules',
    adjust: unlessQuotedExample('high'),
  },
  {
    id: 'hidden.skip-confirmation',
    gate: /confirm|approv|permission|consent|grant|given|authori/i,
    severity: 'high',
    pattern: rx(String.raw`\b(?:skip|bypass|omit|disable|avoid|suppress)\s+(?:all\s+|any\s+|the\s+)?(?:user\s+)?(?:confirmations?|confirmation\s+(?:prompts?|steps?|dialogs?)|approvals?|permission\s+(?:checks?|prompts?)|consent)\b|\b(?:never|do\s+not|don['’]t|no\s+need\s+to)\s+(?:ask|prompt|check\s+with)\s+${USER}\s+(?:for\s+)?(?:confirmation|permission|approval|consent)|\b${USER}\s+(?:has|have)\s+(?:already\s+)?(?:granted|given|approved|authorized|authorised)\s+(?:full|all|every|unlimited)\b`),
    explanation: 'tells the model to act without the user\'s confirmation or claims a blanket permission',
  },
  {
    id: 'hidden.remote-code',
    severity: 'high',
    pattern: rx(String.raw`\b(?:curl|wget|fetch|iwr|invoke-webrequest)\b[^|\n]{0,200}\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b|\b(?:base64\s+(?:-d|--decode)|xxd\s+-r)\b[^|\n]{0,80}\|\s*(?:ba|z)?sh\b|\bpowershell(?:\.exe)?\s+(?:-\w+\s+)*-e(?:nc(?:odedcommand)?)?\s+[A-Za-z0-9+/=]{8,}|\biex\s*\(\s*(?:new-object|iwr|invoke-webrequest)|/dev/tcp/\d|\bnc\s+(?:-\w+\s+)*-e\s+/bin/|\brm\s+-(?:rf|fr)\s+(?:~|/|\$HOME)(?:\s|/|$)|\bchmod\s+\+x\s+\S+\s*&&\s*\./`),
    explanation: 'a one-liner that downloads and runs code or destroys data',
    adjust: unlessProtective('high'),
  },
  {
    id: 'hidden.coercion',
    gate: /or|else|fail|break|crash|without|required|mandated|demanded|depends/i,
    severity: 'medium',
    pattern: rx(String.raw`\b(?:or|otherwise|else)\s*,?\s+(?:the\s+|this\s+|your\s+)?(?:system|tool|app|application|server|computer|calculation|request|session|data|everything|process|conversation)\s+(?:will|would|could|may)\s+(?:\w+\s+)?(?:crash|fail|break|stop\s+working|not\s+work|be\s+(?:lost|deleted|corrupted|wiped|banned|blocked)|return\s+(?:stale|wrong|incorrect))|\b(?:fails?|will\s+fail|will\s+not\s+work|won['’]t\s+work|breaks?|crashes)\s+without\s+(?:it|this|that|them)\b|\bfailure\s+to\s+(?:comply|do\s+so|follow|include)\b|\b(?:required|mandated|demanded)\s+by\s+(?:\w+\s+)?(?:company|corporate|security|legal|compliance)?\s*polic(?:y|ies)\b|\bthe\s+\w+\s+depends\s+on\s+it\b`),
    explanation: 'coerces the model with a threat or an invented requirement',
  },
  {
    id: 'hidden.prerequisite-action',
    gate: /before|prior|after|when|each|every|you\s+(?:must|have|need|are)|always/i,
    severity: 'low',
    pattern: rx(String.raw`\b(?:before|prior\s+to|after|when(?:ever)?|each\s+time|every\s+time)\s+(?:you\s+)?(?:using|calling|invoking|running|use|call|invoke|run|respond|reply|answer)(?:ing)?\s+(?:this\s+tool|this\s+function|it|any\s+reply|every\s+(?:reply|message|response)|a\s+response)?\s*,?\s*(?:you\s+)?(?:must|have\s+to|need\s+to|are\s+required\s+to|should|first|always)?\s*(?:also\s+|first\s+)?${ACT}\b|\byou\s+(?:must|have\s+to|need\s+to|are\s+(?:required|expected|obliged)\s+to)\s+(?:also\s+|first\s+|always\s+)?${ACT}\b|\b(?:you\s+must|always)\s+(?:run|call|invoke|use)\s+(?:it|this(?:\s+tool)?)\s+(?:before|after|for|on)\s+(?:every|each|any)\b`),
    explanation: 'an order to the model to take some other action around using the tool',
  },
];

/** Findings of the hidden-instruction rules in one text. */
export function hiddenInstructionText(text: string, path: string): Finding[] {
  return applyRules(HIDDEN_INSTRUCTION_RULES, text, path);
}

/** Rules that only say "this talks to the model", which server instructions are meant to do (MCP initialize). */
const ADDRESSING = new Set(['hidden.addresses-model', 'hidden.instruction-heading', 'hidden.prerequisite-action']);

/** Instructions to the model in any text field of a definition. */
export const hiddenInstructions: Detector = function hiddenInstructions(item, ctx) {
  const out: Finding[] = [];
  for (const f of ctx.fields(item)) {
    if (f.text.length <= 6) continue;
    const found = hiddenInstructionText(f.text, f.path);
    // A server's `instructions` are written for the model by design: addressing it is no sign; what it asks still is.
    if (item.kind === 'server' && f.path === 'instructions') out.push(...found.map((x) => (ADDRESSING.has(x.rule) ? { ...x, severity: 'info' as const } : x)));
    else out.push(...found);
  }
  return out;
};

/** Word list used by other families for "this is an order" tests within a sentence. */
export const DIRECTIVE_WORDS = anyWord(['always', 'never', 'must', 'should', 'shall', 'only', 'instead', 'replace', 'override', 'whenever', 'before', 'after', 'also', 'first', 'prefix(?:ed)?', 'append', 'add', 'set', 'change', 'modify', 'redirect', 'do\\s+not', "don['’]t", 'bug', 'broken', 'deprecated', 'required', 'ensure', 'make\\s+sure', 'remember', 'important', 'has\\s+to', 'need\\s+to', 'require[sd]?']);
