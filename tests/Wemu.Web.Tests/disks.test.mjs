// Browser tests of the page's disks (issue 14): a large disk read on demand by HTTP Range requests (only what the guest
// reads is fetched), the whole download where the server ignores ranges, and persistent disks (?persist=NAME): the
// guest's flushed writes survive a reload, Wemu.resetDisk drops them, a second machine cannot open the same disk, and a
// full storage quota is the guest's I/O error and a visible notice. Needs the site (src/Wemu.Web/build-site.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../../src/Wemu.Web/headless-chromium.mjs';
import { serveSite } from '../../src/Wemu.Web/server.mjs';
import { openPage, terminalText, waitForTerminal } from './page-terminal.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const site = process.env.WEMU_SITE || path.join(root, 'artifacts/site');
const token = crypto.randomBytes(6).toString('hex');
const BOOT_TIMEOUT = 180_000;
const PROMPT = /^\/ #[\s\u00a0]*$/m;
const MiB = 1 << 20;

// A 512 MiB image, sparse on the host: zeros but for a marker at 300 MiB (and one in the first sector).
const bigName = `test-big-${token}.img`, bigSize = 512 * MiB, bigMarkerAt = 300 * MiB;
// A small image for the whole-download fallback and the persistent disk.
const smallName = `test-small-${token}.img`, smallSize = 8 * MiB, smallMarkerAt = 5 * MiB;
const savedName = `test-disk-${token}.snap`;

let browser, server, base, plain, plainBase;

function writeImage(name, size, markers) {
  const file = path.join(site, name);
  const fd = fs.openSync(file, 'w');
  try {
    fs.ftruncateSync(fd, size);
    for (const [at, text] of markers) fs.writeSync(fd, Buffer.from(text), 0, text.length, at);
  } finally { fs.closeSync(fd); }
}

before(async () => {
  assert.ok(fs.existsSync(path.join(site, 'index.html')), `no site in ${site}: run src/Wemu.Web/build-site.sh`);
  writeImage(bigName, bigSize, [[0, `first-${token}`], [bigMarkerAt, `lazy-marker-${token}`]]);
  writeImage(smallName, smallSize, [[smallMarkerAt, `small-marker-${token}`]]);
  ({ server, url: base } = await serveSite(site, 0, '127.0.0.1'));
  ({ server: plain, url: plainBase } = await serveSite(site, 0, '127.0.0.1', { ranges: false }));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
  plain?.close();
  for (const name of [bigName, smallName, savedName]) fs.rmSync(path.join(site, name), { force: true });
});

const drive = name => `-drive file=${name},if=virtio,format=raw`;
const pageUrl = (origin, args, persist) => origin + '?args=' + encodeURIComponent(args) + (persist ? '&persist=' + persist : '');

async function type(page, command) {
  await page.evaluate(c => window.wemu.sendSerial(c + '\n'), command);
}

/** Reads `length` bytes at `offset` of /dev/vda in the guest, as text with NULs shown as '.'. */
async function readDisk(page, log, offset, length, tag) {
  await type(page, `echo ${tag}-BEGIN; dd if=/dev/vda bs=1 skip=${offset} count=${length} 2>/dev/null | tr '\\000' .; echo; echo ${tag}-$((40+2))`);
  await waitForTerminal(page, new RegExp(`${tag}-42`), 60_000, log);
  const text = await terminalText(page);
  const lines = text.slice(text.lastIndexOf(`${tag}-BEGIN`), text.lastIndexOf(`${tag}-42`)).split('\n');
  return lines[1].trim();
}

