// The static server (src/Wemu.Web/server.mjs, what `./wemu serve` runs) against hostile requests and
// hostile files in its root: security review F13 and test case 25. No site build needed.
// The server runs in a child process, so a crash shows as a refused next request rather than taking
// the test runner down; as root the child drops to nobody, so a mode-000 file is really unreadable.
// usage: node --test tests/Wemu.Web.Tests/server.test.mjs
//        (WEMU_SERVER_MJS=path/to/server.mjs runs the same tests against another copy of the server)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const serverPath = process.env.WEMU_SERVER_MJS || path.join(repo, 'src/Wemu.Web/server.mjs');
const { serveSite } = await import(serverPath);
const SECRET = 'wemu-secret-outside-the-root';
const REQUEST_TIMEOUT = 5000;
const asRoot = process.getuid?.() === 0;

let tmp, site;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wemu-server-test-'));
  fs.chmodSync(tmp, 0o755);
  site = path.join(tmp, 'site');
  fs.mkdirSync(path.join(site, 'sub'), { recursive: true });
  fs.mkdirSync(path.join(site, 'volatile'));
  fs.chmodSync(path.join(site, 'volatile'), 0o777);   // the server (nobody, as root) removes files here
  fs.writeFileSync(path.join(tmp, 'secret.txt'), SECRET + '\n');
  fs.writeFileSync(path.join(site, 'index.html'), '<!doctype html><title>site</title>\n');
  fs.writeFileSync(path.join(site, 'app.js'), 'console.log("app");\n'.repeat(50));
  fs.writeFileSync(path.join(site, 'sub', 'index.html'), 'sub\n');
  fs.writeFileSync(path.join(site, 'big.bin'), Buffer.alloc(16 << 20, 0x5a));
  for (const name of ['locked.js', 'locked.bin']) {
    fs.writeFileSync(path.join(site, name), 'unreadable\n');
    fs.chmodSync(path.join(site, name), 0o000);
  }
  execFileSync('mkfifo', [path.join(site, 'pipe.js')]);
  execFileSync('mkfifo', [path.join(site, 'pipe.bin')]);
  fs.symlinkSync('/etc/passwd', path.join(site, 'leak'));
  fs.symlinkSync(path.join(tmp, 'secret.txt'), path.join(site, 'leak.txt'));
  fs.symlinkSync(tmp, path.join(site, 'leak-dir'));
  fs.symlinkSync('index.html', path.join(site, 'alias.html'));   // inside the root: harmless
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * Runs server.mjs as `./wemu serve` does, in a child (as nobody when we are root); resolves with
 * {child, base, line} once it prints where it listens. `preload` is a module run first (fs patches).
 */
async function startServer(preload) {
  const args = [];
  if (preload) args.push('--import', 'data:text/javascript,' + encodeURIComponent(preload));
  args.push(serverPath, site, '--port', '0');
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
  });
  let out = '', err = '';
  child.stderr.on('data', d => { err += d; });
  const line = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}${err}`)), 10_000);
    child.stdout.on('data', d => {
      out += d;
      const m = /^wemu: serving .* at (http:\/\/\S+\/) /m.exec(out);
      if (m) { clearTimeout(timer); resolve(m[0]); }
    });
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${out}${err}`)); });
  });
  const base = /at (http:\/\/\S+\/)/.exec(line)[1];
  return { child, base, line, stderr: () => err };
}

function stop(server) {
  if (server.child.exitCode === null) server.child.kill();
}

/** One request with the path sent exactly as written (no client-side normalization). */
function request(base, rawPath, headers = {}, method = 'GET') {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: rawPath, method, headers, agent: false }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(REQUEST_TIMEOUT, () => req.destroy(new Error(`no answer to ${rawPath} within ${REQUEST_TIMEOUT} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** The server still answers a plain request after whatever came before. */
async function assertAlive(server, what) {
  let r;
  try {
    r = await request(server.base, '/index.html');
  } catch (e) {
    assert.fail(`the server stopped answering after ${what}: ${e.message}\n${server.stderr()}`);
  }
  assert.equal(r.status, 200, `after ${what}`);
  assert.match(r.body.toString(), /<title>site<\/title>/);
}

const leaked = body => body.includes(SECRET) || /root:.*:0:0:/.test(body);

test('binds 127.0.0.1 by default and says where it listens', async () => {
  const server = await startServer();
  try {
    assert.match(server.line, /^wemu: serving .* at http:\/\/127\.0\.0\.1:\d+\/ /);
  } finally { stop(server); }
  const { server: s, url } = await serveSite(site, 0);
  try {
    assert.equal(s.address().address, '127.0.0.1');
    assert.equal(url, `http://127.0.0.1:${s.address().port}/`);
  } finally { s.close(); }
});

