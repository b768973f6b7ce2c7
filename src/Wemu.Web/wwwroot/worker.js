// The Wemu machine's home: a module Web Worker running .NET's WebAssembly runtime and the
// Wemu core (src/Wemu.Web/WebMachine.cs). The page never blocks on the guest: it talks to this
// worker with messages (wemu.js is the page side; the protocol is described there).
//
//   page -> worker  {type:'start', options, pageUrl}       once, first
//                   {type:'serial', data: Uint8Array}      typed input (buffer transferred)
//                   {type:'call', id, method, args}        request; answered by a 'reply'
//   worker -> page  {type:'state', state, error?, exitCode?}
//                   {type:'notice', text}                   something the user must see (a disk that cannot keep writes)
//                   {type:'progress', phase, loaded, total, items}
//                   {type:'serial', data: Uint8Array}      guest output, one message per slice
//                   {type:'reply', id, ok, value?, error?}
//
// A new request/response feature (vm.readFile, ...) is one entry in `calls` below and one method
// in wemu.js that calls vm.call(name, args, transfer).
import { dotnet } from './_framework/dotnet.js';
import { installPageNetwork } from './net-fetch.js';

const Status = { Running: 0, Idle: 1, PoweredOff: 2, ResetRequested: 3 };
const SLICE_TARGET_MS = 15;           // guest work per slice before the worker yields to its event loop
// ...and the most a slice may take whatever its budget: output and input pass only between slices, and a budget
// learnt in compiled code took 0.2-0.7 s where the guest went on into code still to be compiled (x86 pigz's start)
const SLICE_LIMIT_MS = 25;
const MIN_BUDGET = 50_000, MAX_BUDGET = 20_000_000;

let M = null;                          // WebMachine's exports
let runtimeHandle = null, debugRuntime = false;   // the .NET runtime, and whether the page set runtime options (?debug=1)
let state = 'booting';
let budget = 1_000_000;                // instructions per slice, adapted to SLICE_TARGET_MS
let idleTimer = 0;
let sleeping = false;
let pendingInput = [];                 // typed before the machine existed
let startedAt = 0;
const timings = {};
const loop = { slices: 0, sliceMs: 0, idles: 0, idleMs: 0 };   // where the worker's time goes (vm.stats())
let idleSince = 0;
const COMMIT_MS = 1000;                // persistent disks put new writes on record at least this often (a guest flush: at once)
let persisting = false, lastCommit = 0;

function post(msg, transfer) { self.postMessage(msg, transfer || []); }
function setState(s, extra) { state = s; post({ type: 'state', state: s, ...extra }); }
function fail(message) {
  if (state === 'failed') return;
  clearTimeout(idleTimer);
  setState('failed', { error: String(message) });
}

// Run a slice, then give the event loop a turn (input and calls arrive as messages) and come back.
// A MessageChannel post is an immediate task: no timer clamping, unlike setTimeout(0) or Task.Delay(1).
const channel = new MessageChannel();
channel.port1.onmessage = step;
function schedule() { channel.port2.postMessage(null); }

function flushSerial() {
  const out = M.TakeSerialOutput();
  if (out && out.length) post({ type: 'serial', data: out }, [out.buffer]);
}

