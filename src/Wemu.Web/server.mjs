// A small static server for the Wemu site (no dependencies): `./wemu serve [--port N]` runs it.
// Binds 127.0.0.1 unless --host says otherwise, and prints where it listens. Sends the right MIME
// types (application/wasm for streaming compilation),
// compresses (precompressed .br/.gz siblings when the build made them, else Brotli or gzip on the
// fly, cached), and the COOP/COEP headers a multithreaded runtime will need (SharedArrayBuffer).
// Guest images are sent uncompressed with Content-Length and byte ranges, so download progress
// is exact and a disk is read by ranges (the page's lazy disks). `ranges: false` makes a server that ignores
// Range headers, as some do (tests of the page's fallback to a whole download).
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { pipeline } from 'node:stream';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.map': 'application/json',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.txt': 'text/plain; charset=utf-8',
  '.dat': 'application/octet-stream', '.pdb': 'application/octet-stream', '.LICENSE': 'text/plain; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.wasm', '.map', '.svg', '.txt', '.dat', '.pdb']);

// What the server refuses to serve, whatever the request looks like:
// * anything outside the root: the decoded path is normalized and checked lexically, and then its
//   real path (symlinks resolved) must still lie inside the root's real path;
// * anything but a regular file: the file is opened once (O_NONBLOCK, so a FIFO cannot block the
//   event loop; O_NOFOLLOW for the last component) and checked with fstat on that descriptor, which
//   is the one read from, so a file replaced or removed after the check cannot be what is sent.
// A failing read (unreadable file, I/O error, a client that goes away mid-range) ends that response
// only: every stream has an error handler, and the handler as a whole is wrapped (500).
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOFOLLOW ?? 0);

