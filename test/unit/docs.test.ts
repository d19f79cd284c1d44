import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { listSecretPositions } from '../../src/config/secret-positions.js';
import { ERROR_CATALOG } from '../../src/errors.js';

const ROOT = join(import.meta.dirname, '..', '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('README', () => {
  it('keeps the error table in step with the error catalog', () => {
    const table = readme.slice(readme.indexOf('<!-- error-table:start -->'), readme.indexOf('<!-- error-table:end -->'));
    const rows = [...table.matchAll(/^\| `(ERR_[A-Z_]+)` \| (\d) \| (.+) \|$/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
    expect(rows).toEqual(Object.entries(ERROR_CATALOG).map(([code, entry]) => [code, entry.exit, entry.summary]));
  });

  it('opens with the two commands, and CI runs the second one', () => {
    const commands = [...readme.matchAll(/^(npm .+)$/gm)].map((m) => m[1]);
    expect(commands.slice(0, 2)).toEqual(['npm install && npm start', 'npm run test:all']);
    expect(readFileSync(join(ROOT, '.ci', 'run'), 'utf8')).toMatch(/^npm run test:all$/m);
  });

  it('documents every CLI exit code the catalog uses', () => {
    const codes = new Set(Object.values(ERROR_CATALOG).map((e) => e.exit));
    for (const code of codes) expect(readme).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
  });
});

describe('layout rules (ESLint)', () => {
  it('keeps src/core pure and connectors away from the store', async () => {
    const eslint = new ESLint({ cwd: ROOT });
    const [core] = await eslint.lintText("import { readFileSync } from 'node:fs';\nimport { openStore } from '../store/open-store.js';\nexport const t = [readFileSync, openStore, Date.now(), Math.random()];\n", { filePath: join(ROOT, 'src/core/probe.ts') });
    expect(core?.messages.map((m) => m.ruleId)).toEqual(['no-restricted-imports', 'no-restricted-imports', 'no-restricted-globals', 'no-restricted-properties']);
    const [connector] = await eslint.lintText("import { openStore } from '../../src/store/open-store.js';\nexport const s = openStore;\n", { filePath: join(ROOT, 'connectors/ldif/probe.ts') });
    expect(connector?.messages.map((m) => m.ruleId)).toEqual(['no-restricted-imports']);
  });
});

describe('README: secret positions', () => {
  it('lists exactly the secret positions the config schema marks', () => {
    const block = readme.slice(readme.indexOf('<!-- secret-positions:start -->'), readme.indexOf('<!-- secret-positions:end -->'));
    const documented = [...block.matchAll(/^- `([^`]+)`( \(user information\))?$/gm)].map((m) => `${m[1]}${m[2] ?? ''}`);
    expect(documented).toEqual(listSecretPositions(configSchema));
  });
});
