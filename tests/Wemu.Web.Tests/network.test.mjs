// Browser tests of -nic user in the page (issue 13, "In-browser stack over fetch" and "Inbound ports from the
// page"): the guest's HTTP through the worker's fetch() to the page's own origin (10.0.2.2:PORT), a failed fetch
// answered as 502 and explained in the page's log, vm.fetch into BusyBox httpd in the guest, and the service
// worker's /wemu/port/PORT/ path in an <iframe>. Debian's chromium through playwright-core, the site from
// artifacts/site (src/Wemu.Web/build-site.sh) on the server `./wemu serve` runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../../src/Wemu.Web/headless-chromium.mjs';
import { serveSite } from '../../src/Wemu.Web/server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const site = process.env.WEMU_SITE || path.join(root, 'artifacts/site');
const results = path.join(root, 'artifacts/test-results');
const BOOT_TIMEOUT = 180_000;

// udhcpc's hook, as docs/NETWORKING.md gives it (the images may not bring eth0 up at boot).
const DHCP = `printf '#!/bin/sh\\ncase "$1" in deconfig) ifconfig $interface 0.0.0.0 up;; bound|renew) ifconfig $interface $ip netmask $subnet up; route add default gw $router; echo nameserver $dns > /etc/resolv.conf;; esac\\n' > /tmp/dhcp.sh; chmod +x /tmp/dhcp.sh; udhcpc -i eth0 -s /tmp/dhcp.sh -q -t 5; echo DHCP-$((1+1))\n`;

let browser, server, base, blobName, blob;

before(async () => {
  assert.ok(fs.existsSync(path.join(site, 'index.html')), `no site in ${site}: run src/Wemu.Web/build-site.sh`);
  fs.mkdirSync(results, { recursive: true });
  // A file of random bytes on the page's own origin, for the guest to download.
  blob = crypto.randomBytes(700_000 + crypto.randomInt(100_000));
  blobName = `net-test-${process.pid}.bin`;
  fs.writeFileSync(path.join(site, blobName), blob);
  ({ server, url: base } = await serveSite(site, 0));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
  if (blobName) fs.rmSync(path.join(site, blobName), { force: true });
});

