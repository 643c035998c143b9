#!/usr/bin/env node
// Builds the storefront widget's shipped script from its source: `make widget` (or
// `npm run build:widget`) writes extensions/loyalty-widget/assets/loyalty-widget.js from
// storefront/loyalty-widget.js with terser (pinned in package.json). `node scripts/build-widget.js
// OUT` writes elsewhere; tests/extensions/test_widget_build.py builds into a temporary directory
// and compares bytes with the committed asset.
//
// Why a build: theme check refuses an app block script over 10,000 bytes, and the readable source
// had reached 9,991. The shipped file is committed, so `make run` needs no Node; it must stay
// within BUDGET, leaving room for the next storefront feature.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { minify } = require('terser');

const ROOT = path.resolve(__dirname, '..');
const SOURCE = path.join(ROOT, 'storefront', 'loyalty-widget.js');
const ASSET = path.join(ROOT, 'extensions', 'loyalty-widget', 'assets', 'loyalty-widget.js');
const BUDGET = 8000;
const PREAMBLE = '/* Built by `make widget` from storefront/loyalty-widget.js: edit that file, not this one. */';

async function main() {
  const out = path.resolve(process.argv[2] || ASSET);
  const source = fs.readFileSync(SOURCE, 'utf8');
  // Two compress passes, mangled names, no comments: the same options give the same bytes.
  const { code } = await minify(source, {
    ecma: 2020,
    compress: { passes: 2 },
    mangle: true,
    format: { comments: false, preamble: PREAMBLE },
  });
  const built = `${code}\n`;
  const size = Buffer.byteLength(built);
  if (size > BUDGET) throw new Error(`${size} bytes: over the ${BUDGET}-byte budget`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, built);
  console.log(`build-widget: ${path.relative(process.cwd(), out)}: ${size} bytes (source ${Buffer.byteLength(source)}, budget ${BUDGET})`);
}

main().catch((error) => {
  console.error(`build-widget: ${error.message}`);
  process.exitCode = 1;
});
