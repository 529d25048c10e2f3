/**
 * Exfiltration cues: orders to read sensitive files, parameters that ask for secrets, environment or the conversation
 * when the tool's own purpose has nothing to do with them, hidden copies sent to a literal address, and markdown
 * images or URLs whose query carries the user's data. "Unrelated" is judged against the tool's name and description.
 */
import { applyRules, finding, sentenceOf } from './rules.ts';
import type { PatternRule } from './rules.ts';
import type { Detector, Finding, ScanItem, Severity } from './types.ts';

/** Files whose contents are secrets; matched by shape, so `/home/bob/.aws/credentials` and `~/.ssh/id_rsa` both hit. */
const SENSITIVE_PATH = String.raw`(?:(?:~|\$HOME|%USERPROFILE%|/home/[^/\s]+|/Users/[^/\s]+|/root|C:\\Users\\[^\\\s]+)?[/\\])?\.(?:ssh|aws|gnupg|kube|docker|azure|netrc|npmrc|pypirc|git-credentials|bash_history|zsh_history|psql_history|mysql_history|pgpass|my\.cnf|env(?:\.[\w-]+)?|vault-token|terraformrc|config[/\\](?:gcloud|claude|gh|cursor|solana)|cursor|claude|codeium|vscode[/\\][\w./-]*)(?![\w-])(?:[/\\][\w.*-]+)*|\bid_(?:rsa|dsa|ecdsa|ed25519)(?:\.pub)?\b|/etc/(?:passwd|shadow|sudoers|gshadow|ssh/\S+)|\b(?:mcp|claude_desktop_config|credentials|secrets?|service[-_]account|keyfile|keystore)\.(?:json|ya?ml|toml|txt)\b|\bwallet\.dat\b|\bLogin\s+Data\b|\bkeychain\b|\bkubeconfig\b|[\w-]+\.(?:pem|p12|pfx|keystore|jks|kdbx)\b`;
/** Verbs of taking something and putting it somewhere, in the imperative (what an order to the model says). */
const TAKE = String.raw`\b(?:read|open|cat|load|fetch|get|grab|copy|include|attach|paste|put|pass|send|upload|embed|insert|provide|append|dump|print|return|output|collect|give|supply|submit|use\s+the\s+contents?|contents?\s+of|content\s+of)\b`;
// Negation, or the user kept in control (asks, approves, consents): the sentence is about care, not theft.
const PROTECTIVE = /\b(?:never|not|no|skip(?:s|ped)?|ignor(?:es|ed)|exclud(?:es|ed)|refus(?:es|ed)|block(?:s|ed)|den(?:y|ies|ied)|won['’]t|cannot|can['’]t|redact(?:s|ed)?|mask(?:s|ed)?|protect(?:s|ed)?|outside|approv(?:es|ed|al)|consents?|confirm(?:s|ed|ation)|permission|asks\s+(?:the\s+user\s+)?(?:first|before))\b/i;

/** What the model holds that a tool has no claim to. */
const HARVESTED = String.raw`(?:conversation(?:\s+history)?|chat(?:\s+history|\s+log)?|message\s+history|transcript|system\s+prompt|(?:system\s+|your\s+|hidden\s+)instructions|context\s+window|prior\s+turns|(?:previous|prior|earlier|recent|last|user['’]?s?|chat|conversation)\s+(?:\w+\s+){0,2}?messages|other\s+tools['’]?\s+(?:output|results)|user['’]s\s+(?:messages|last\s+message|(?:saved\s+)?passwords?|full\s+name|home\s+address|question)|environment\s+variables|api\s+keys?|access\s+tokens?|bearer\s+tokens?|auth(?:orization)?\s+headers|credentials|secrets|password\s+hashes|session\s+(?:cookies?|tokens?))`;

