// Browser test of the network relay (issue 13, "In the page"): the site served with the relay at /net, as
// `./wemu serve --net` does; the page boots with ?args=-nic websocket,url=ws://.../net, the guest gets its
// address by DHCP at boot from the relay's NAT and downloads a file from an HTTP server on the host's
// loopback (10.0.2.2), whose SHA-256 the test checks; vm.fetch reads a page from BusyBox httpd in the guest.
// An unreachable relay is a visible error.
// Needs the site (src/Wemu.Web/build-site.sh) and runs ./wemu relay (built by the launcher if stale).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../../src/Wemu.Web/headless-chromium.mjs';
import { serveSite } from '../../src/Wemu.Web/server.mjs';
import { openPage, terminalText, waitForTerminal } from './page-terminal.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const site = process.env.WEMU_SITE || path.join(root, 'artifacts/site');
const results = path.join(root, 'artifacts/test-results');
const BOOT_TIMEOUT = 180_000;
const PROMPT = /^\/ #[\s\u00a0]*$/m;

let browser, server, base, relayUrl, files;
const download = crypto.randomBytes(1 << 20);

before(async () => {
  assert.ok(fs.existsSync(path.join(site, 'index.html')), `no site in ${site}: run src/Wemu.Web/build-site.sh`);
  fs.mkdirSync(results, { recursive: true });
  ({ server, url: base, relayUrl } = await serveSite(site, 0, '127.0.0.1', { relay: [path.join(root, 'wemu'), 'relay'] }));
  // The host's own loopback server, which only the relay's NAT can reach for the guest (as 10.0.2.2).
  files = http.createServer((req, res) => {
    if (req.url !== '/file.bin') { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': download.length });
    res.end(download);
  });
  await new Promise(resolve => files.listen(0, '127.0.0.1', resolve));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
  files?.close();
});

const openWithArgs = args => openPage(browser, base + '?args=' + encodeURIComponent(args));


test('with -nic websocket the guest reaches a loopback HTTP server on the host through the relay at /net, and vm.fetch reaches the guest', { timeout: BOOT_TIMEOUT + 120_000 }, async () => {
  assert.match(relayUrl, /^ws:\/\/127\.0\.0\.1:\d+\/net$/);
  const { page, context, log } = await openWithArgs(`-nic websocket,url=${relayUrl}`);
  try {
    await waitForTerminal(page, PROMPT, BOOT_TIMEOUT, log);
    const sha = crypto.createHash('sha256').update(download).digest('hex');
    const port = files.address().port;
    // The lease came at boot (rcS runs udhcpc in the background; its hook writes resolv.conf last).
    await page.evaluate(cmd => window.wemu.sendSerial(cmd),
      'n=0; until [ -s /etc/resolv.conf ] || [ $n -ge 600 ]; do sleep 0.1; n=$((n+1)); done; ifconfig eth0 | grep -o "inet addr:[0-9.]*"\n');
    await waitForTerminal(page, /^inet addr:10\.0\.2\.15/m, 90_000, log);
    await page.evaluate(cmd => window.wemu.sendSerial(cmd), `wget -q -O /tmp/f http://10.0.2.2:${port}/file.bin && sha256sum /tmp/f\n`);
    await waitForTerminal(page, new RegExp(`^${sha}  /tmp/f`, 'm'), 120_000, log);
    // vm.fetch works with the relay too: the page's own small stack opens the connection into the guest.
    const token = crypto.randomBytes(8).toString('hex');
    await page.evaluate(cmd => window.wemu.sendSerial(cmd),
      `mkdir -p /tmp/www && echo "relay ${token}" > /tmp/www/index.html && httpd -p 8080 -h /tmp/www && echo HTTPD-$((1+1))\n`);
    await waitForTerminal(page, /^HTTPD-2/m, 60_000, log);
    const answer = await page.evaluate(async () => {
      const r = await window.wemu.fetch('http://localhost:8080/index.html');
      return { status: r.status, text: await r.text() };
    });
    assert.deepEqual(answer, { status: 200, text: `relay ${token}\n` });
    // The guest's own network still goes through the relay afterwards.
    await page.evaluate(cmd => window.wemu.sendSerial(cmd), `wget -q -O /tmp/g http://10.0.2.2:${port}/file.bin && sha256sum /tmp/g\n`);
    await waitForTerminal(page, new RegExp(`^${sha}  /tmp/g`, 'm'), 120_000, log);
    await page.screenshot({ path: path.join(results, 'browser-relay.png') });
  } finally {
    await context.close();
  }
});

test('an unreachable relay ends in a visible error', { timeout: 90_000 }, async () => {
  const dead = http.createServer();
  await new Promise(resolve => dead.listen(0, '127.0.0.1', resolve));
  const port = dead.address().port;
  await new Promise(resolve => dead.close(resolve));   // nothing listens there now
  const { page, context, log } = await openWithArgs(`-nic websocket,url=ws://127.0.0.1:${port}/net`);
  try {
    try {
      await page.waitForFunction(() => window.wemu?.state === 'failed', null, { timeout: 60_000 });
    } catch (e) {
      throw new Error(`state never became failed (${await page.evaluate(() => window.wemu?.state)})\n${log.join('\n')}`);
    }
    await page.waitForSelector('#error', { state: 'visible', timeout: 5_000 });
    assert.match(await page.textContent('#error-text'), new RegExp(`cannot reach the network relay ws://127\\.0\\.0\\.1:${port}/net`));
  } finally {
    await context.close();
  }
});

/** A WebSocket handshake for `/net` on the site server with these extra headers; resolves with the status code. */
function upgradeStatus(headers) {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/net', headers: {
      Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers } });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve(res.statusCode); });
    req.on('response', res => { res.resume(); resolve(res.statusCode); });
    req.on('error', reject);
    req.end();
  });
}

test('the site passes /net to the relay only for its own pages and local clients', { timeout: 30_000 }, async () => {
  const { host } = new URL(base);
  assert.equal(await upgradeStatus({ Origin: `http://${host}` }), 101);
  assert.equal(await upgradeStatus({}), 101);                                    // a native client: no Origin
  assert.equal(await upgradeStatus({ Origin: 'http://evil.example' }), 403);     // another site's page
  assert.equal(await upgradeStatus({ Host: 'evil.example', Origin: 'http://evil.example' }), 403);   // DNS rebinding
});
