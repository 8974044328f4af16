// `node --import ./scripts/bench-loader/register.mjs file.ts`: runs the
// benchmarks' TypeScript the way the published packages are built (tsup, that
// is esbuild, without `keepNames`). tsx keeps every function's name by
// wrapping each named closure in an Object.defineProperty call at the point
// it is created, which made closures created per call measurably dearer in the
// benchmarks than in the code users install.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
