// A small static server for the Wemu site (no dependencies): `./wemu serve [--port N]` runs it.
// Binds 127.0.0.1 only. Sends the right MIME types (application/wasm for streaming compilation),
// compresses (precompressed .br/.gz siblings when the build made them, else Brotli or gzip on the
// fly, cached), and the COOP/COEP headers a multithreaded runtime will need (SharedArrayBuffer).
// Guest images are sent uncompressed with Content-Length and byte ranges, so download progress
// is exact and a disk could later be read by ranges.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.map': 'application/json',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.txt': 'text/plain; charset=utf-8',
  '.dat': 'application/octet-stream', '.pdb': 'application/octet-stream', '.LICENSE': 'text/plain; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.wasm', '.map', '.svg', '.txt', '.dat', '.pdb']);

export function createSiteServer(root) {
  root = path.resolve(root);
  const cache = new Map();   // path|encoding -> {mtimeMs, body}

  function compressed(file, stat, encoding) {
    const key = file + '|' + encoding;
    const hit = cache.get(key);
    if (hit && hit.mtimeMs === stat.mtimeMs) return hit.body;
    const raw = fs.readFileSync(file);
    const body = encoding === 'br'
      ? zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } })
      : zlib.gzipSync(raw, { level: 6 });
    cache.set(key, { mtimeMs: stat.mtimeMs, body });
    return body;
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
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed');
    let rel;
    try {
      rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      return reply(400, 'bad request');
    }
    let file = path.join(root, path.normalize(rel));
    if (file !== root && !file.startsWith(root + path.sep)) return reply(403, 'forbidden');
    let stat;
    try {
      stat = fs.statSync(file);
      if (stat.isDirectory()) { file = path.join(file, 'index.html'); stat = fs.statSync(file); }
    } catch {
      return reply(404, 'not found: ' + rel);
    }
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
        let body;
        try {
          const pre = fs.statSync(file + suffix);
          body = pre.mtimeMs >= stat.mtimeMs ? fs.readFileSync(file + suffix) : null;
        } catch { body = null; }
        body ??= compressed(file, stat, encoding);
        res.writeHead(200, { ...headers, 'Content-Encoding': encoding, 'Content-Length': body.length });
        return res.end(req.method === 'HEAD' ? undefined : body);
      }
    }

    headers['Accept-Ranges'] = 'bytes';
    const range = /^bytes=(\d*)-(\d*)$/.exec(String(req.headers.range || ''));
    if (range && (range[1] || range[2])) {
      let start = range[1] ? Number(range[1]) : Math.max(0, stat.size - Number(range[2]));
      let end = range[1] && range[2] ? Math.min(Number(range[2]), stat.size - 1) : stat.size - 1;
      if (start > end || start >= stat.size) {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${stat.size}` });
        return res.end();
      }
      res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${stat.size}`, 'Content-Length': end - start + 1 });
      if (req.method === 'HEAD') return res.end();
      return fs.createReadStream(file, { start, end }).pipe(res);
    }
    res.writeHead(200, { ...headers, 'Content-Length': stat.size });
    if (req.method === 'HEAD') return res.end();
    fs.createReadStream(file).on('error', () => res.destroy()).pipe(res);
  });
}

/** Starts serving `root` on 127.0.0.1:`port` (0 = any free port); resolves with {server, url}. */
export function serveSite(root, port = 8080) {
  const server = createSiteServer(root);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}/` }));
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  let port = 8080, root = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') port = Number(args[++i]);
    else if (args[i].startsWith('--port=')) port = Number(args[i].slice(7));
    else root = args[i];
  }
  if (!root || !Number.isInteger(port) || port < 0 || port > 65535) {
    console.error('usage: node server.mjs SITE_DIR [--port N]');
    process.exit(2);
  }
  serveSite(root, port).then(({ url }) => {
    console.log(`wemu: serving ${root} at ${url} (Ctrl-C stops)`);
  }, e => {
    console.error(`wemu: cannot listen on 127.0.0.1:${port}: ${e.message}`);
    process.exit(1);
  });
}
