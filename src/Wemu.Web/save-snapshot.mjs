// Boots the bundled guest with the native CLI (./wemu), optionally runs a shell command at its prompt, and saves
// the machine from QEMU's monitor (Ctrl-A c, migrate file:PATH), then quits: a snapshot that resumes at a live
// prompt (./wemu publish-web DIR --snapshot, the browser tests, bench/browser-boot.sh RESUME=1).
// usage: node src/Wemu.Web/save-snapshot.mjs WEMU OUT [COMMAND]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Boots `wemu` (a path, with `args`), runs `command` at the prompt if given, saves to `file`; resolves when it quit. */
export async function saveAtPrompt(wemu, file, command = '', args = [], timeout = 240_000) {
  const child = spawn(wemu, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', d => { out += d; });
  child.stderr.on('data', d => { out += d; });
  const exited = new Promise(resolve => child.on('exit', resolve));
  let at = 0;
  async function waitFor(text) {
    const t0 = Date.now();
    while (!out.includes(text, at)) {
      if (Date.now() - t0 > timeout || child.exitCode != null) throw new Error(`wemu never printed '${text}':\n${out.slice(-3000)}`);
      await new Promise(r => setTimeout(r, 20));
    }
    at = out.indexOf(text, at) + text.length;
  }
  try {
    await waitFor('/ # ');
    if (command) {
      child.stdin.write(`${command}; echo save-""ready\n`);
      await waitFor('save-ready');
      await waitFor('/ # ');
    }
    child.stdin.write('\u0001c');
    await waitFor('(qemu) ');
    child.stdin.write(`migrate file:${file}\n`);
    await waitFor('migrate: wrote');
    child.stdin.write('quit\n');
    const code = await exited;
    if (code !== 0) throw new Error(`wemu exited with ${code} after saving:\n${out.slice(-2000)}`);
  } finally {
    child.kill();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [wemu, file, command] = process.argv.slice(2);
  if (!wemu || !file) {
    console.error('usage: node save-snapshot.mjs WEMU OUT [COMMAND]');
    process.exit(2);
  }
  try {
    await saveAtPrompt(wemu, path.resolve(file), command || '');
  } catch (e) {
    console.error(`save-snapshot: ${e.message}`);
    process.exit(1);
  }
}
