#!/usr/bin/env node
import module from 'node:module';

// Node.js 22.1+ keeps compiled code between runs (in the OS temp directory): start-up is a good part of
// a short run such as an incremental sync. Older Node.js goes without; a cache that cannot be written is skipped.
module.enableCompileCache?.();
const { main } = await import('../dist/src/cli/main.js');

const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
process.exitCode = code;