test('a large disk is read by Range requests (a read at 300 MiB fetches a few MiB of its 512); a snapshot carries its writes', { timeout: BOOT_TIMEOUT + 60_000 }, async () => {
  const { page, context, log } = await openPage(browser, pageUrl(base, drive(bigName)));
  try {
    await waitForTerminal(page, PROMPT, BOOT_TIMEOUT, log);
    assert.equal(await readDisk(page, log, bigMarkerAt, 30, 'LAZY'), `lazy-marker-${token}`.padEnd(30, '.'));
    assert.equal(await readDisk(page, log, 0, 20, 'FIRST'), `first-${token}`.padEnd(20, '.'));
    const stats = await page.evaluate(() => window.wemu.stats());
    const [disk] = stats.disks;
    assert.equal(disk.ranges, true, JSON.stringify(stats.disks));
    assert.equal(disk.size, bigSize);
    assert.ok(disk.fetchedBytes > 0 && disk.fetchedBytes < 8 * MiB, `fetched ${disk.fetchedBytes} bytes of a ${bigSize}-byte disk`);
    assert.equal(stats.ranges.bytes, disk.fetchedBytes, 'the worker counted other range bytes than the disk');
    assert.ok(disk.requests >= 2 && disk.requests < 200, `${disk.requests} requests`);
    // The page never waited for the disk: the progress bar did not list it.
    const items = await page.evaluate(() => window.wemu.progress?.items.map(i => i.url) ?? []);
    assert.ok(!items.some(u => u.endsWith(bigName)), `the progress bar listed the disk: ${items}`);

    // A write goes to the tab's overlay; a snapshot carries it, and a page resuming the snapshot reads it back.
    await type(page, `printf 'saved-${token}' | dd of=/dev/vda bs=1 seek=${bigMarkerAt + 100} conv=notrunc 2>/dev/null; sync; echo SYNCED-$((5+5))`);
    await waitForTerminal(page, /SYNCED-10/, 60_000, log);
    const b64 = await page.evaluate(async () => {
      const bytes = new Uint8Array(await (await window.wemu.save()).arrayBuffer());
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    });
    fs.writeFileSync(path.join(site, savedName), Buffer.from(b64, 'base64'));
    await page.goto(pageUrl(base, `${drive(bigName)} -incoming ${savedName}`));
    await page.waitForFunction(() => window.wemu?.state === 'running' || window.wemu?.state === 'failed', null, { timeout: 120_000 });
    assert.equal(await readDisk(page, log, bigMarkerAt + 96, 25, 'RESUMED'), `....saved-${token}`.padEnd(25, '.'));
    assert.doesNotMatch(await terminalText(page), /Linux version/, 'the page booted instead of resuming');
  } finally {
    await context.close();
  }
});

test('where the server ignores Range, the disk is downloaded whole and reads the same', { timeout: BOOT_TIMEOUT + 60_000 }, async () => {
  const { page, context, log } = await openPage(browser, pageUrl(plainBase, drive(smallName)));
  try {
    await waitForTerminal(page, PROMPT, BOOT_TIMEOUT, log);
    assert.equal(await readDisk(page, log, smallMarkerAt, 30, 'WHOLE'), `small-marker-${token}`.padEnd(30, '.'));
    const stats = await page.evaluate(() => window.wemu.stats());
    assert.equal(stats.disks[0].ranges, false);
    assert.equal(stats.disks[0].size, smallSize);
    assert.equal(stats.ranges.requests, 0);
  } finally {
    await context.close();
  }
});

