#!/usr/bin/env -S node --max-semi-space-size=4
// The `gatehouse` command. It runs the build in dist/ (`npm run build`; npm start builds first), which spares the
// process the TypeScript stripper (about 25 MB of RSS), or the sources when there is no up-to-date build (entry.mjs).
//
// --max-semi-space-size=4 caps V8's young generation at 4 MB per semi-space; by default it grows to 16 MB in the
// first burst of traffic, and those pages stay resident for good: ~30 MB more memory for no measurable throughput
// (`npm run bench` measures both; BENCH_NODE_FLAGS= runs the gateway with Node's defaults).
import { fileURLToPath, pathToFileURL } from 'node:url';
import { entryFor } from './entry.mjs';

await import(pathToFileURL(entryFor(fileURLToPath(new URL('..', import.meta.url)))).href);
