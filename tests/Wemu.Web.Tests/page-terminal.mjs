// What the page's terminal (xterm.js) shows, for the browser tests: its text, and waiting until it matches.
import assert from 'node:assert/strict';

export const terminalText = page => page.evaluate(() => document.querySelector('#terminal .xterm-rows')?.innerText ?? '');

/** Waits until the terminal matches `pattern` (or the machine failed); a failure shows the terminal and the page's log. */
export async function waitForTerminal(page, pattern, timeout, log) {
  try {
    await page.waitForFunction(
      ([source, flags]) => new RegExp(source, flags).test(document.querySelector('#terminal .xterm-rows')?.innerText ?? '')
        || window.wemu?.state === 'failed',
      [pattern.source, pattern.flags], { timeout, polling: 100 });
  } catch (e) {
    throw new Error(`terminal never showed ${pattern}: ${e.message}\n--- terminal ---\n${await terminalText(page)}\n--- console ---\n${log.join('\n')}`);
  }
  const state = await page.evaluate(() => ({ state: window.wemu.state, error: window.wemu.error }));
  assert.notEqual(state.state, 'failed', `machine failed: ${state.error}\n${log.join('\n')}`);
}

/** A new context and page on `url` (the site, with its query), collecting the page's console and errors in `log`. */
export async function openPage(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  const log = [];
  page.on('console', m => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', e => log.push(`pageerror: ${e.message}`));
  await page.goto(url);
  return { page, context, log };
}
