import { parseConfig } from '../src/config/load.ts';
const cases: string[] = [
`server:
  port: 8080
  hots: x
upstreams:
  everything:
    command: npx
    timeouts:
      request: fast
  web:
    url: not a url
  bad name:
    comand: x
  both: { command: x, url: "http://x" }
  t: { transport: ws }
virtual_servers: {}
`,
`upstreams:
  a:
    args: [x
`,
`upstreams:
  a:
    command: \${NOPE}
    env: { X: "\${HOME}", Y: "$\${lit}" }
`,
`upstreams:
  a: { command: x }
virtualServers:
  v:
    include: [ { upstreams: [b] } ]
    hideDerivedSources: maybe
`,
`server: { port: \${PORT} }`,
`{"mcpServers": {"a": {"command": "x", "disabled": "sometimes", "tyme": 1}, "b": {"type": "sse", "url": "nope"}}}`,
`defaults: &d
  command: x
upstreams:
  a:
    <<: *d
    timeouts: { connect: -1 }
`,
];
for (const c of cases) {
  try { console.log(JSON.stringify(parseConfig(c, 'config.yaml', { env: { PORT: 'abc' } }).config).slice(0, 300)); } catch (e) { console.log(String((e as Error).message)); }
  console.log('---');
}
