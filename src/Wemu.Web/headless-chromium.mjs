// The headless Chromium the browser tests and the bench/browser-* scripts drive (Debian's chromium
// through playwright-core; CHROMIUM names another binary, CHROMIUM_FLAGS adds switches, e.g.
// CHROMIUM_FLAGS=--js-flags=--no-liftoff), launched the same way everywhere.
import { chromium } from 'playwright-core';

const options = () => ({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run',
    '--disable-component-update', '--disable-sync', ...(process.env.CHROMIUM_FLAGS || '').split(' ').filter(Boolean)],
});

export function launchChromium() {
  return chromium.launch(options());
}

/** A browser context kept in userDataDir (its HTTP and code caches last from one launch to the next, as a returning visitor's). */
export function launchPersistentChromium(userDataDir) {
  return chromium.launchPersistentContext(userDataDir, options());
}
