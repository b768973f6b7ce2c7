// Wemu's JavaScript API: a RISC-V Linux machine in a Web Worker, driven from the page.
//
//   import { Wemu } from './wemu.js';        // or <script type="module" src="wemu.js">, then window.Wemu
//   const vm = await Wemu.create({ memory: '256M', args: ['-append', 'console=ttyS0 quiet'] });
//   vm.onSerial(text => term.write(text));
//   vm.sendSerial('uname -a\n');
//   await vm.ready;                          // resolves when the guest runs, rejects if it cannot start
//   vm.state;                                // 'booting' | 'running' | 'stopped' | 'failed'
//   await vm.stop();
//
// Options (all optional; with no kernel the bundled guest boots, as `./wemu` does):
//   arch 'riscv64'      memory '256M'        kernel URL     initrd URL     bios URL | 'none'
//   append '...'        drive URL | [URL...] (raw disk images: read on demand by HTTP Range requests where the
//                       server allows them, else downloaded whole; writes stay in the tab unless persisted)
//   persist 'name' | [names...]  keeps the guest's writes to the first drive(s) in this browser's origin-private
//                       file system, over the served image: a reload boots with them (Wemu.resetDisk(name) drops them)
//   ranges false        download every drive whole instead of reading it by ranges
//   args [...QEMU flags] or one string of them (the CLI's parser reads them, after the options above)
//   imagesBase URL of the folder holding riscv64/{fw_dynamic.bin,Image,initramfs.cpio.gz}
//              (default: images/ beside this file)
//   onSerial, onState, onProgress   listeners attached before the worker starts
//   runtimeOptions [...]            options for .NET's runtime (e.g. jiterpreter tuning)
//
// The worker protocol is in worker.js. Requests with answers go through vm.call(method, args, transfer)
// and come back as promises; vm.stats() is one.

const listeners = () => ({ serial: new Set(), state: new Set(), progress: new Set(), log: new Set(), notice: new Set() });

function toArgs(o) {
  const a = [];
  if (o.arch) a.push(String(o.arch));
  if (o.memory != null) a.push('-m', String(o.memory));
  if (o.bios) a.push('-bios', String(o.bios));
  if (o.kernel) a.push('-kernel', String(o.kernel));
  if (o.initrd) a.push('-initrd', String(o.initrd));
  if (o.append != null) a.push('-append', String(o.append));
  const drives = o.drive == null ? [] : Array.isArray(o.drive) ? o.drive : [o.drive];
  // QEMU option syntax: a comma inside a value is written twice
  for (const d of drives) a.push('-drive', `file=${String(d).replaceAll(',', ',,')},if=virtio,format=raw`);
  if (o.incoming) a.push('-incoming', String(o.incoming));   // a snapshot to resume instead of booting
  if (Array.isArray(o.args)) a.push(...o.args.map(String));
  return a;
}

export class WemuMachine {
  #worker;
  #on = listeners();
  #decoder = new TextDecoder();
  #encoder = new TextEncoder();
  #nextId = 1;
  #pending = new Map();
  #readyResolve;
  #readyReject;

  /** 'booting' | 'running' | 'stopped' | 'failed' */
  state = 'booting';
  /** The message that explains a 'failed' state. */
  error = null;
  /** The guest's exit status once it powered off. */
  exitCode = null;
  /** What the flags describe, e.g. "riscv64 virt, 256M RAM". */
  summary = '';
  /** The names of this machine's persistent disks (the persist option). */
  persist = [];
  /** Things the user must see that do not stop the machine (e.g. a persistent disk whose quota is full), oldest first. */
  notices = [];
  /** The last download progress: {phase, loaded, total, items}. */
  progress = null;
  /** Resolves when the guest starts running; rejects with the error if it cannot. */
  ready;

