import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base.ts';

// The shipped schema and policies are plain Cedar files in src/policies/;
// the build copies them to dist/policies/, where `shippedPolicyDir` points.
export default defineConfig({
  ...packageBuild(import.meta.dirname),
  onSuccess: async () => {
    cpSync(join(import.meta.dirname, 'src', 'policies'), join(import.meta.dirname, 'dist', 'policies'), {
      recursive: true,
    });
  },
});
