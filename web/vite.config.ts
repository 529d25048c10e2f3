// Builds the portal (web/) into web/dist: one page, its script and styles under assets/ with hashed names.
// Asset URLs are relative and index.html carries <base href="/portal/">, so the gateway can serve the same build
// below another portal.path by rewriting that one tag. The build fails when the page's JS passes its budget.
import { defineConfig } from 'vite';
import type { Plugin } from 'vite';

/** What the first page may load, uncompressed: the app, Preact and uPlot. */
const JS_BUDGET = 200 * 1024;

function budget(): Plugin {
  return {
    name: 'gatehouse-js-budget',
    apply: 'build',
    generateBundle(_options, bundle) {
      let js = 0;
      let css = 0;
      for (const file of Object.values(bundle)) {
        const size = file.type === 'chunk' ? Buffer.byteLength(file.code) : typeof file.source === 'string' ? Buffer.byteLength(file.source) : file.source.length;
        if (file.fileName.endsWith('.js')) js += size;
        else if (file.fileName.endsWith('.css')) css += size;
      }
      const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
      console.log(`portal: ${kb(js)} of JS (budget ${kb(JS_BUDGET)}), ${kb(css)} of CSS, uncompressed`);
      if (js > JS_BUDGET) this.error(`the portal's JS is ${kb(js)}, over its budget of ${kb(JS_BUDGET)}`);
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  logLevel: 'warn',
  plugins: [budget()],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // One script for the whole app: it is small enough (the budget above keeps it so).
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