/** The default page with ?args=-nic user (and ?arch=), its serial output collected in window.__out, booted to a prompt. */
async function bootWithNic(arch = '') {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  const log = [];
  page.on('console', m => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', e => log.push(`pageerror: ${e.message}`));
  await page.goto(base + (arch ? `?arch=${arch}&` : '?') + 'args=' + encodeURIComponent('-nic user'));
  await page.waitForFunction(() => window.wemu, null, { timeout: 60_000 });
  await page.evaluate(() => { window.__out = ''; window.wemu.onSerial(t => { window.__out += t; }); });
  await waitFor(page, /\/ # $/, BOOT_TIMEOUT, log);
  return { page, context, log };
}

/** Waits until the serial output since the last `mark` matches. */
async function waitFor(page, pattern, timeout, log) {
  try {
    await page.waitForFunction(([s, f]) => new RegExp(s, f).test(window.__out) || window.wemu?.state === 'failed',
      [pattern.source, pattern.flags], { timeout, polling: 100 });
  } catch (e) {
    throw new Error(`the guest never printed ${pattern}: ${e.message}\n--- serial ---\n${(await page.evaluate(() => window.__out)).slice(-3000)}\n--- console ---\n${log.join('\n')}`);
  }
  const state = await page.evaluate(() => ({ state: window.wemu.state, error: window.wemu.error }));
  assert.notEqual(state.state, 'failed', `machine failed: ${state.error}`);
}

/** Types a command and waits for its output and the next prompt; returns what it printed. */
/** The guest takes its lease, then wgets the page's blob through 10.0.2.2 and its copy must match; returns the page's port and the blob's SHA-256. */
async function leaseAndWgetThePagesFile(page, log) {
  await run(page, DHCP, /^DHCP-2/m, log);
  const port = new URL(base).port;
  const sha = crypto.createHash('sha256').update(blob).digest('hex');
  const out = await run(page, `wget -q -O /tmp/blob http://10.0.2.2:${port}/${blobName}; sha256sum /tmp/blob; echo WGET-$((1+1))\n`, /^WGET-2/m, log);
  assert.match(out, new RegExp(`^${sha}  /tmp/blob`, 'm'), `the guest's copy differs from the page's file:\n${out}`);
  return { port, sha };
}

async function run(page, command, pattern, log, timeout = 120_000) {
  await page.evaluate(() => { window.__out = ''; });
  await page.evaluate(c => window.wemu.sendSerial(c), command);
  await waitFor(page, pattern, timeout, log);
  return page.evaluate(() => window.__out);
}

test('-nic user in the page: the guest wgets a file of the page\'s origin through 10.0.2.2 over HTTP and HTTPS, and a fetch the browser refuses is a 502 the log explains', { timeout: BOOT_TIMEOUT + 240_000 }, async () => {
  const { page, context, log } = await bootWithNic();
  try {
    const { port, sha } = await leaseAndWgetThePagesFile(page, log);

    // HTTPS: the guest's TLS ends in the page (a CA made for it, its certificate on the share), the request
    // goes on to the page's origin. BusyBox wget does not check certificates; the CA is there for clients that do.
    const tls = await run(page, `head -1 /mnt/host/wemu-ca.crt; wget -q -O /tmp/blob2 https://10.0.2.2:${port}/${blobName}; sha256sum /tmp/blob2; echo TLS-$((1+1))\n`, /^TLS-2/m, log);
    assert.match(tls, /^-----BEGIN CERTIFICATE-----/m, tls);
    assert.match(tls, new RegExp(`^${sha}  /tmp/blob2`, 'm'), `the copy over HTTPS differs from the page's file:\n${tls}`);
    assert.ok(log.some(l => /the page's CA was made in \d+ ms/.test(l)), log.join('\n'));
    // (the TLS library is an assembly the worker loads only for -nic user: WebMachine.Configure's lazyAssemblies)
    const fetched = await page.workers()[0].evaluate(() => performance.getEntriesByType('resource').map(e => e.name));
    assert.ok(fetched.some(n => /\/BouncyCastle\.Cryptography\.[^/]*wasm$/.test(n)), `the worker did not load BouncyCastle: ${fetched.join(' ')}`);

    // DNS from the stack: any name gets a made-up address (198.18.0.0/15) that the stack maps back to it.
    const names = await run(page, `nslookup -type=a wemu-test.example 10.0.2.3; echo NS-$((1+1))\n`, /^NS-2/m, log);
    assert.match(names, /198\.1[89]\.\d+\.\d+/, names);

    // Another origin without CORS (here: nobody there at all): a 502 with the reason, and a line in the page's log.
    const bad = await run(page, `wget -O - http://wemu-test.invalid:${port}/x 2>&1; echo BAD-$((1+1))\n`, /^BAD-2/m, log);
    assert.match(bad, /502 Bad Gateway/, bad);
    assert.ok(log.some(l => /wemu-test\.invalid/.test(l) && /502/.test(l)), `the page's log does not say why:\n${log.join('\n')}`);

    // A 404 from the page's origin comes through as it is.
    const missing = await run(page, `wget -O - http://10.0.2.2:${port}/no-such-file 2>&1; echo NF-$((1+1))\n`, /^NF-2/m, log);
    assert.match(missing, /404/, missing);
    await page.screenshot({ path: path.join(results, 'browser-net-wget.png') });
  } finally {
    await context.close();
  }
});

test('vm.fetch reads a page from BusyBox httpd in the guest, and the service worker shows it in an <iframe> at wemu/port/8080/', { timeout: BOOT_TIMEOUT + 240_000 }, async () => {
  const { page, context, log } = await bootWithNic();
  try {
    await run(page, DHCP, /^DHCP-2/m, log);
    const token = crypto.randomBytes(8).toString('hex');
    await run(page, `mkdir -p /tmp/www && echo "<h1 id=g>guest ${token}</h1>" > /tmp/www/index.html && httpd -p 8080 -h /tmp/www; echo HTTPD-$((1+1))\n`, /^HTTPD-2/m, log);
    // A page that tries to read the embedding page's cookie, with a stylesheet of its own.
    await run(page, `echo '<link rel=stylesheet href=s.css><h1 id=c>styled</h1><p id=k></p><script>try { document.getElementById("k").textContent = "cookie:" + document.cookie } catch (e) { document.getElementById("k").textContent = "no cookie" }</script>' > /tmp/www/probe.html; echo 'h1 { color: rgb(1, 2, 3) }' > /tmp/www/s.css; echo PROBE-$((1+1))\n`, /^PROBE-2/m, log);

    const answer = await page.evaluate(async () => {
      const r = await window.wemu.fetch('http://localhost:8080/index.html');
      return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
    });
    assert.equal(answer.status, 200);
    assert.match(answer.type, /text\/html/);
    assert.equal(answer.text, `<h1 id=g>guest ${token}</h1>\n`);

    const missing = await page.evaluate(async () => (await window.wemu.fetch('http://localhost:8080/nothing-here')).status);
    assert.equal(missing, 404);
    const refused = await page.evaluate(() => window.wemu.fetch('http://localhost:9/').then(() => 'answered', e => e.message));
    assert.match(refused, /refused/);

    // The service worker: /wemu/port/8080/ on the page's origin is the guest's port 8080.
    const prefix = await page.evaluate(() => window.wemu.exposePorts());
    assert.equal(prefix, new URL('wemu/port/', base).href);
    await page.evaluate(() => new Promise((resolve, reject) => {
      const f = document.createElement('iframe');
      f.id = 'guest-frame';
      f.src = 'wemu/port/8080/';
      f.style.cssText = 'position:fixed;right:0;bottom:0;width:400px;height:120px;background:#fff';
      f.onload = resolve;
      f.onerror = reject;
      document.body.append(f);
    }));
    const frame = page.frameLocator('#guest-frame');
    await frame.locator('#g').waitFor({ timeout: 60_000 });
    assert.equal(await frame.locator('#g').textContent(), `guest ${token}`);
    await page.screenshot({ path: path.join(results, 'browser-net-iframe.png') });

    // Sandboxed by default: a guest page cannot read the embedding page's cookies (it has an opaque origin).
    await page.evaluate(() => { document.cookie = 'wemu-secret=42'; });
    const probe = async (src) => {
      await page.evaluate(s => new Promise(resolve => {
        document.getElementById('probe')?.remove();
        const f = document.createElement('iframe');
        f.id = 'probe';
        f.src = s;
        f.onload = resolve;
        document.body.append(f);
      }), src);
      const p = page.frameLocator('#probe');
      await p.locator('#k').waitFor({ state: 'attached', timeout: 60_000 });
      await page.waitForTimeout(500);   // the stylesheet, if it loads
      return { k: await p.locator('#k').textContent(), color: await p.locator('#c').evaluate(e => getComputedStyle(e).color) };
    };
    const sandboxed = await probe('wemu/port/8080/probe.html');
    assert.doesNotMatch(sandboxed.k, /wemu-secret/, 'a sandboxed guest page read the page\'s cookie');
    // Trusted ({sandbox: false}): the page's own origin, with its subresources.
    await page.evaluate(() => window.wemu.exposePorts({ sandbox: false }));
    const trusted = await probe('wemu/port/8080/probe.html?trusted');
    assert.match(trusted.k, /wemu-secret=42/);
    assert.equal(trusted.color, 'rgb(1, 2, 3)');
  } catch (e) {
    e.message += '\n--- console ---\n' + log.join('\n');
    throw e;
  } finally {
    await context.close();
  }
});

test('-nic user in the page on the x86_64 guest: wget of the page\'s origin through 10.0.2.2 with its checksum', { timeout: BOOT_TIMEOUT + 180_000 }, async () => {
  const { page, context, log } = await bootWithNic('x86_64');
  try {
    const { port, sha } = await leaseAndWgetThePagesFile(page, log);
  } finally {
    await context.close();
  }
});
