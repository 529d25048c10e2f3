import { parseConfig } from '../src/config/load.ts';
const cases: string[] = [
`upstreams:
  github: { command: x }
virtualServers:
  v:
    include: [ { upstreams: [gihtub] } ]
`,
`server:
  port: \${PORT}
upstreams:
  a:
    command: x
    args: [--port, "\${PORT}", 3000]
    enabled: \${EN:-false}
`,
`server:
  port: \${BAD}
`,
``,
`upstreams:
`,
`- 1`,
`upstreams:
  a:
    command:
`,
`upstreams:
  a:
    cmd: x
`,
];
for (const c of cases) {
  try { console.log(JSON.stringify(parseConfig(c, 'config.yaml', { env: { PORT: '9090', BAD: 'abc' } }).config).slice(0, 400)); } catch (e) { console.log(String((e as Error).message)); }
  console.log('---');
}
