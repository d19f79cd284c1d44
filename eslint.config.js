import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', AbortSignal: 'readonly', AbortController: 'readonly', TextDecoder: 'readonly', NodeJS: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'Use a string union, not an enum.' }],
    },
  },
  {
    // The core is pure: no I/O, no clock, no environment, and it imports nothing outside src/core.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^[^.]', message: 'src/core is pure: no packages or node: modules (I/O lives in connectors, store and engine).' },
            { regex: '^\\.\\./', message: 'src/core imports only from src/core (never connectors, stores, engine or CLI).' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'src/core reads no environment.' },
        { name: 'Date', message: 'src/core reads no clock: pass time in.' },
        { name: 'setTimeout', message: 'src/core has no timers.' },
        { name: 'setInterval', message: 'src/core has no timers.' },
        { name: 'fetch', message: 'src/core does no I/O.' },
        { name: 'console', message: 'src/core does not log.' },
      ],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'src/core is deterministic.' }],
    },
  },
  {
    // The console's pages call the engine, never the store: no store import, no reaching into deps.store.
    files: ['src/service/console/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '/store/', message: 'Console pages call the engine (src/engine), never the store.' }, { group: ['mongoose', 'libsql'], message: 'Console pages never touch a store.' }] }],
      'no-restricted-syntax': [
        'error',
        { selector: 'TSEnumDeclaration', message: 'Use a string union, not an enum.' },
        { selector: "MemberExpression[property.name='store']", message: 'Console pages call the engine (src/engine), never the store.' },
        { selector: "MemberExpression[property.name='records']", message: 'Console pages call the engine (src/engine), never the store records.' },
      ],
    },
  },
  {
    // Connectors read directories; they never touch the store, the engine or the CLI.
    files: ['connectors/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '/src/(store|engine|cli)/', message: 'Connectors never import the store, the engine or the CLI.' }, { group: ['mongoose', 'libsql'], message: 'Connectors never touch a store.' }] },
      ],
    },
  },
);
