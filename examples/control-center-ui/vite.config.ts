import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The Control Center UI's build. Served by the control center under `/ui/`
 * with a CSP that allows scripts and styles from its own origin only, so the
 * build must not inline anything: no inlined assets, no source maps, no
 * module-preload polyfill (modern browsers only).
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/ui/',
  plugins: [react()],
  resolve: { conditions: ['@provisioning/source'] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
  },
});