function step() {
  if (state !== 'running') return;
  if (sleeping) loop.idleMs += performance.now() - idleSince;
  sleeping = false;
  let status;
  const t0 = performance.now();
  try {
    status = M.RunSlice(budget, SLICE_LIMIT_MS);
  } catch (e) {
    flushSafely();
    fail('the emulator stopped on an internal error: ' + (e && e.message || e));
    return;
  }
  const dt = performance.now() - t0;
  loop.slices++; loop.sliceMs += dt;
  flushSerial();
  if (persisting && t0 - lastCommit > COMMIT_MS) {
    lastCommit = t0;
    const error = M.CommitDisks();
    if (error) notice(error);
  }
  switch (status) {
    case Status.Running: {
      // Adapt the budget so one slice is ~SLICE_TARGET_MS: long enough that the per-slice cost
      // (a JS->C# call, a message) is noise, short enough that input and output feel immediate.
      if (dt > 0.5) budget = Math.round(Math.min(MAX_BUDGET, Math.max(MIN_BUDGET, budget * Math.min(2, SLICE_TARGET_MS / dt))));
      schedule();
      break;
    }
    case Status.Idle: {
      const ms = M.IdleMilliseconds();
      if (ms <= 0) { schedule(); break; }
      sleeping = true;
      loop.idles++;
      idleSince = performance.now();
      idleTimer = setTimeout(step, ms);
      break;
    }
    case Status.PoweredOff:
      setState('stopped', { exitCode: M.ExitCode() });
      break;
    default:
      // ResetRequested only reaches here with -no-reboot
      setState('stopped', { exitCode: 0, reset: true });
      break;
  }
}

let lastNotice = '';
function notice(text) {
  if (text === lastNotice) return;   // once per distinct trouble, not once per failing write
  lastNotice = text;
  post({ type: 'notice', text });
}

function flushSafely() { try { flushSerial(); } catch { /* the runtime may be unusable */ } }

function wake() {
  if (state === 'running' && sleeping) {
    clearTimeout(idleTimer);
    loop.idleMs += performance.now() - idleSince;
    sleeping = false;
    schedule();
  }
}

function needRuntime() { if (!M) throw new Error('the emulator is still starting (await vm.ready)'); }
function checkPath(path, what) {
  if (typeof path !== 'string') throw new TypeError(`${what}: the path must be a string, not ${path === null ? 'null' : typeof path}`);
}

// Requests from the page: method name -> (args) => value (or a promise of one).
// The file calls work on the page's in-memory tree, which the guest sees at /mnt/host (9p tag 'host');
// they run between slices, so the guest never sees a half-written file.
const calls = {
  writeFile(path, data) {
    checkPath(path, 'writeFile');
    if (!(data instanceof Uint8Array)) throw new TypeError('writeFile: the data must be bytes or a string');
    needRuntime();
    const error = M.WriteFile(path, data);
    if (error) throw new Error(error);
    return true;
  },
  readFile(path) {
    checkPath(path, 'readFile');
    needRuntime();
    const bytes = M.ReadFile(path);
    if (bytes == null) throw new Error(M.TakeFileError());
    return bytes;
  },
  listFiles(path = '/') {
    checkPath(path, 'listFiles');
    needRuntime();
    const answer = JSON.parse(M.ListFiles(path));
    if (answer.error) throw new Error(answer.error);
    return answer.entries;
  },
  save() {
    // Between slices (this runs from the message loop, never inside RunSlice): the machine's state as a file.
    needRuntime();
    if (state !== 'running' && state !== 'stopped') throw new Error(`no machine to save (the machine is ${state})`);
    flushSafely();
    const error = M.Save();
    if (error) throw new Error(error);
    return M.TakeSaved();
  },
  // Measurement hook (bench/browser-jitstats.mjs): the jiterpreter prints its counters to the console. Only when the
  // page passed runtime options (?debug=1), which is when its statistics can be on.
  jiterpreterStats() {
    if (!runtimeHandle || !debugRuntime) throw new Error('jiterpreterStats: only with ?debug=1 and runtime options');
    runtimeHandle.INTERNAL.jiterpreter_dump_stats(false);
    return true;
  },
  stats() {
    const s = M ? JSON.parse(M.Stats()) : { instructions: 0, seconds: 0, mips: 0, engine: '' };
    return { ...s, state, budget, timings, loop, ranges: { bytes: rangeBytes, requests: rangeRequests } };
  },
  stop() {
    if (M && (state === 'running' || state === 'stopped')) {
      clearTimeout(idleTimer);
      flushSafely();
      M.Stop();
    }
    if (state !== 'failed') setState('stopped', {});
    relay?.close(1000, 'machine stopped');
    return true;
  },
};

