#!/usr/bin/env node
// Builds the storefront widget's shipped scripts from their sources: `make widget` (or
// `npm run build:widget`) writes extensions/loyalty-widget/assets/NAME.js from each
// storefront/NAME.js (loyalty-widget.js, loyalty-rewards.js, loyalty-referral.js) with terser (pinned in
// package.json). `node scripts/build-widget.js DIR` writes into DIR instead;
// tests/extensions/test_widget_build.py builds into a temporary directory and compares bytes with
// the committed assets.
//
// Why a build: theme check refuses an app block script over 10,000 bytes, and the readable source
// had reached 9,991. The shipped files are committed, so `make run` needs no Node; each must stay
// within BUDGET, leaving room for the next storefront feature. Rewards came as a second file
// (the two together are over 10,000 bytes): a feature that does not fit goes in its own script.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { minify } = require('terser');

const ROOT = path.resolve(__dirname, '..');
const SOURCES = ['loyalty-widget.js', 'loyalty-rewards.js', 'loyalty-referral.js'];
const ASSETS = path.join(ROOT, 'extensions', 'loyalty-widget', 'assets');
const BUDGET = 8000;

async function build(name, dir) {
  const out = path.join(dir, name);
  const source = fs.readFileSync(path.join(ROOT, 'storefront', name), 'utf8');
  const preamble = `/* Built by \`make widget\` from storefront/${name}: edit that file, not this one. */`;
  // Two compress passes, mangled names, no comments: the same options give the same bytes.
  const { code } = await minify(source, {
    ecma: 2020,
    compress: { passes: 2 },
    mangle: true,
    format: { comments: false, preamble },
  });
  const built = `${code}\n`;
  const size = Buffer.byteLength(built);
  if (size > BUDGET) throw new Error(`${name}: ${size} bytes: over the ${BUDGET}-byte budget`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, built);
  console.log(`build-widget: ${path.relative(process.cwd(), out)}: ${size} bytes (source ${Buffer.byteLength(source)}, budget ${BUDGET})`);
}

async function main() {
  const dir = path.resolve(process.argv[2] || ASSETS);
  for (const name of SOURCES) await build(name, dir);
}

main().catch((error) => {
  console.error(`build-widget: ${error.message}`);
  process.exitCode = 1;
});
