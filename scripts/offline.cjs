// Preloaded (`node --require scripts/offline.cjs`) into the Shopify CLI by shopify-check.js so the
// CLI's offline checks stay offline: no TCP connection, no DNS lookup, no package-manager audit.
//
// The CLI reaches out on its own during `app build` and `app doctor`: its notifications feed
// (cdn.shopify.com), theme check's Liquid docs (raw.githubusercontent.com, with the copy bundled
// in the CLI as fallback), and doctor's KNOWN_CVE_IN_DEPENDENCY rule, which runs `npm audit`
// against registry.npmjs.org. Each of these already tolerates a machine without a network, so
// here every attempt fails the way it would offline (ENETUNREACH / ENOTFOUND, or a spawn error),
// and is written to $OFFLINE_LOG (one line each) for shopify-check.js to report.
'use strict';

const childProcess = require('node:child_process');
const dns = require('node:dns');
const fs = require('node:fs');
const net = require('node:net');

function record(what) {
  if (process.env.OFFLINE_LOG) fs.appendFileSync(process.env.OFFLINE_LOG, `${what}\n`);
}

function refusal(code, what) {
  return Object.assign(new Error(`offline.cjs: network disabled (${what})`), { code });
}

// Every TCP client in Node (http, https, tls, fetch/undici) ends in net.Socket#connect.
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function refuseTcp(...args) {
  const options = args[0] && typeof args[0] === 'object' ? args[0] : {};
  const ipc = typeof args[0] === 'string' || typeof options.path === 'string';
  if (ipc) return connect.apply(this, args);
  const port = typeof args[0] === 'number' ? args[0] : options.port;
  const host = (typeof args[1] === 'string' ? args[1] : options.host) || 'localhost';
  record(`connect ${host}:${port}`);
  process.nextTick(() => this.destroy(refusal('ENETUNREACH', `${host}:${port}`)));
  return this;
};

function refuseLookup(hostname, options, callback) {
  const done = typeof options === 'function' ? options : callback;
  record(`lookup ${hostname}`);
  process.nextTick(() => done(refusal('ENOTFOUND', hostname)));
}
dns.lookup = refuseLookup;
dns.promises.lookup = async (hostname) => {
  record(`lookup ${hostname}`);
  throw refusal('ENOTFOUND', hostname);
};

// `npm audit` (or pnpm/yarn) runs in a child process with an environment the CLI builds itself,
// so the preload cannot follow it there: refuse to start it instead.
const PACKAGE_MANAGERS = new Set(['npm', 'pnpm', 'yarn']);
for (const name of ['spawn', 'execFile']) {
  const original = childProcess[name];
  childProcess[name] = function refuseAudit(file, args, ...rest) {
    const command = String(file).split(/[\\/]/).pop();
    if (PACKAGE_MANAGERS.has(command) && Array.isArray(args) && args.includes('audit')) {
      record(`spawn ${command} ${args.join(' ')}`);
      throw refusal('EACCES', `${command} audit`);
    }
    return original.call(this, file, args, ...rest);
  };
}
