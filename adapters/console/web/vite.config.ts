import { defineConfig } from 'vite';

// The console is served by recalld at /console/ (adapters/console embeds
// ../assets/dist). Preact's JSX is compiled by Vite's own transform with the
// automatic runtime, so no framework plugin is needed.
export default defineConfig({
  base: '/console/',
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  build: {
    outDir: '../assets/dist',
    emptyOutDir: true,
    // The browser tests find the chart module's file through the manifest.
    manifest: true,
    // No inline <script> or data: module: the CSP allows script-src 'self' only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
    chunkSizeWarningLimit: 800,
  },
});
