import { defineConfig } from 'vitest/config';

/**
 * Two projects. `unit` (test/core, test/unit) is pure code and the embedded store: no server, no build,
 * seconds (`npx vitest run test/core`, `npm run test:unit`). `integration` (test/integration) starts real
 * servers (slapd, a MongoDB-wire server, the Crowd fixture) and runs the built CLI, so it builds first.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/core/**/*.test.ts', 'test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'], globalSetup: ['test/global-setup.ts'] } },
    ],
  },
});