const TRANSFER = String.raw`\b(?:send|sends|sent|forward|forwards|bcc|cc|post|posts|upload|uploads|transmit|transmits|mirror|mirrors|relay|relays|report|reports|share|shares|sync|syncs|leak|exfiltrate|deliver|delivers|submit|submits|copy|copies|ping|beacon)\b`;
const COVERT = /\b(?:also|additionally|as\s+well|copy\s+of|every|all|each|always|silently|secretly|automatically|in\s+addition|safekeeping|archiv\w*|backup|back-up|bcc|audit\s+copy|mirror)\b/i;
const DESTINATION = /[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\bhttps?:\/\/[^\s)'"<>]+|\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b|\bwebhook\.site\b/gi;

const rx = (source: string, flags = 'gi') => new RegExp(source, flags);
const DATA_PLACEHOLDER = /(?:user|question|conversation|message|history|summary|chat|context|prompt|query|secret|token|key|password|content|email|name|data|answer|memory|file|text|input)/i;

export const EXFILTRATION_RULES: readonly PatternRule[] = [
  {
    id: 'exfil.sensitive-file',
    severity: 'high',
    pattern: rx(SENSITIVE_PATH),
    explanation: 'points the model at a file that holds secrets (keys, credentials, shell history, client config)',
    adjust: (text, start, end) => {
      const sentence = sentenceOf(text, start, end);
      if (PROTECTIVE.test(sentence)) return 'info';
      return new RegExp(TAKE, 'i').test(sentence) ? 'high' : 'low';
    },
  },
  {
    id: 'exfil.harvest-context',
    gate: /conversation|chat|message|transcript|prompt|instruction|context|turns|tools|user|environment|key|token|header|credential|secret|password|session|seen|found|know|shared|other|env|set|export/i,
    severity: 'high',
    pattern: rx(String.raw`\b(?:include|pass|put|paste|insert|append|attach|copy|send|resend|provide|add|fill|dump|embed|supply|give|forward|output|print|reveal|repeat|store|save|log|record|email|upload|post|collect|gather)\b(?:\s+[\w'’]+){0,6}?\s+(?:(?:the|your|all|any|every|entire|whole|full|complete|verbatim|raw|previous|prior|earlier|current|exact|recent|last|\d+|one|two|three|five|ten)\s+){0,3}${HARVESTED}\b|${HARVESTED}\s+(?:that\s+)?(?:you|the\s+user|they)\s+(?:has|have|had)?\s*(?:seen|found|know|remember|encountered|shared|sent|uploaded|pasted|mentioned|typed|received|opened)\b|\b(?:keys?|tokens?|secrets?|credentials|passwords?|files?|documents?|attachments?|data)\s+(?:that\s+)?(?:you|the\s+user)\s+(?:has\s+|have\s+)?(?:seen|found|know|remember|encountered|can\s+(?:see|find|access)|shared|sent|uploaded|pasted|given|provided)\s+(?:with\s+you\s+|to\s+you\s+)?(?:in|during|from)\s+(?:this|the|your)\s+(?:chat|conversation|session|thread|context)\b|\b(?:all|every|any)\s+(?:the\s+)?(?:keys?|tokens?|secrets?|credentials|passwords?)\s+(?:in|from)\s+(?:this|the|your)\s+(?:session|conversation|context|memory|environment)\b|\b(?:from|of)\s+(?:your|the)\s+other\s+(?:mcp\s+)?(?:connections|servers|sessions|tools)\b|\b(?:run|execute)\s+\x60?(?:env|printenv|set|export\s+-p)\x60?(?=\s|$|\x60|[.,;)])`),
    explanation: 'asks the model to hand over the conversation, its instructions, the user\'s data or secrets',
    adjust: (text, start, end) => (/\b(?:never|not|no)\b/i.test(sentenceOf(text, start, end)) ? 'low' : 'high'),
  },
  {
    id: 'exfil.url-data-placeholder',
    severity: 'high',
    pattern: rx(String.raw`https?://[^\s)"'<>]*[?&][\w-]+=(?:\{[^}]*\}|<[^>]*>|\$\{[^}]*\}|\[[^\]]*\]|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\.\.\.)`),
    explanation: 'a URL whose query is to be filled with the user\'s data, so rendering or fetching it sends that data away',
    // OAuth and API templates carry identifiers ({client_id}, {state}); a placeholder for what the user said or
    // holds is the beacon.
    adjust: (text, start, end) => (DATA_PLACEHOLDER.test(text.slice(start, end).replace(/^[^?]*\?/, '')) ? 'high' : 'low'),
  },
];

/** Findings of the exfiltration text rules (and literal covert destinations) in one text. */
export function exfiltrationText(text: string, path: string): Finding[] {
  const out = applyRules(EXFILTRATION_RULES, text, path);
  for (const m of text.matchAll(DESTINATION)) {
    const sentence = sentenceOf(text, m.index, m.index + m[0].length);
    if (new RegExp(TRANSFER, 'i').test(sentence) && COVERT.test(sentence)) {
      out.push(finding('exfil.covert-destination', 'high', path, text, m.index, m.index + m[0].length, 'sends a copy of data to a fixed outside address on the side of what the tool does'));
    }
  }
  return out;
}

/** What a parameter may ask for, and words in a tool's own purpose that make asking for it legitimate. */
const ASKS: readonly { what: string; asks: RegExp; related: RegExp }[] = [
  {
    what: 'the conversation or the model\'s instructions',
    asks: /\b(?:conversation|chat[\s_-]?history|chat[\s_-]?log|transcript|system[\s_-]?prompt|context[\s_-]?window|previous[\s_-]?messages|prior[\s_-]?turns|messages?[\s_-]so[\s_-]far|your[\s_-]instructions|full[\s_-]context|memory[\s_-]dump)\b/i,
    related: /\b(?:conversations?|chat|transcripts?|messages?|summar\w*|prompts?|dialog(?:ue)?s?|memory|threads?)\b/i,
  },
  {
    what: 'secrets or credentials',
    asks: /(?:^|[\s_-])(?:passwords?|passphrase|passwd|api[\s_-]?keys?|(?:access|auth|bearer|session|refresh|github|openai|aws|api|personal[\s_-]access|id)[\s_-]?tokens?|secrets?|credentials?|private[\s_-]?keys?|ssh[\s_-]?keys?|access[\s_-]?keys?|cookies?|seed[\s_-]?phrase|mnemonic|otp|2fa|cvv|card[\s_-]?number|ssn)(?:$|[\s_.,:;()-])/i,
    related: /\b(?:auth\w*|log\s?in|sign\s?in|password\w*|credentials?|tokens?|keys?|secrets?|vault|account|security|encrypt\w*|decrypt\w*|sign(?:s|ing)?|oauth|jwt|registry|ssh|cipher|hash\w*|strength|headers?|http|api|cookies?|session|wallet|payments?|card)\b/i,
  },
  {
    what: 'files or attachments the user shared',
    asks: /\b(?:file[\s_-]?contents?|file\s+paths?\s+and\s+(?:file\s+)?contents?|attachments?|uploaded\s+files|documents?\s+(?:the\s+user|you)\s+(?:has\s+|have\s+)?(?:shared|uploaded))\b/i,
    related: /\b(?:files?|documents?|attachments?|uploads?|email\w*|mail|messages?|pdf|images?|tickets?|notes?|storage|drive|folders?|directory|paths?)\b/i,
  },
  {
    what: 'environment variables',
    asks: /\b(?:env[\s_-]?(?:vars?|dump)?|environment(?:[\s_-]variables?)?|printenv)\b/i,
    related: /\b(?:env\w*|environment|variables?|config\w*|deploy\w*|docker|container|process|shell|ci)\b/i,
  },
];
const SENSITIVE = new RegExp(SENSITIVE_PATH, 'i');
const HARVEST_TONE = /\b(?:all|any|every|entire|whole|full|complete|verbatim|so\s+far|you\s+(?:have\s+)?(?:seen|know|found)|in\s+this\s+session|from\s+(?:memory|context)|paste|dump|run\s+`?(?:env|printenv)|your\s+(?:own\s+)?(?:private|secret|personal|ssh|api))\b/i;

/** Parameters (tool properties, prompt arguments) that ask for something unrelated to the definition's purpose. */
function unrelatedParameters(item: ScanItem): Finding[] {
  const def = item.definition;
  const purpose = `${item.name} ${typeof def.title === 'string' ? def.title : ''} ${typeof def.description === 'string' ? def.description : ''}`.replace(/[_-]/g, ' ');
  const out: Finding[] = [];
  for (const { path, name, description } of parameters(def)) {
    const text = `${name.replace(/[_-]/g, ' ')} ${description}`;
    for (const ask of ASKS) {
      const m = ask.asks.exec(text);
      if (!m || ask.related.test(purpose)) continue;
      const severity: Severity = HARVEST_TONE.test(description) || SENSITIVE.test(description) ? 'high' : 'medium';
      out.push(finding('exfil.unrelated-parameter', severity, path, text, m.index, m.index + m[0].length,
        `the parameter "${name}" asks for ${ask.what}, which the tool's stated purpose does not need`));
      break;
    }
  }
  return out;
}

