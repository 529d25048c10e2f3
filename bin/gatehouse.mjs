#!/usr/bin/env node
// Entry point for the installed `gatehouse` command: Node >= 22.18 runs the TypeScript sources directly.
import '../src/cli/main.ts';