test('a persistent disk keeps the guest\'s flushed writes across a reload; resetDisk drops them; one machine at a time', { timeout: 3 * BOOT_TIMEOUT + 120_000 }, async () => {
  const name = `p-${token}`;
  const url = pageUrl(base, drive(smallName), name);
  const marker = `kept-${token}`, at = smallMarkerAt + 4090;   // across a cluster boundary, after the base's own marker
  const { page, context, log } = await openPage(browser, url);
  try {
    await waitForTerminal(page, PROMPT, BOOT_TIMEOUT, log);
    assert.equal(await page.isVisible('#disks'), true);
    await type(page, `printf '${marker}' | dd of=/dev/vda bs=1 seek=${at} conv=notrunc,fsync 2>/dev/null; echo WROTE-$((1+1))`);
    await waitForTerminal(page, /WROTE-2/, 60_000, log);
    const kept = (await page.evaluate(() => window.wemu.stats())).disks[0];
    assert.equal(kept.persist, name);
    assert.equal(kept.keptBytes, 8192, `the flush put two clusters on record: ${JSON.stringify(kept)}`);
    // (the page refreshes its line every 2 s)
    await page.waitForFunction(n => (document.querySelector('#disks-text')?.textContent ?? '') === `disk '${n}': 8 KB kept in this browser`, name, { timeout: 10_000 })
      .catch(async () => assert.fail(`the page shows: ${await page.textContent('#disks-text')}`));
    await assert.rejects(page.evaluate(n => window.wemu.resetDisk(n), name), /in use by this machine/);

    // A second machine with the same disk (another tab of the site) is refused, visibly: the first holds its files.
    const other = await context.newPage();
    await other.goto(url);
    await other.waitForFunction(() => window.wemu?.state === 'failed' || window.wemu?.state === 'running', null, { timeout: 120_000 });
    assert.match(await other.evaluate(() => window.wemu.error), /persist '.*': the disk is in use by another machine/);
    assert.equal(await other.isVisible('#error'), true);
    await other.close();

    // Reload (the worker ends without a stop): the flushed writes are there, the base's bytes around them too.
    await page.reload();
    await waitForTerminal(page, PROMPT, BOOT_TIMEOUT, log);
    assert.equal(await readDisk(page, log, at - 4, marker.length + 8, 'AGAIN'), `....${marker}....`);
    assert.equal(await readDisk(page, log, smallMarkerAt, 25, 'BASE'), `small-marker-${token}`.padEnd(25, '.'));
    assert.equal((await page.evaluate(() => window.wemu.stats())).disks[0].keptBytes, 8192);

    // Stopped, the disk can be reset: the next boot reads the served image.
    assert.equal(await page.evaluate(async n => { await window.wemu.stop(); return window.wemu.resetDisk(n); }, name), true);
    assert.equal(await page.evaluate(n => window.Wemu.resetDisk(n), name), false, 'a second reset found writes');
    await page.reload();
    await waitForTerminal(page, PROMPT, BOOT_TIMEOUT, log);
    assert.equal(await readDisk(page, log, at - 4, marker.length + 8, 'RESET'), '.'.repeat(marker.length + 8));
    assert.equal((await page.evaluate(() => window.wemu.stats())).disks[0].keptBytes, 0);
  } finally {
    await context.close();
  }
});

test('a full storage quota is the guest\'s I/O error and a visible notice, and the machine goes on', { timeout: BOOT_TIMEOUT + 120_000 }, async () => {
  const name = `q-${token}`;
  const url = pageUrl(base, drive(smallName), name);
  const { page, context, log } = await openPage(browser, url);
  try {
    await waitForTerminal(page, PROMPT, BOOT_TIMEOUT, log);
    // The origin may keep 1 MiB more than it uses now; the guest then writes 6 MiB.
    const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(base).origin, quotaSize: usage + MiB });
    await type(page, `dd if=/dev/urandom of=/dev/vda bs=65536 count=96 conv=fsync; echo DD-STATUS-$?`);
    await waitForTerminal(page, /DD-STATUS-\d+/, 120_000, log);
    const text = await terminalText(page);
    assert.match(text, /DD-STATUS-[1-9]/, 'dd succeeded past the quota');
    assert.match(text, /I\/O error/);
    await page.waitForSelector('#notice:not([hidden])', { timeout: 10_000 });
    assert.match(await page.textContent('#notice-text'), /storage for this site is full/);
    const notices = await page.evaluate(() => window.wemu.notices);
    assert.ok(notices.some(n => /full/.test(n)), JSON.stringify(notices));
    // The machine goes on.
    await type(page, 'echo ALIVE-$((3*3))');
    await waitForTerminal(page, /ALIVE-9/, 30_000, log);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(base).origin });
    await page.evaluate(async n => { await window.wemu.stop(); await window.Wemu.resetDisk(n); }, name);
  } finally {
    await context.close();
  }
});
