import { existsSync, readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// One project per package and example for unit tests (`src/**/*.test.ts` and
// `test/**/*.test.ts`), plus one `integration` project for the tests that use
// real servers (`test/integration/`), which the global setup starts once.
const workspaces = ['packages', 'examples']
  .filter((dir) => existsSync(dir))
  .flatMap((dir) => readdirSync(dir).map((name) => ({ dir: `${dir}/${name}`, name })))
  .filter(({ dir }) => existsSync(`${dir}/package.json`));

const conditions = ['@provisioning/source'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    // The JSON report feeds the summary line that CI prints (scripts/test-summary.mjs).
    reporters: ['default', ['json', { outputFile: '.artifacts/vitest.json' }]],
    projects: [
      ...workspaces.map(({ dir, name }) => ({
        extends: true as const,
        test: {
          name,
          include: [`${dir}/src/**/*.test.ts`, `${dir}/test/**/*.test.ts`],
          exclude: [`${dir}/test/integration/**`, '**/node_modules/**'],
        },
      })),
      {
        extends: true as const,
        test: {
          name: 'integration',
          include: workspaces.map(({ dir }) => `${dir}/test/integration/**/*.test.ts`),
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