test('traversal requests are refused and never carry file contents (case 25)', async () => {
  const server = await startServer();
  try {
    for (const p of ['/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd', '//etc/passwd', '/%00', '/a%2f..%2f..%2fx',
      '/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/sub/..%2f..%2fsecret.txt', '/%2e%2e%5csecret.txt',
      '/index.html%00.js', '/%ff', '/sub/../../secret.txt']) {
      const r = await request(server.base, p);
      assert.ok([400, 403, 404].includes(r.status), `${p}: status ${r.status}`);
      assert.ok(!leaked(r.body.toString('latin1')), `${p} leaked a file: ${r.body}`);
    }
    await assertAlive(server, 'traversal requests');
  } finally { stop(server); }
});

test('symlinks that leave the root are refused (case 25)', async () => {
  const server = await startServer();
  try {
    for (const p of ['/leak', '/leak.txt', '/leak-dir/secret.txt', '/leak-dir/', '/leak-dir/../secret.txt']) {
      const r = await request(server.base, p);
      assert.ok([403, 404].includes(r.status), `${p}: status ${r.status}`);
      assert.ok(!leaked(r.body.toString('latin1')), `${p} leaked a file`);
    }
    const inside = await request(server.base, '/alias.html');
    assert.equal(inside.status, 200, 'a link to a file inside the root is served');
  } finally { stop(server); }
});

test('an unreadable file (mode 000) gives an error, and the server goes on (case 25)', async () => {
  const server = await startServer();
  try {
    for (const [p, headers] of [['/locked.js', { 'accept-encoding': 'gzip' }], ['/locked.js', { 'accept-encoding': 'br' }],
      ['/locked.js', {}], ['/locked.bin', {}], ['/locked.bin', { range: 'bytes=0-10' }]]) {
      let r;
      try {
        r = await request(server.base, p, headers);
      } catch (e) {
        assert.fail(`${p} ${JSON.stringify(headers)}: ${e.message}\n${server.stderr()}`);
      }
      assert.ok([403, 500].includes(r.status), `${p} ${JSON.stringify(headers)}: status ${r.status}`);
      await assertAlive(server, `${p} ${JSON.stringify(headers)}`);
    }
  } finally { stop(server); }
});

test('a FIFO in the root is refused without blocking the server', async () => {
  const server = await startServer();
  try {
    for (const [p, headers] of [['/pipe.js', { 'accept-encoding': 'gzip' }], ['/pipe.bin', {}], ['/pipe.bin', { range: 'bytes=0-10' }]]) {
      let r;
      try {
        r = await request(server.base, p, headers);
      } catch (e) {
        assert.fail(`${p} ${JSON.stringify(headers)}: ${e.message}`);
      }
      assert.equal(r.status, 403, `${p} ${JSON.stringify(headers)}`);
    }
    await assertAlive(server, 'FIFO requests');
  } finally { stop(server); }
});

// Files that vanish between the server's look at them and its read: the child's fs removes any
// file named vanish* right after the first stat or lstat of it (deterministic, no race to win).
const VANISH = `
import fs from 'node:fs';
import path from 'node:path';
for (const name of ['statSync', 'lstatSync']) {
  const original = fs[name];
  fs[name] = function (p, ...rest) {
    const result = original.call(this, p, ...rest);
    if (typeof p === 'string' && path.basename(p).startsWith('vanish')) { try { fs.unlinkSync(p); } catch {} }
    return result;
  };
}
`;

