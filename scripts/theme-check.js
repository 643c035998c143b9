#!/usr/bin/env node
// Shopify's theme linter (@shopify/theme-check-node, pinned in package.json) on a theme app
// extension, fully offline: `npm run theme-check` or `node scripts/theme-check.js DIR [--json]`.
//
// theme-check-node fetches the Liquid docs (objects, filters, JSON schemas) from GitHub on every
// run and falls back to the copy bundled in @shopify/theme-check-docs-updater when it cannot.
// Nothing may be downloaded at run time here, so SHOPIFY_TLD_ROOT (the package's own switch for
// a local docs root) points at a temporary mirror of that bundled copy, the docs cache goes to a
// temporary directory, and Node's HTTP clients are disabled before the linter is loaded.
//
// Exit status: 0 with no error-level offence, 1 with any, 2 if the linter could not run.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const root = path.resolve(args.find((a) => !a.startsWith('--')) || 'extensions/loyalty-widget');

function refuseNetwork() {
  for (const name of ['http', 'https']) {
    const mod = require(name);
    const refuse = () => {
      throw new Error(`theme-check: network access is disabled (${name})`);
    };
    mod.request = refuse;
    mod.get = refuse;
  }
}

function mirrorBundledDocs(dir) {
  const updater = path.dirname(require.resolve('@shopify/theme-check-docs-updater/package.json'));
  const bundled = path.join(updater, 'data');
  const copy = (from, to) => {
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(from, to);
  };
  for (const name of ['latest', 'filters', 'objects', 'tags', 'shopify_system_translations']) {
    copy(path.join(bundled, `${name}.json`), path.join(dir, 'data', `${name}.json`));
  }
  for (const manifest of ['manifest_theme', 'manifest_theme_app_extension']) {
    const file = path.join(bundled, `${manifest}.json`);
    copy(file, path.join(dir, 'schemas', `${manifest}.json`));
    for (const schema of JSON.parse(fs.readFileSync(file, 'utf8')).schemas) {
      copy(path.join(bundled, path.basename(schema.uri)), path.join(dir, 'schemas', schema.uri));
    }
  }
}

const SEVERITY = ['error', 'warning', 'info'];

async function main() {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'theme-check-'));
  try {
    mirrorBundledDocs(path.join(scratch, 'docs'));
    process.env.SHOPIFY_TLD_ROOT = path.join(scratch, 'docs');
    process.env.XDG_CACHE_HOME = path.join(scratch, 'cache');
    refuseNetwork();
    const { themeCheckRun } = require('@shopify/theme-check-node');
    const log = process.env.THEME_CHECK_DEBUG ? (m) => console.error(m) : () => {};
    const { offenses } = await themeCheckRun(root, undefined, log);
    const rows = offenses.map((o) => ({
      file: path.relative(process.cwd(), new URL(o.uri).pathname),
      line: o.start.line + 1,
      column: o.start.character + 1,
      severity: SEVERITY[o.severity] || String(o.severity),
      check: o.check,
      message: o.message,
    }));
    const errors = rows.filter((r) => r.severity === 'error').length;
    if (asJson) {
      console.log(JSON.stringify({ root, errors, offenses: rows }, null, 2));
    } else {
      for (const r of rows) {
        console.log(`${r.file}:${r.line}:${r.column} ${r.severity} ${r.check}: ${r.message}`);
      }
      console.log(`theme-check: ${errors} error(s), ${rows.length - errors} other offence(s) in ${root}`);
    }
    process.exitCode = errors ? 1 : 0;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 2;
});