self.onmessage = async (ev) => {
  const msg = ev.data;
  switch (msg.type) {
    case 'start':
      start(msg.options || {}, msg.pageUrl).catch(e => fail(e && e.message || e));
      break;
    case 'serial':
      if (M && state === 'running') { M.SendSerial(msg.data); wake(); }
      else pendingInput.push(msg.data);
      break;
    case 'call': {
      const fn = Object.prototype.hasOwnProperty.call(calls, msg.method) ? calls[msg.method] : null;
      try {
        if (!fn) throw new Error(`unknown call '${msg.method}'`);
        const value = await fn(...(msg.args || []));
        post({ type: 'reply', id: msg.id, ok: true, value });
      } catch (e) {
        post({ type: 'reply', id: msg.id, ok: false, error: String(e && e.message || e) });
      }
      break;
    }
  }
};

// What each architecture's bundled guest downloads (BoardCatalog's default images, under imagesBase):
// a start with no flags fetches these while the .NET runtime starts, before Configure can say so.
// Only a guess: the plan from Configure decides, and a guessed file it does not list is dropped.
// (A browser test checks that the default page's plan is served entirely from these.)
const BUNDLED_IMAGES = {
  riscv64: { firmware: 'riscv64/fw_dynamic.bin', kernel: 'riscv64/Image', initrd: 'riscv64/initramfs.cpio.gz' },
  x86_64: { kernel: 'x86_64/bzImage', initrd: 'x86_64/initramfs.cpio.gz' },
};

// Downloads started before the plan: url -> {item, bytes (promise), abort}. Their progress is
// posted only once the plan has adopted them (during runtime start the bar shows the runtime).
const early = new Map();
const downloadView = { items: [], quiet: true };

