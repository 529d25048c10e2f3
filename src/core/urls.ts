/** A URL as messages, logs and /readyz may show it: its password masked (a Redis or PostgreSQL URL often holds one). */
export function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}