test('a file removed between stat and read gives an error, and the server goes on (case 25)', async () => {
  const server = await startServer(VANISH);
  try {
    for (const [name, headers] of [['vanish-range.bin', { range: 'bytes=0-10' }], ['vanish.bin', {}], ['vanish.js', { 'accept-encoding': 'gzip' }]]) {
      fs.writeFileSync(path.join(site, 'volatile', name), 'x'.repeat(100));
      let r;
      try {
        r = await request(server.base, '/volatile/' + name, headers);
      } catch (e) {
        assert.fail(`${name} ${JSON.stringify(headers)}: ${e.message}\n${server.stderr()}`);
      }
      assert.ok([404, 500].includes(r.status), `${name}: status ${r.status}`);
      assert.ok(!fs.existsSync(path.join(site, 'volatile', name)), 'the fs patch did not remove the file');
      await assertAlive(server, `${name} ${JSON.stringify(headers)}`);
    }
  } finally { stop(server); }
});

const openFds = pid => fs.readdirSync(`/proc/${pid}/fd`).length;

test('aborted range requests neither crash the server nor leak descriptors', { skip: !fs.existsSync('/proc/self/fd') }, async () => {
  const server = await startServer();
  try {
    await assertAlive(server, 'start');
    const baseline = openFds(server.child.pid);
    const u = new URL(server.base);
    for (let i = 0; i < 20; i++) {
      // Ask for most of a 16 MiB file, read the first bytes of the answer, then hang up.
      await new Promise((resolve, reject) => {
        const socket = net.connect(Number(u.port), u.hostname, () => {
          socket.write(`GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1:${u.port}\r\nRange: bytes=${i}-\r\nConnection: close\r\n\r\n`);
        });
        socket.once('data', () => { socket.destroy(); resolve(); });
        socket.on('error', reject);
        socket.setTimeout(REQUEST_TIMEOUT, () => reject(new Error('no answer to a range request')));
      });
    }
    await assertAlive(server, '20 aborted range requests');
    let now = openFds(server.child.pid);
    for (let t = 0; t < 50 && now > baseline + 1; t++) {
      await new Promise(r => setTimeout(r, 100));
      now = openFds(server.child.pid);
    }
    assert.ok(now <= baseline + 1, `descriptors: ${baseline} before, ${now} after 20 aborted range requests`);
  } finally { stop(server); }
});

test('a request naming another host is refused (DNS rebinding)', async () => {
  const server = await startServer();
  try {
    const port = new URL(server.base).port;
    assert.equal((await request(server.base, '/index.html', { host: `evil.example:${port}` })).status, 403);
    assert.equal((await request(server.base, '/index.html', { host: `localhost:${port}` })).status, 200);
    assert.equal((await request(server.base, '/index.html', { host: `127.0.0.1:${port}` })).status, 200);
  } finally { stop(server); }
});

test('ordinary requests still work: index, compression, ranges, HEAD, 304', async () => {
  const server = await startServer();
  try {
    const index = await request(server.base, '/');
    assert.equal(index.status, 200);
    assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal((await request(server.base, '/sub/')).body.toString(), 'sub\n');
    const gz = await request(server.base, '/app.js', { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    const { gunzipSync } = await import('node:zlib');
    assert.equal(gunzipSync(gz.body).toString(), 'console.log("app");\n'.repeat(50));
    const part = await request(server.base, '/big.bin', { range: 'bytes=10-19' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 10-19/${16 << 20}`);
    assert.deepEqual(part.body, Buffer.alloc(10, 0x5a));
    assert.equal((await request(server.base, '/big.bin', { range: `bytes=${16 << 20}-` })).status, 416);
    const head = await request(server.base, '/big.bin', {}, 'HEAD');
    assert.equal(head.headers['content-length'], String(16 << 20));
    assert.equal(head.body.length, 0);
    const again = await request(server.base, '/index.html', { 'if-modified-since': index.headers['last-modified'] });
    assert.equal(again.status, 304);
    assert.equal((await request(server.base, '/missing.js')).status, 404);
    assert.equal((await request(server.base, '/index.html', {}, 'POST')).status, 405);
  } finally { stop(server); }
});
