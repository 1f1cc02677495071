import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // SoftHSM2 tokens and child processes: keep the 2-core machine from thrashing.
          fileParallelism: false,
          // Prints the fault matrix's compass figures at the end of the run.
          globalSetup: ['test/integration/faults/tally.global.ts'],
        },
      },
    ],
  },
});