export function createSiteServer(root, { allowedHosts = null, ranges = true } = {}) {
  root = path.resolve(root);
  const realRoot = fs.realpathSync(root);
  const cache = new Map();   // path|encoding -> {mtimeMs, size, body}

  /** The path's real location if it is inside the root, else null (missing files throw ENOENT). */
  function inside(file) {
    const real = fs.realpathSync(file);
    return real === realRoot || real.startsWith(realRoot + path.sep) ? real : null;
  }

  /** Opens a regular file inside the root: {fd, stat, real}, or throws (err.status 403/404). */
  function openRegular(file) {
    const real = inside(file);
    if (!real) throw Object.assign(new Error('outside the root'), { status: 403 });
    const fd = fs.openSync(real, OPEN_FLAGS);
    try {
      const stat = fs.fstatSync(fd);
      if (!stat.isFile()) throw Object.assign(new Error('not a regular file'), { status: 403 });
      return { fd, stat, real };
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  function compressed(opened, encoding) {
    const key = opened.real + '|' + encoding;
    const hit = cache.get(key);
    if (hit && hit.mtimeMs === opened.stat.mtimeMs && hit.size === opened.stat.size) return hit.body;
    const raw = fs.readFileSync(opened.fd);
    const body = encoding === 'br'
      ? zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } })
      : zlib.gzipSync(raw, { level: 6 });
    cache.set(key, { mtimeMs: opened.stat.mtimeMs, size: opened.stat.size, body });
    return body;
  }

  function handle(req, res, headers, reply) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed');
    // DNS rebinding: a page on another name that resolves to 127.0.0.1 must not read this site.
    if (allowedHosts) {
      const host = String(req.headers.host || '').toLowerCase().replace(/:\d+$/, '');
      if (!allowedHosts.has(host)) return reply(403, 'forbidden host');
    }
    let rel;
    try {
      rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      return reply(400, 'bad request');
    }
    if (rel.includes('\0')) return reply(400, 'bad request');
    let file = path.join(root, path.normalize(rel));
    if (file !== root && !file.startsWith(root + path.sep)) return reply(403, 'forbidden');
    let opened;
    try {
      const lst = fs.lstatSync(file);
      if (lst.isDirectory()) file = path.join(file, 'index.html');
      opened = openRegular(file);
    } catch (e) {
      if (e.status === 403 || e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'ELOOP')
        return reply(403, 'forbidden');
      return reply(404, 'not found');
    }
    let fdOwned = true;
    try {
      const { fd, stat } = opened;
      const ext = path.extname(file);
      headers['Content-Type'] = TYPES[ext] || 'application/octet-stream';
      // Fingerprinted framework files never change under their name; everything else is revalidated.
      headers['Cache-Control'] = /\/_framework\/.+\.[0-9a-z]{10}\.\w+$/.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache';
      headers['Last-Modified'] = stat.mtime.toUTCString();
      if (req.headers['if-modified-since'] && Math.floor(stat.mtimeMs / 1000) <= Date.parse(req.headers['if-modified-since']) / 1000) {
        res.writeHead(304, headers);
        return res.end();
      }

      const accept = String(req.headers['accept-encoding'] || '');
      if (COMPRESSIBLE.has(ext)) {
        headers['Vary'] = 'Accept-Encoding';
        for (const [encoding, suffix] of [['br', '.br'], ['gzip', '.gz']]) {
          if (!new RegExp(`\\b${encoding}\\b`).test(accept)) continue;
          let body = null;
          try {
            const pre = openRegular(file + suffix);
            try {
              if (pre.stat.mtimeMs >= stat.mtimeMs) body = fs.readFileSync(pre.fd);
            } finally { fs.closeSync(pre.fd); }
          } catch { body = null; }
          body ??= compressed(opened, encoding);
          res.writeHead(200, { ...headers, 'Content-Encoding': encoding, 'Content-Length': body.length });
          return res.end(req.method === 'HEAD' ? undefined : body);
        }
      }

      if (ranges) headers['Accept-Ranges'] = 'bytes';
      let start = 0, end = stat.size - 1, status = 200;
      const range = ranges && /^bytes=(\d*)-(\d*)$/.exec(String(req.headers.range || ''));
      if (range && (range[1] || range[2])) {
        start = range[1] ? Number(range[1]) : Math.max(0, stat.size - Number(range[2]));
        end = range[1] && range[2] ? Math.min(Number(range[2]), stat.size - 1) : stat.size - 1;
        if (start > end || start >= stat.size) {
          res.writeHead(416, { ...headers, 'Content-Range': `bytes */${stat.size}` });
          return res.end();
        }
        status = 206;
        headers['Content-Range'] = `bytes ${start}-${end}/${stat.size}`;
      }
      res.writeHead(status, { ...headers, 'Content-Length': stat.size === 0 ? 0 : end - start + 1 });
      if (req.method === 'HEAD' || stat.size === 0) return res.end();
      // The stream owns the descriptor from here; pipeline destroys both sides on any error and
      // when the client goes away, so an aborted range request leaks nothing.
      fdOwned = false;
      const stream = fs.createReadStream(null, { fd, start, end, autoClose: true });
      stream.on('error', () => {});
      pipeline(stream, res, () => {});
    } finally {
      if (fdOwned) fs.closeSync(opened.fd);
    }
  }

  return http.createServer((req, res) => {
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'X-Content-Type-Options': 'nosniff',
    };
    const reply = (status, text) => {
      res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : text + '\n');
    };
    res.on('error', () => {});
    try {
      handle(req, res, headers, reply);
    } catch {
      // A file that vanished or became unreadable mid-request, or anything unforeseen: this
      // response fails, the server goes on.
      if (!res.headersSent) reply(500, 'internal error');
      else res.destroy();
    }
  });
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * Starts serving `root` on `host`:`port` (127.0.0.1 unless told otherwise; port 0 = any free port);
 * resolves with {server, url, relayUrl}. On a loopback address only requests naming a loopback host are
 * answered (DNS rebinding). With `relay` (a command, e.g. ['./wemu', 'relay']), also serves the network
 * relay at /net (`wemu serve --net`): the command runs with `--port 0 --host 127.0.0.1`, and WebSocket
 * requests for /net from pages of this site (their Origin is this server) are passed to it byte for byte.
 */
export async function serveSite(root, port = 8080, host = '127.0.0.1', { relay = null, ranges = true } = {}) {
  const allowedHosts = LOOPBACK.has(host) ? new Set(['127.0.0.1', 'localhost', '[::1]']) : null;
  const server = createSiteServer(root, { allowedHosts, ranges });
  const child = relay ? await startRelay(relay) : null;
  if (child) {
    server.on('upgrade', (req, socket, head) => proxyRelay(req, socket, head, child.port, allowedHosts));
    server.on('close', () => child.process.kill());
    process.once('exit', () => child.process.kill());   // the relay never outlives its server
  }
  return new Promise((resolve, reject) => {
    server.once('error', e => { child?.process.kill(); reject(e); });
    server.listen(port, host, () => {
      const { address, port: bound } = server.address();
      const authority = `${address.includes(':') ? `[${address}]` : address}:${bound}`;
      resolve({ server, url: `http://${authority}/`, relayUrl: child ? `ws://${authority}/net` : null });
    });
  });
}