  constructor(options = {}) {
    this.ready = new Promise((resolve, reject) => { this.#readyResolve = resolve; this.#readyReject = reject; });
    this.ready.catch(() => {});   // a failure is also reported through state/error/onState
    if (options.onSerial) this.onSerial(options.onSerial);
    if (options.onState) this.onState(options.onState);
    if (options.onProgress) this.onProgress(options.onProgress);
    if (options.onNotice) this.onNotice(options.onNotice);
    this.persist = (Array.isArray(options.persist) ? options.persist : options.persist ? [options.persist] : []).map(String);
    const workerUrl = new URL('./worker.js', import.meta.url);
    try {
      this.#worker = new Worker(workerUrl, { type: 'module' });
    } catch (e) {
      queueMicrotask(() => this.#setState('failed', { error: `could not start the emulator's worker: ${e.message || e}` }));
      return;
    }
    this.#worker.onmessage = ev => this.#receive(ev.data);
    this.#worker.onerror = ev => {
      ev.preventDefault();
      this.#setState('failed', { error: `the emulator's worker failed to load (${ev.message || workerUrl.href}); is the site complete?` });
    };
    const start = {
      args: toArgs(options),
      argsText: typeof options.args === 'string' ? options.args : '',
      imagesBase: options.imagesBase ? new URL(options.imagesBase, document.baseURI).href : new URL('./images/', import.meta.url).href,
      runtimeOptions: options.runtimeOptions || [],
      persist: this.persist,
      ranges: options.ranges !== false,
    };
    this.#worker.postMessage({ type: 'start', options: start, pageUrl: document.baseURI });
  }

  /** Calls fn(text) with the guest's serial output; returns a function that removes it. */
  onSerial(fn) { this.#on.serial.add(fn); return () => this.#on.serial.delete(fn); }
  /** Calls fn(state, vm) on every state change. */
  onState(fn) { this.#on.state.add(fn); return () => this.#on.state.delete(fn); }
  /** Calls fn({phase: 'runtime'|'download', loaded, total, items}) while files download. */
  onProgress(fn) { this.#on.progress.add(fn); return () => this.#on.progress.delete(fn); }
  /** Calls fn(text) with what the user must see while the machine goes on (also kept in vm.notices). */
  onNotice(fn) { this.#on.notice.add(fn); return () => this.#on.notice.delete(fn); }
  /** Calls fn(text) with the emulator's notes (e.g. why a guest's fetch failed); without listeners they go to console.warn. */
  onLog(fn) { this.#on.log.add(fn); return () => this.#on.log.delete(fn); }

  /** Types text (or bytes) on the guest's serial line. */
  sendSerial(data) {
    if (!this.#worker || this.state === 'failed') return;
    const bytes = typeof data === 'string' ? this.#encoder.encode(data) : new Uint8Array(data);
    this.#worker.postMessage({ type: 'serial', data: bytes }, [bytes.buffer]);
  }

  /** Counters from the worker: {instructions, seconds, mips, engine, state, budget, timings}. */
  stats() { return this.call('stats'); }

  /**
   * Writes a file into the page's shared tree (the guest's /mnt/host): path share-relative
   * ('/hello.txt' is /mnt/host/hello.txt), data a string (UTF-8) or bytes; creates missing directories.
   */
  writeFile(path, data) {
    let bytes;
    if (typeof data === 'string') bytes = this.#encoder.encode(data);
    else if (data instanceof ArrayBuffer) bytes = new Uint8Array(data.slice(0));
    else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    else return Promise.reject(new TypeError('writeFile: the data must be a string, an ArrayBuffer or a typed array'));
    return this.call('writeFile', [path, bytes], [bytes.buffer]).then(() => undefined);
  }

  /** Reads a file of the shared tree: resolves with a Uint8Array; rejects if there is no such file. */
  readFile(path) { return this.call('readFile', [path]); }

  /**
   * Saves the running machine: a Blob holding the snapshot file, which `./wemu -incoming file:PATH` resumes natively
   * (with a 9p share tagged "host", as the page's: `-virtfs local,path=DIR,mount_tag=host,security_model=none`)
   * and Wemu.create({incoming: url}) in a page. Rejects with the reason if the machine cannot be saved.
   */
  async save() { return new Blob([await this.call('save')], { type: 'application/octet-stream' }); }

  /** Lists a directory of the shared tree: [{name, directory, size}], sorted by name. */
  listFiles(dir = '/') { return this.call('listFiles', [dir]); }

  /**
   * fetch() into the guest (-nic user): `await vm.fetch('http://localhost:8080/path', init)` opens a TCP
   * connection to the guest's port 8080 (as from 10.0.2.2, like hostfwd), sends an HTTP/1.1 request and resolves
   * with a Response built from the guest's answer (its body read whole, at most 16 MiB). `localhost` (or 127.0.0.1,
   * 10.0.2.15) is the guest here; only http: URLs.
   */
  async fetch(input, init = {}) {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.protocol !== 'http:') throw new TypeError(`vm.fetch: ${url.protocol} URLs cannot reach the guest (http: only)`);
    if (!['localhost', '127.0.0.1', '10.0.2.15'].includes(url.hostname))
      throw new TypeError(`vm.fetch: the host must be localhost (the guest), not ${url.hostname}`);
    const port = url.port ? Number(url.port) : 80;
    const body = request.method === 'GET' || request.method === 'HEAD' ? new Uint8Array(0) : new Uint8Array(await request.arrayBuffer());
    const names = [], values = [];
    request.headers.forEach((v, n) => { names.push(n); values.push(v); });
    const answer = await this.call('guestFetch', [port, request.method, url.pathname + url.search, names, values, body], [body.buffer]);
    const headers = new Headers();
    for (const [n, v] of answer.headers) { try { headers.append(n, v); } catch { /* a field a Response may not carry */ } }
    const status = answer.status >= 200 && answer.status <= 599 ? answer.status : 502;
    const nullBody = [204, 205, 304].includes(status) || request.method === 'HEAD';
    let statusText = answer.statusText;
    try { new Response(null, { statusText }); } catch { statusText = ''; }
    return new Response(nullBody ? null : answer.body, { status, statusText, headers });
  }

  /**
   * Serves guest ports on the page's origin through a service worker: after `await vm.exposePorts()`,
   * `<iframe src="wemu/port/8080/">` (beside wemu.js) shows the guest's server on port 8080. Resolves with the
   * prefix's URL. Needs a secure context (https or localhost). One machine per page answers (the last to call).
   * The guest's pages are served with `Content-Security-Policy: sandbox allow-scripts ...`: they run in an opaque
   * origin, not the page's (a guest could be hostile); `{sandbox: false}` serves them as the page's own origin.
   */
  async exposePorts(options = {}) {
    if (!('serviceWorker' in navigator)) throw new Error('vm.exposePorts: no service workers here (they need https or localhost)');
    const script = new URL(options.serviceWorker || './wemu-sw.js', import.meta.url);
    const scope = new URL(options.scope || './wemu/port/', import.meta.url);
    portHost = this;
    portSandbox = options.sandbox !== false;
    if (!listening) {
      listening = true;
      navigator.serviceWorker.addEventListener('message', answerPortRequest);
      navigator.serviceWorker.startMessages();
    }
    const registration = await navigator.serviceWorker.register(script, { scope: scope.href });
    await activated(registration);
    return scope.href;
  }

  /**
   * Discards the writes kept for the persistent disk `name` (the persist option): the next machine with it starts from
   * the served image again. Refused while this machine runs with that disk (await vm.stop() first).
   */
  async resetDisk(name) {
    if (this.#worker && this.persist.includes(String(name)) && (this.state === 'booting' || this.state === 'running'))
      throw new Error(`the disk '${name}' is in use by this machine: await vm.stop() first`);
    return Wemu.resetDisk(name);
  }

  /** Ends the machine and its worker. */
  async stop() {
    if (!this.#worker) return;
    if (this.state === 'booting' || this.state === 'running' || this.state === 'stopped') {
      try { await Promise.race([this.call('stop'), new Promise(r => setTimeout(r, 2000))]); } catch { /* ending anyway */ }
    }
    this.#worker.terminate();
    this.#worker = null;
    for (const p of this.#pending.values()) p.reject(new Error('the machine was stopped'));
    this.#pending.clear();
    if (this.state !== 'failed') this.#setState('stopped', {});
  }

  /** Sends a request to the worker; resolves with its answer. `transfer` lists buffers to move, not copy. */
  call(method, args = [], transfer = []) {
    if (!this.#worker) return Promise.reject(new Error('the machine was stopped'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ type: 'call', id, method, args }, transfer);
    });
  }

  #setState(state, extra) {
    if (this.state === 'failed') return;   // the first failure is the one to show
    if (this.state === 'stopped' && state !== 'failed') { Object.assign(this, extra); return; }
    Object.assign(this, extra);
    if (state === this.state) return;
    this.state = state;
    if (state === 'running') this.#readyResolve(this);
    if (state === 'failed') this.#readyReject(new Error(this.error));
    if (state === 'stopped') this.#readyReject(new Error('the machine stopped before it ran'));
    for (const fn of this.#on.state) fn(state, this);
  }

  #receive(msg) {
    switch (msg.type) {
      case 'serial': {
        const text = this.#decoder.decode(msg.data, { stream: true });
        if (text) for (const fn of this.#on.serial) fn(text);
        break;
      }
      case 'state': {
        const { type, state, ...extra } = msg;
        this.#setState(state, extra);
        break;
      }
      case 'progress':
        this.progress = msg;
        for (const fn of this.#on.progress) fn(msg);
        break;
      case 'plan':
        this.summary = msg.summary;
        break;
      case 'notice':
        this.notices.push(msg.text);
        if (this.#on.notice.size === 0) console.warn('wemu: ' + msg.text);
        for (const fn of this.#on.notice) fn(msg.text);
        break;
      case 'log':
        if (this.#on.log.size === 0) console.warn('wemu: ' + msg.text);
        for (const fn of this.#on.log) fn(msg.text);
        break;
      case 'reply': {
        const p = this.#pending.get(msg.id);
        if (!p) break;
        this.#pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.value); else p.reject(new Error(msg.error));
        break;
      }
    }
  }
}

// The service worker's requests (wemu-sw.js) for guest ports, answered by the machine that last called exposePorts.
let portHost = null, listening = false, portSandbox = true;

function answerPortRequest(ev) {
  const msg = ev.data;
  if (!msg || msg.type !== 'wemu-port-request' || !ev.ports[0]) return;
  const reply = ev.ports[0];
  const vm = portHost;
  if (!vm || vm.state !== 'running') return;   // no answer: the service worker asks another page
  reply.postMessage({ accepted: true });
  const init = { method: msg.method, headers: msg.headers };
  if (msg.body && msg.method !== 'GET' && msg.method !== 'HEAD') init.body = msg.body;
  vm.fetch(`http://localhost:${msg.port}${msg.path}`, init)
    .then(async r => {
      const body = await r.arrayBuffer();
      reply.postMessage({ ok: true, status: r.status, statusText: r.statusText, headers: [...r.headers], body, sandbox: portSandbox }, [body]);
    })
    .catch(e => reply.postMessage({ ok: false, error: String(e && e.message || e) }));
}

function activated(registration) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (registration.active && registration.active.state === 'activated') { resolve(); return true; }
      const w = registration.installing || registration.waiting;
      if (w && w.state === 'redundant') { reject(new Error('vm.exposePorts: the service worker failed to install')); return true; }
      return false;
    };
    if (check()) return;
    const watch = w => w && w.addEventListener('statechange', () => check());
    watch(registration.installing); watch(registration.waiting); watch(registration.active);
    registration.addEventListener('updatefound', () => watch(registration.installing));
  });
}

export const Wemu = {
  /** Starts a machine in a new worker; resolves at once with it (state 'booting'): await vm.ready to know it runs. */
  async create(options = {}) { return new WemuMachine(options); },

  /**
   * Discards the writes kept for the persistent disk `name`; resolves true if there were any, false if none.
   * Rejects if a machine (in any tab of this site) has the disk open.
   */
  async resetDisk(name) {
    name = String(name);
    if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/.test(name)) throw new Error(`resetDisk: '${name}' is not a persistent disk's name`);
    if (!navigator.storage?.getDirectory) throw new Error('resetDisk: this browser has no origin-private file system');
    let dir;
    try {
      dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('wemu-persist');
    } catch (e) {
      if (e.name === 'NotFoundError') return false;
      throw e;
    }
    try {
      await dir.removeEntry(name, { recursive: true });
      return true;
    } catch (e) {
      if (e.name === 'NotFoundError') return false;
      if (e.name === 'NoModificationAllowedError' || e.name === 'InvalidModificationError')
        throw new Error(`resetDisk: the disk '${name}' is in use by a machine (stop it first)`);
      throw e;
    }
  },
};

globalThis.Wemu = Wemu;