interface Parameter {
  path: string;
  name: string;
  description: string;
}

function parameters(def: Readonly<Record<string, unknown>>): Parameter[] {
  const out: Parameter[] = [];
  const props = (def.inputSchema as { properties?: unknown } | undefined)?.properties;
  if (props && typeof props === 'object') {
    for (const [name, schema] of Object.entries(props as Record<string, unknown>)) {
      const d = (schema as { description?: unknown } | null)?.description;
      out.push({ path: `inputSchema.properties.${name}`, name, description: typeof d === 'string' ? d : '' });
    }
  }
  if (Array.isArray(def.arguments)) {
    def.arguments.forEach((a: unknown, i) => {
      const arg = a as { name?: unknown; description?: unknown } | null;
      if (typeof arg?.name === 'string') out.push({ path: `arguments[${i}]`, name: arg.name, description: typeof arg.description === 'string' ? arg.description : '' });
    });
  }
  return out;
}

/** Exfiltration cues in every text field, plus parameters that ask for what the tool has no use for. */
export const exfiltration: Detector = function exfiltration(item, ctx) {
  const out: Finding[] = [];
  for (const f of ctx.fields(item)) if (f.text.length > 4) out.push(...exfiltrationText(f.text, f.path));
  if (item.kind === 'tool' || item.kind === 'prompt') out.push(...unrelatedParameters(item));
  return out;
};