/** Runs the relay command on a free loopback port; resolves with {process, port} once it says where it listens. */
function startRelay(command) {
  return new Promise((resolve, reject) => {
    const p = spawn(command[0], [...command.slice(1), '--port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let said = '', done = false;
    p.on('error', e => { if (!done) { done = true; reject(new Error(`cannot start the network relay (${command.join(' ')}): ${e.message}`)); } });
    p.on('exit', code => { if (!done) { done = true; reject(new Error(`the network relay exited (status ${code}) before listening`)); } });
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', text => {
      process.stdout.write(text);   // its log: one line per client
      if (done) return;
      said += text;
      const m = /listening on ws:\/\/127\.0\.0\.1:(\d+)\/net/.exec(said);
      if (m) { done = true; resolve({ process: p, port: Number(m[1]) }); }
    });
  });
}

/**
 * A WebSocket request for /net: only from this site's own pages (Origin = this server; a page elsewhere must not
 * use this host's network) or from clients that send no Origin; passed on without its Origin, so the relay (which
 * lets loopback origins in) sees a local client.
 */
function proxyRelay(req, socket, head, relayPort, allowedHosts) {
  const refuse = (status, text) => { socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${text.length + 1}\r\nConnection: close\r\n\r\n${text}\n`); };
  socket.on('error', () => {});
  const hostHeader = String(req.headers.host || '').toLowerCase();
  if (new URL(req.url, 'http://x').pathname !== '/net') return refuse('404 Not Found', 'not found');
  if (allowedHosts && !allowedHosts.has(hostHeader.replace(/:\d+$/, ''))) return refuse('403 Forbidden', 'forbidden host');
  const origin = req.headers.origin;
  if (origin !== undefined && origin.toLowerCase() !== `http://${hostHeader}` && origin.toLowerCase() !== `https://${hostHeader}`)
    return refuse('403 Forbidden', `origin ${origin} not allowed`);
  const upstream = net.connect(relayPort, '127.0.0.1', () => {
    let text = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i];
      if (/^origin$/i.test(name)) continue;
      text += `${name}: ${/^host$/i.test(name) ? `127.0.0.1:${relayPort}` : req.rawHeaders[i + 1]}\r\n`;
    }
    upstream.write(text + '\r\n');
    if (head?.length) upstream.write(head);
    socket.pipe(upstream).pipe(socket);
  });
  upstream.on('error', () => socket.destroy());
  socket.on('close', () => upstream.destroy());
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  let port = 8080, host = '127.0.0.1', root = null, withNet = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') port = Number(args[++i]);
    else if (args[i].startsWith('--port=')) port = Number(args[i].slice(7));
    else if (args[i] === '--host') host = args[++i];
    else if (args[i].startsWith('--host=')) host = args[i].slice(7);
    else if (args[i] === '--net') withNet = true;
    else root = args[i];
  }
  if (!root || !host || !Number.isInteger(port) || port < 0 || port > 65535) {
    console.error('usage: node server.mjs SITE_DIR [--port N] [--host ADDRESS (default 127.0.0.1)] [--net]');
    process.exit(2);
  }
  // Ctrl-C or a kill: exit normally, so the 'exit' handler stops the relay too.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(signal, () => process.exit(0));
  const relay = withNet ? [path.join(path.dirname(fileURLToPath(import.meta.url)), '../../wemu'), 'relay'] : null;
  serveSite(root, port, host, { relay }).then(({ url, relayUrl }) => {
    console.log(`wemu: serving ${root} at ${url} (Ctrl-C stops)`);
    if (relayUrl) console.log(`wemu: network relay at ${relayUrl} (a NAT into this host's network): open ${url}?args=-nic%20websocket,url=${relayUrl}`);
    if (!LOOPBACK.has(host)) console.log(`wemu: listening on ${host}: other machines can reach this server`);
  }, e => {
    console.error(e.message.startsWith('cannot start') || e.message.startsWith('the network relay') ? `wemu: ${e.message}` : `wemu: cannot listen on ${host}:${port}: ${e.message}`);
    process.exit(1);
  });
}