function prefetchBundled(options, base, imagesBase) {
  let args = Array.isArray(options.args) ? options.args.map(String) : [];
  let text = typeof options.argsText === 'string' ? options.argsText.trim() : '';
  // A snapshot (-incoming URL and nothing else) is fetched early too.
  let incoming = null;
  const words = text.split(/\s+/);
  if (words.length === 2 && words[0] === '-incoming' && !/['"\\]/.test(text)) { incoming = words[1]; text = ''; }
  const at = args.indexOf('-incoming');
  if (at >= 0 && at + 1 < args.length && !incoming) { incoming = args[at + 1]; args = args.filter((_, i) => i !== at && i !== at + 1); }
  if (text || args.length > 1) return;
  const arch = args.length ? args[0] : 'riscv64';
  // (a resumed machine needs only its snapshot, not the images it booted from)
  const files = incoming ? [['incoming', new URL(incoming.replace(/^file:/, ''), base).href]]
    : Object.entries(BUNDLED_IMAGES[arch] || {}).map(([role, path]) => [role, new URL(imagesBase + path, base).href]);
  for (const [role, url] of files) {
    const item = { role, url, loaded: 0, total: 0 };
    const abort = new AbortController();
    const bytes = download(item, abort.signal);
    bytes.catch(() => {});   // reported when the plan uses it
    early.set(url, { item, bytes, abort });
  }
}

function progress(phase, items) {
  let loaded = 0, total = 0, known = true;
  items = items.filter(it => !it.ranges);   // a disk read by ranges downloads nothing before boot
  for (const it of items) { loaded += it.loaded; if (it.total > 0) total += it.total; else known = false; }
  post({ type: 'progress', phase, loaded, total: known ? total : 0,
    items: items.map(it => ({ role: it.role, url: it.url, loaded: it.loaded, total: it.total })) });
}

// Downloads one image with progress. Percentages need the size of what the body stream yields:
// Content-Length is that size unless the server compressed the response on the fly.
async function download(item, signal, res = null) {
  try {
    res ??= await fetch(item.url, { signal });
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    throw new Error(`could not download the ${item.role} from ${item.url}: ${e.message || e}`);
  }
  if (!res.ok)
    throw new Error(`could not download the ${item.role} from ${item.url}: HTTP ${res.status} ${res.statusText || ''}`.trim());
  const type = res.headers.get('content-type') || '';
  if (type.startsWith('text/html'))
    throw new Error(`the ${item.role} at ${item.url} is a web page, not an image (wrong URL?)`);
  const length = Number(res.headers.get('content-length'));
  const encoded = (res.headers.get('content-encoding') || 'identity') !== 'identity';
  item.total = length > 0 && !encoded ? length : 0;
  const chunks = [];
  const reader = res.body.getReader();
  let last = 0;
  for (;;) {
    if (signal.aborted) { reader.cancel().catch(() => {}); throw signal.reason; }
    let chunk;
    try {
      chunk = await reader.read();
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      throw new Error(`the download of the ${item.role} from ${item.url} broke off after ${item.loaded} bytes: ${e.message || e}`);
    }
    const { done, value } = chunk;
    if (done) break;
    chunks.push(value);
    item.loaded += value.length;
    if (item.total && item.loaded > item.total) item.total = 0;
    const now = performance.now();
    if (now - last > 50 && !downloadView.quiet) { last = now; progress('download', downloadView.items); }
  }
  const bytes = new Uint8Array(item.loaded);
  let at = 0;
  for (const c of chunks) { bytes.set(c, at); at += c.length; }
  item.total = item.loaded;
  if (!downloadView.quiet) progress('download', downloadView.items);
  return bytes;
}

// A -drive: read by Range requests if the server serves byte ranges of it as they are (206, no content coding),
// so a large disk does not download before boot; else downloaded whole. Resolves to {bytes?, size, identity}:
// identity (size and the server's validator) is what a snapshot or a persistent overlay records of the image.
async function openDrive(item, signal, useRanges) {
  let res = null;
  if (useRanges) {
    try {
      res = await fetch(item.url, { signal, headers: { Range: 'bytes=0-0' } });
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      throw new Error(`could not download the ${item.role} from ${item.url}: ${e.message || e}`);
    }
    const whole = /^bytes 0-0\/(\d+)$/.exec(res.headers.get('content-range') || '');
    const coded = (res.headers.get('content-encoding') || 'identity') !== 'identity';
    if (res.status === 206 && whole && !coded && Number(whole[1]) > 0) {
      res.body?.cancel().catch(() => {});
      const size = Number(whole[1]);
      item.ranges = true;
      return { size, identity: identityOf(res, size) };
    }
    if (res.status !== 200) { res.body?.cancel().catch(() => {}); res = null; }   // (416 for an empty file...: a plain GET says why)
  }
  if (!res) {
    try {
      res = await fetch(item.url, { signal });
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      throw new Error(`could not download the ${item.role} from ${item.url}: ${e.message || e}`);
    }
  }
  const validator = res.ok ? identityOf(res, null) : '';
  const bytes = await download(item, signal, res);
  return { bytes, size: bytes.length, identity: `${bytes.length} bytes${validator}` };
}

function identityOf(res, size) {
  const etag = res.headers.get('etag'), modified = res.headers.get('last-modified');
  const validator = etag ? `, ETag ${etag}` : modified ? `, Last-Modified ${modified}` : '';
  return size == null ? validator : `${size} bytes${validator}`;
}

// The page's disk storage for C# (BrowserDisks.cs, module "wemu-disk"): synchronous Range requests (a dedicated
// worker may block: the guest waits for its disk either way) and the origin-private file system's synchronous access
// handles, numbered. Bytes go straight to and from the runtime's memory; each answers '' or a one-line reason.
const files = [];
let rangeBytes = 0, rangeRequests = 0;
function installDisks(runtime) {
  const memory = runtime.Module.wasmExports.memory;
  const heap = (address, length) => new Uint8Array(memory.buffer, address, length);
  const file = n => files[n] || (() => { throw new Error('the file is closed'); })();
  const failed = (what, e) => {
    const text = e && e.name === 'QuotaExceededError'
      ? `the browser's storage for this site is full: ${what} failed (the guest gets an I/O error; free space or reset the disk)`
      : `${what} failed: ${e && e.message || e}`;
    notice(text);
    return text;
  };
  runtime.setModuleImports('wemu-disk', {
    rangeRead(url, offset, length, address) {
      const xhr = new XMLHttpRequest();
      try {
        xhr.open('GET', url, false);
        xhr.responseType = 'arraybuffer';
        xhr.setRequestHeader('Range', `bytes=${offset}-${offset + length - 1}`);
        xhr.send();
      } catch (e) {
        return failed(`reading ${url}`, e);
      }
      const range = xhr.getResponseHeader('content-range') || '';
      if (xhr.status !== 206 || !range.startsWith(`bytes ${offset}-`))
        return failed(`reading ${url} at ${offset}`, `the server answered HTTP ${xhr.status}${range ? ' ' + range : ''} to a range request`);
      const body = new Uint8Array(xhr.response);
      if (body.length !== length) return failed(`reading ${url} at ${offset}`, `${body.length} bytes came for ${length}`);
      heap(address, length).set(body);
      rangeBytes += length; rangeRequests++;
      return '';
    },
    fileRead(n, offset, length, address) {
      try {
        const view = heap(address, length);
        const got = file(n).read(view, { at: offset });
        if (got < length) view.fill(0, got);
        return '';
      } catch (e) { return failed('reading a persistent disk', e); }
    },
    fileWrite(n, offset, length, address) {
      try {
        const wrote = file(n).write(heap(address, length), { at: offset });
        if (wrote === length) return '';
        // (Chromium 1xx answers some failures with base::File's error code as an unsigned count: -8 is "no space")
        const code = wrote > length ? wrote - 2 ** 32 : 0;
        return failed('writing a persistent disk', code === -8 ? { name: 'QuotaExceededError' }
          : code < 0 ? `error ${code}` : `${wrote} of ${length} bytes written`);
      } catch (e) { return failed('writing a persistent disk', e); }
    },
    fileFlush(n) {
      try { file(n).flush(); return ''; } catch (e) { return failed('flushing a persistent disk', e); }
    },
    fileSize(n) { return file(n).getSize(); },
    fileTruncate(n, length) {
      try { file(n).truncate(length); return ''; } catch (e) { return failed('truncating a persistent disk', e); }
    },
    fileClose(n) {
      try { files[n]?.close(); } catch { /* closing anyway */ }
      files[n] = null;
    },
  });
}

// A persistent disk (Wemu.create({persist}), ?persist=NAME): its map and data files in the origin-private file
// system, directory wemu-persist/NAME (wemu.js's Wemu.resetDisk deletes it). One machine at a time holds them.
const PERSIST_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;
async function openPersist(name) {
  if (!navigator.storage?.getDirectory)
    throw new Error(`persist '${name}': this browser has no origin-private file system to keep the disk in`);
  let dir;
  try {
    const root = await navigator.storage.getDirectory();
    dir = await (await root.getDirectoryHandle('wemu-persist', { create: true })).getDirectoryHandle(name, { create: true });
  } catch (e) {
    throw new Error(`persist '${name}': the browser's storage is not available (${e.message || e})`);
  }
  const open = async what => {
    const handle = await dir.getFileHandle(what, { create: true });
    try {
      const access = await handle.createSyncAccessHandle();
      files.push(access);
      return files.length - 1;
    } catch (e) {
      if (e.name === 'NoModificationAllowedError' || e.name === 'InvalidStateError')
        throw new Error(`persist '${name}': the disk is in use by another machine (another tab or window of this site)`);
      throw new Error(`persist '${name}': cannot open the disk's ${what} (${e.message || e})`);
    }
  };
  const map = await open('map');
  return { map, data: await open('data') };
}

// The JIT's WebAssembly loader (BrowserWasmLoader.cs): C# hands over module bytes in the heap; the
// module imports the runtime's memory (m.h) and function table (m.t, for chained tail calls); its
// function goes into a table slot whose index C# calls as a function pointer. Slots are reused
// after release (the runtime's addFunction has no remove).
function installJitLoader(runtime) {
  const wasm = runtime.Module.wasmExports;
  const memory = wasm.memory, table = wasm.__indirect_function_table;
  const imports = { m: { h: memory, t: table } };
  const free = [];
  runtime.setModuleImports('wemu-jit', {
    load(address, length) {
      const module = new WebAssembly.Module(new Uint8Array(memory.buffer, address, length));
      const f = new WebAssembly.Instance(module, imports).exports.f;
      if (free.length === 0) {
        const first = table.grow(256);
        for (let i = first + 255; i >= first; i--) free.push(i);
      }
      const index = free.pop();
      table.set(index, f);
      return index;
    },
    release(index) {
      table.set(index, null);
      free.push(index);
    },
    heapEnd() { return memory.buffer.byteLength; },
  });
}

// -nic websocket,url=ws://HOST:PORT/net: the relay's WebSocket lives here (BrowserRelayLink.cs is the C# side).
// One binary message = one Ethernet frame, both ways (src/Wemu/Net/RelayFraming.cs). Frames from the relay go
// to C# at once (this worker is one thread, so between slices) and wake an idling machine; the guest's frames are
// dropped while the socket's send buffer is over RELAY_SEND_LIMIT, as a congested link drops them.
const RELAY_SEND_LIMIT = 1 << 20;
let relay = null;
let relayLink = null;                   // BrowserRelayLink's exports
function openRelay(runtime, url) {
  return new Promise((resolve, reject) => {
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      reject(new Error(`cannot reach the network relay ${url}: ${e.message || e}`));
      return;
    }
    ws.binaryType = 'arraybuffer';
    let open = false;
    ws.onopen = () => { open = true; relay = ws; resolve(); };
    ws.onerror = () => { if (!open) reject(new Error(`cannot reach the network relay ${url} (start one with: wemu relay --port PORT, or wemu serve --net)`)); };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string' || !relayLink) return;
      relayLink.RelayFrame(new Uint8Array(ev.data));
      wake();
    };
    ws.onclose = (ev) => {
      if (!open) return;
      relay = null;
      const why = ev.reason ? `: ${ev.reason}` : ` (code ${ev.code})`;
      console.warn(`wemu: the network relay ${url} closed the connection${why}`);
      if (state === 'running') {
        const note = new TextEncoder().encode(`\r\n[wemu: network relay closed${why}; the guest's network is down]\r\n`);
        post({ type: 'serial', data: note }, [note.buffer]);
      }
    };
  });
}

