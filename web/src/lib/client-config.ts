/**
 * Copy-ready client configuration for one endpoint: Claude Desktop (through mcp-remote), Claude Code, Cursor,
 * VS Code and mcp-remote itself, with the endpoint's URL and the way this user authenticates filled in.
 */

/** How the client authenticates: not at all (auth off), by itself through OAuth discovery, or with an API key. */
export type ClientAuth = { kind: 'none' } | { kind: 'oauth' } | { kind: 'key'; key: string };

export interface ClientConfig {
  id: 'claude-desktop' | 'claude-code' | 'cursor' | 'vscode' | 'mcp-remote';
  label: string;
  /** Where the snippet goes, when it is a file. */
  file?: string;
  /** What to do with it, in a sentence. */
  hint: string;
  language: 'json' | 'shell';
  text: string;
}

/** A name clients accept as a server key: letters, digits, `-` and `_`. */
export function clientName(server: string): string {
  const base = server === '' ? 'gatehouse' : `gatehouse-${server}`;
  return base.replace(/[^A-Za-z0-9_-]+/g, '-');
}

export const KEY_PLACEHOLDER = '<YOUR_API_KEY>';

/** mcp-remote refuses plain http except to localhost unless told. */
function needsAllowHttp(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
  } catch {
    return false;
  }
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Single-quoted for a POSIX shell. */
function sh(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function clientConfigs(server: string, url: string, auth: ClientAuth): ClientConfig[] {
  const name = clientName(server);
  const key = auth.kind === 'key' ? auth.key || KEY_PLACEHOLDER : '';
  const headers = auth.kind === 'key' ? { Authorization: `Bearer ${key}` } : undefined;
  const allowHttp = needsAllowHttp(url) ? ['--allow-http'] : [];

  // mcp-remote's own advice: the header through an env variable, since some clients mangle spaces in args.
  const remoteArgs = ['-y', 'mcp-remote', url, ...allowHttp, ...(headers ? ['--header', 'Authorization:${AUTH_HEADER}'] : [])];
  const desktop = { mcpServers: { [name]: { command: 'npx', args: remoteArgs, ...(headers && { env: { AUTH_HEADER: `Bearer ${key}` } }) } } };

  const oauthNote = auth.kind === 'oauth' ? ' The client signs you in through the gateway\'s identity provider the first time it connects.' : '';
  return [
    {
      id: 'claude-desktop',
      label: 'Claude Desktop',
      file: 'claude_desktop_config.json',
      hint: `Add to claude_desktop_config.json (Settings → Developer → Edit Config) and restart Claude Desktop. It runs mcp-remote, which needs Node.js.${oauthNote}`,
      language: 'json',
      text: json(desktop),
    },
    {
      id: 'claude-code',
      label: 'Claude Code',
      hint: `Run in a terminal; add --scope project to share it through .mcp.json.${oauthNote}`,
      language: 'shell',
      text: `claude mcp add --transport http ${sh(name)} ${sh(url)}${headers ? ` --header ${sh(`Authorization: Bearer ${key}`)}` : ''}\n`,
    },
    {
      id: 'cursor',
      label: 'Cursor',
      file: '.cursor/mcp.json',
      hint: `Put in .cursor/mcp.json of the project, or ~/.cursor/mcp.json for every project.${oauthNote}`,
      language: 'json',
      text: json({ mcpServers: { [name]: { url, ...(headers && { headers }) } } }),
    },
    {
      id: 'vscode',
      label: 'VS Code',
      file: '.vscode/mcp.json',
      hint: `Put in .vscode/mcp.json of the workspace, then start the server from the file or the MCP: List Servers command.${oauthNote}`,
      language: 'json',
      text: json({ servers: { [name]: { type: 'http', url, ...(headers && { headers }) } } }),
    },
    {
      id: 'mcp-remote',
      label: 'mcp-remote',
      hint: `Bridges any stdio-only client to the gateway: use this command wherever the client asks for one.${oauthNote}`,
      language: 'shell',
      text: `npx mcp-remote ${sh(url)}${allowHttp.map((a) => ` ${a}`).join('')}${headers ? ` --header ${sh(`Authorization: Bearer ${key}`)}` : ''}\n`,
    },
  ];
}
