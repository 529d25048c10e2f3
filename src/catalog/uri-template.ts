/**
 * Matching a concrete URI against an RFC 6570 template well enough to route resources/read: each `{var}`
 * (and the `{+var}`, `{#var}`, `{/var}`... operators) matches a non-empty run; reserved expansion may span `/`.
 */

const cache = new Map<string, RegExp>();

export function templateToRegExp(template: string): RegExp {
  let re = cache.get(template);
  if (re) return re;
  let body = '';
  let last = 0;
  for (const m of template.matchAll(/\{([+#./;?&]?)([^}]*)\}/g)) {
    body += escape(template.slice(last, m.index));
    const op = m[1];
    body += op === '+' || op === '#' ? '(.+)' : op === '?' || op === '&' ? '(?:[?&].*)?' : '([^/?#]+)';
    last = m.index + m[0].length;
  }
  body += escape(template.slice(last));
  re = new RegExp(`^${body}$`);
  cache.set(template, re);
  return re;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
