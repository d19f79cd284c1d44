#!/usr/bin/env node
// Summarises a V8 .cpuprofile: the functions with the most self time, and the most total time.
// Usage: node scripts/cpu-profile-top.mjs FILE.cpuprofile [N]
import { readFileSync } from 'node:fs';

const [file, n = '25'] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node scripts/cpu-profile-top.mjs FILE.cpuprofile [N]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map();
const interval = (profile.endTime - profile.startTime) / profile.samples.length / 1000;
for (const id of profile.samples) self.set(id, (self.get(id) ?? 0) + interval);
const label = (node) => {
  const f = node.callFrame;
  return `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules\/|dist\/|src\/)/, '$1')}:${f.lineNumber + 1}`;
};
const parents = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
const selfBy = new Map();
const totalBy = new Map();
for (const [id, ms] of self) {
  const node = byId.get(id);
  selfBy.set(label(node), (selfBy.get(label(node)) ?? 0) + ms);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parents.get(cur)) {
    const l = label(byId.get(cur));
    if (!seen.has(l)) {
      seen.add(l);
      totalBy.set(l, (totalBy.get(l) ?? 0) + ms);
    }
  }
}
const top = (map) => [...map].sort((a, b) => b[1] - a[1]).slice(0, Number(n));
console.log(`total ${((profile.endTime - profile.startTime) / 1e6).toFixed(2)} s`);
console.log('-- self ms');
for (const [l, ms] of top(selfBy)) console.log(`${ms.toFixed(0).padStart(7)}  ${l}`);
console.log('-- total ms');
for (const [l, ms] of top(totalBy)) console.log(`${ms.toFixed(0).padStart(7)}  ${l}`);