async function start(options, pageUrl) {
  startedAt = performance.now();
  setState('booting');
  const base = pageUrl || self.location.href;
  const imagesBase = new URL(options.imagesBase || 'images/', new URL('.', import.meta.url)).href;
  prefetchBundled(options, base, imagesBase);
  // Set by the embedding page's code (the default page passes the URL's only with ?debug=1); strings only.
  const runtimeOptions = Array.isArray(options.runtimeOptions) ? options.runtimeOptions.filter(o => typeof o === 'string') : [];
  const runtime = await dotnet
    .withRuntimeOptions(runtimeOptions)
    .withModuleConfig({
      onDownloadResourceProgress: (loaded, total) =>
        post({ type: 'progress', phase: 'runtime', loaded, total, items: [] }),
    })
    .create();
  runtimeHandle = runtime;
  debugRuntime = runtimeOptions.length > 0;
  installJitLoader(runtime);
  installDisks(runtime);
  runtime.setModuleImports('wemu-relay', {
    send(view) { if (relay && relay.bufferedAmount < RELAY_SEND_LIMIT) relay.send(view.slice()); },
  });
  const exports = await runtime.getAssemblyExports(runtime.getConfig().mainAssemblyName);
  M = exports.Wemu.Web.WebMachine;
  relayLink = exports.Wemu.Web.BrowserRelayLink;
  timings.runtimeMs = performance.now() - startedAt;

  // -nic user: the guest's HTTP(S) over fetch(), and vm.fetch into the guest (net-fetch.js).
  const network = installPageNetwork(runtime, { post, wake });
  network.bind(exports, base);
  Object.assign(calls, network.calls);

  const args = Array.isArray(options.args) ? options.args.map(String) : [];
  const argsText = typeof options.args === 'string' ? options.args : (options.argsText || '');
  const t0 = performance.now();
  const plan = JSON.parse(M.Configure(args, argsText, imagesBase));
  timings.configureMs = performance.now() - t0;
  if (plan.error) throw new Error(plan.error);
  post({ type: 'plan', summary: plan.summary });
  const drives = plan.downloads.filter(d => d.role === 'drive');
  const persist = (Array.isArray(options.persist) ? options.persist : options.persist ? [options.persist] : []).map(String);
  for (const name of persist)
    if (!PERSIST_NAME.test(name)) throw new Error(`persist '${name}': a name is letters, digits, '.', '_' and '-' (at most 64, not starting with '.')`);
  if (persist.length > drives.length)
    throw new Error(drives.length === 0 ? `persist '${persist[0]}' keeps a disk's writes, and this machine has no disk (-drive)`
      : `persist names ${persist.length} disks, and this machine has ${drives.length} (-drive)`);
  if (new Set(persist).size !== persist.length) throw new Error('persist: two disks cannot have the same name');
  persist.forEach((name, i) => {
    if (drives[i].readOnly) throw new Error(`persist '${name}': the disk ${drives[i].url} is read-only, so there is nothing to keep`);
  });
  const relayOpen = plan.relay ? openRelay(runtime, plan.relay) : null;
  relayOpen?.catch(() => {});   // awaited below, after the downloads

  // The plan's images: those fetched early are adopted, the rest start now; early ones it does not list stop.
  const abort = new AbortController();
  const items = [], pending = [];
  timings.prefetched = 0;
  for (const d of plan.downloads) {
    const url = new URL(d.url, base).href;
    const e = early.get(url);
    if (d.role === 'drive') {
      const item = { role: d.role, url, loaded: 0, total: 0, index: d.index };
      items.push(item); pending.push(openDrive(item, abort.signal, options.ranges !== false));
    } else if (e) {
      early.delete(url);
      e.item.role = d.role;
      abort.signal.addEventListener('abort', () => e.abort.abort(abort.signal.reason));
      items.push(e.item); pending.push(e.bytes);
      timings.prefetched++;
    } else {
      const item = { role: d.role, url, loaded: 0, total: 0 };
      items.push(item); pending.push(download(item, abort.signal));
    }
  }
  for (const e of early.values()) e.abort.abort(new Error('not in the plan'));
  early.clear();
  downloadView.items = items; downloadView.quiet = false;
  progress('download', items);
  const t1 = performance.now();
  // All at once; the first failure cancels the others (it is the one the page shows).
  const images = await Promise.all(pending.map(p => p.catch(e => {
    if (!abort.signal.aborted) abort.abort(e);
    throw e;
  })));
  timings.downloadMs = performance.now() - t1;   // what is left to wait for once the plan is known
  if (state !== 'booting') return;   // stopped while downloading
  const t3 = performance.now();
  for (let i = 0; i < items.length; i++) {
    const it = items[i], got = images[i];
    if (it.role === 'drive') M.SetDrive(it.index, got.bytes || null, it.url, got.size, got.identity);
    else M.SetImage(it.role, got);
  }
  timings.setImageMs = performance.now() - t3;
  for (let i = 0; i < persist.length; i++) {
    const { map, data } = await openPersist(persist[i]);
    M.PersistDrive(drives[i].index, persist[i], map, data);
  }
  persisting = persist.length > 0;

  if (relayOpen) await relayOpen;
  for (const name of plan.lazyAssemblies || []) await runtime.INTERNAL.loadLazyAssembly(name);
  const t2 = performance.now();
  const error = M.Start();
  if (error) throw new Error(error);
  timings.createMs = performance.now() - t2;
  for (const text of M.TakeNotes().split('\n')) if (text) notice(text);
  for (const d of pendingInput) M.SendSerial(d);
  pendingInput = [];
  setState('running', { summary: plan.summary });
  schedule();
}
