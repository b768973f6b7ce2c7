// The default page: the bundled guest on an xterm.js terminal, with a download progress bar and a
// visible error if anything fails. Its machine is window.wemu (see wemu.js for the API).
// The machine starts first: its worker loads the .NET runtime and the images (the longest waits)
// while this page loads xterm.js; what the machine writes before the terminal exists is kept for it.
import { Wemu } from './wemu.js';
import { pageOptions, terminalSafe, DEBUG_PARAM } from './page-options.mjs';

const $ = id => document.getElementById(id);
let term = null;
const early = [];
const write = text => { if (term) term.write(text); else early.push(text); };

$('isolation').textContent = self.crossOriginIsolated ? '· cross-origin isolated' : '';

const mb = n => (n / 1048576).toFixed(1) + ' MB';
const options = pageOptions(location.search);
if (options.ignored.length)
  console.warn(`wemu: runtime-option ignored (${options.ignored.length}); add ?${DEBUG_PARAM}=1 to the URL to use them`);

function showProgress(p) {
  const bar = $('progress'), label = $('progress-label');
  if (window.wemu && window.wemu.state !== 'booting') return;   // late news from an abandoned download
  $('loading').hidden = false;
  if (p.phase === 'runtime') {
    bar.max = Math.max(1, p.total); bar.value = p.loaded;
    label.textContent = `Loading the .NET runtime: ${p.loaded} of ${p.total} files`;
    return;
  }
  const names = p.items.map(i => i.url.split('/').pop()).join(', ');
  if (p.total > 0) {
    const pct = Math.min(100, Math.floor(p.loaded * 100 / p.total));
    bar.max = 100; bar.value = pct;
    label.textContent = `Downloading ${names}: ${mb(p.loaded)} of ${mb(p.total)} (${pct}%)`;
  } else {
    bar.removeAttribute('value');   // size unknown: an indeterminate bar, bytes still counted
    label.textContent = `Downloading ${names}: ${mb(p.loaded)}`;
  }
}

function showState(state, vm) {
  const s = $('state');
  s.textContent = state === 'stopped' && vm.exitCode != null ? `stopped (exit ${vm.exitCode})` : state;
  s.dataset.state = state;
  if (vm.summary) $('summary').textContent = `${vm.summary} — emulated in this tab`;
  if (state === 'running' || state === 'stopped' || state === 'failed') $('loading').hidden = true;
  if (state === 'failed') {
    $('error').hidden = false;
    $('error-text').textContent = vm.error;
    // The error can quote the URL's args: no escape sequence from it reaches the terminal.
    write(`\r\n\x1b[1;31mwemu: ${terminalSafe(vm.error)}\x1b[0m\r\n`);
  }
  if (state === 'running') term?.focus();
  if (state === 'running' && resume && !showState.poked) { showState.poked = true; vm.sendSerial('\n'); }
}

// A site published with --snapshot names the bundled guest saved at its prompt: with no flags of its own the page
// resumes it (a live prompt in a moment instead of a boot), and presses Enter so the prompt shows.
const published = document.querySelector('meta[name="wemu-incoming"]')?.content;
const resume = published && !options.args && (!options.arch || options.arch === 'riscv64') ? published : undefined;
const vm = await Wemu.create({
  arch: options.arch || undefined,
  args: options.args,
  persist: options.persist,
  incoming: resume,
  runtimeOptions: options.runtimeOptions,   // .NET runtime switches, for measurements (?debug=1 only)
  onProgress: showProgress,
  onState: showState,
  onSerial: write,
  onNotice: showNotice,
});
window.wemu = vm;

// Trouble that does not stop the machine (a persistent disk whose quota is full): shown until dismissed.
function showNotice(text) {
  $('notice').hidden = false;
  $('notice-text').textContent = text;
}
$('notice-close').onclick = () => { $('notice').hidden = true; };

// Persistent disks (?persist=NAME): how much of the guest's writing this browser keeps, and a way to drop it.
if (options.persist.length) {
  $('disks').hidden = false;
  const show = async () => {
    if (vm.state !== 'running') return;
    const { disks } = await vm.stats();
    $('disks-text').textContent = disks.filter(d => d.persist)
      .map(d => `disk '${d.persist}': ${d.keptBytes < 1048576 ? Math.round(d.keptBytes / 1024) + ' KB' : mb(d.keptBytes)} kept in this browser`).join(' · ');
  };
  setInterval(() => show().catch(() => {}), 2000);
  vm.ready.then(show, () => {});
  $('disks-reset').onclick = async () => {
    if (!confirm(`Discard what the guest wrote to ${options.persist.map(n => `'${n}'`).join(', ')} and restart?`)) return;
    await vm.stop();
    for (const name of options.persist) await Wemu.resetDisk(name);
    location.reload();
  };
}

const [{ Terminal }, { FitAddon }] = await Promise.all([import('./vendor/xterm.mjs'), import('./vendor/addon-fit.mjs')]);
// (lineHeight above 1: at 1.0 the underscore falls outside its cell and is not drawn, "x86_64" read "x86 64")
term = new Terminal({ convertEol: false, scrollback: 5000, fontSize: 14, lineHeight: 1.15, cursorBlink: true });
const fit = new FitAddon();
term.loadAddon(fit);
term.open($('terminal'));
fit.fit();
// Refit whenever the terminal's box changes (window resize, the progress bar or an error appearing).
new ResizeObserver(() => fit.fit()).observe($('terminal'));
window.term = term;
for (const text of early.splice(0)) term.write(text);
term.onData(data => vm.sendSerial(data));
if (vm.state === 'running') term.focus();
