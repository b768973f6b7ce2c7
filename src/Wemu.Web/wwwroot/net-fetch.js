// The worker's side of -nic user in the page (src/Wemu.Web/PageNetwork.cs is the C# side): the guest's HTTP
// requests, parsed by the stack, become fetch() calls here, and vm.fetch's requests go into the guest.
//
//   C# -> JS (module 'wemu-net')   start(id, method, url, names, values, body)   a fetch for the guest
//                                  read(id)      the stack has room: hand over the next body piece
//                                  cancel(id)    the guest went away
//                                  guestResponse(id, ...) / guestFailed(id, reason)   vm.fetch's answer
//                                  log(message)  why a fetch failed or a request was refused
//   JS -> C# (PageNetwork)         FetchResponded, FetchBody, FetchEnded, FetchFailed, FetchIntoGuest, AbortIntoGuest
//
// Results never go into C# while the machine runs: they come from promise callbacks, which run between slices,
// and wake() makes the machine's loop poll the stack at once if the guest was idle. The body is pulled: after a
// read() pieces of at most MAX_PIECE bytes go over until the stack's buffer (FetchExchange.MaxBuffered) is full,
// so a guest that does not read holds the fetch (and the browser's own flow control) instead of the worker's memory.

const MAX_PIECE = 64 * 1024;            // FetchExchange.MaxPiece
const GUEST_FETCH_TIMEOUT_MS = 60_000;  // vm.fetch gives up on a guest that never answers

export function installPageNetwork(runtime, { post, wake }) {
  let N = null;                         // PageNetwork's exports, once the assembly is loaded
  const fetches = new Map();            // id -> {controller, reader, leftover}
  const guestCalls = new Map();         // vm.fetch id -> {resolve, reject, timer}
  let nextGuestId = 1;

  function log(message) {
    post({ type: 'log', text: 'net: ' + message });   // the page's vm.onLog, or its console
  }

  function describe(e, url) {
    const what = `${e && e.name || 'Error'}: ${e && e.message || e}`;
    let origin = '';
    try { origin = new URL(url).origin; } catch { /* kept empty */ }
    if (origin && origin !== self.location.origin && e && e.name === 'TypeError')
      return `${what} (the browser refused it: ${origin} is another origin, which must allow this page with CORS headers, or it cannot be reached)`;
    return what;
  }

  // Hands over body pieces, reading the body stream as needed, until the stack says it has no more room (it asks
  // again with read()). Pieces cross one by one but within one turn of the event loop, between two slices.
  async function deliver(id, f) {
    if (f.pumping) return;
    f.pumping = true;
    try {
      for (;;) {
        while (!f.leftover || f.leftover.length === 0) {
          if (!f.reader) { fetches.delete(id); N.FetchEnded(id); wake(); return; }
          const { done, value } = await f.reader.read();
          if (fetches.get(id) !== f) return;
          if (done) { fetches.delete(id); N.FetchEnded(id); wake(); return; }
          f.leftover = value;
        }
        const piece = f.leftover.subarray(0, MAX_PIECE);
        f.leftover = f.leftover.subarray(piece.length);
        const more = N.FetchBody(id, piece);
        wake();
        if (!more) return;
      }
    } catch (e) {
      if (fetches.get(id) !== f) return;
      fetches.delete(id);
      N.FetchFailed(id, describe(e, f.url));
      wake();
    } finally {
      f.pumping = false;
    }
  }

  runtime.setModuleImports('wemu-net', {
    log,
    start(id, method, url, names, values, body) {
      const f = { controller: new AbortController(), reader: null, leftover: null, url };
      fetches.set(id, f);
      const headers = new Headers();
      for (let i = 0; i < names.length; i++) {
        try { headers.append(names[i], values[i]); } catch (e) { log(`${url}: header ${names[i]} left out (${e.message})`); }
      }
      // No credentials: the guest may be hostile, and must not act as the user on the page's own site.
      const init = { method, headers, signal: f.controller.signal, redirect: 'follow', cache: 'no-store', credentials: 'omit' };
      if (method !== 'GET' && method !== 'HEAD') init.body = body;
      let request;
      try { request = fetch(url, init); } catch (e) { request = Promise.reject(e); }
      request.then(res => {
        if (!fetches.has(id)) { res.body?.cancel().catch(() => {}); return; }
        f.reader = res.body ? res.body.getReader() : null;
        const n = [], v = [];
        res.headers.forEach((value, name) => { n.push(name); v.push(value); });
        // fetch() decodes a compressed body, so Content-Length then counts other bytes: unknown.
        const encoded = (res.headers.get('content-encoding') || 'identity') !== 'identity';
        const length = res.headers.get('content-length');
        N.FetchResponded(id, res.status, res.statusText, n, v, !encoded && /^\d+$/.test(length || '') ? Number(length) : -1);
        wake();
      }, e => {
        if (!fetches.has(id)) return;
        fetches.delete(id);
        N.FetchFailed(id, describe(e, url));
        wake();
      });
    },
    read(id) {
      const f = fetches.get(id);
      // Never back into C# from inside this call: the stack is in the middle of its poll.
      if (f) queueMicrotask(() => { if (fetches.get(id) === f) deliver(id, f); });
    },
    cancel(id) {
      const f = fetches.get(id);
      if (!f) return;
      fetches.delete(id);
      f.controller.abort();
    },
    guestResponse(id, status, reason, names, values, body) {
      const c = guestCalls.get(id);
      if (!c) return;
      guestCalls.delete(id);
      clearTimeout(c.timer);
      const headers = names.map((n, i) => [n, values[i]]);
      c.resolve({ status, statusText: reason, headers, body });
    },
    guestFailed(id, reason) {
      const c = guestCalls.get(id);
      if (!c) return;
      guestCalls.delete(id);
      clearTimeout(c.timer);
      c.reject(new Error(`vm.fetch: ${reason}`));
    },
  });

  return {
    /** After the assembly is loaded: the exports, and the page's URL (what 10.0.2.2 stands for). */
    bind(exports, pageUrl) {
      N = exports.Wemu.Web.PageNetwork;
      N.SetPageUrl(pageUrl);
    },
    /** The worker's calls (worker.js `calls`): vm.fetch's request into guest port `port`. */
    calls: {
      guestFetch(port, method, path, names, values, body) {
        if (!N) throw new Error('the emulator is still starting (await vm.ready)');
        const id = nextGuestId++;
        const error = N.FetchIntoGuest(id, port, method, path, names, values, body || new Uint8Array(0));
        if (error) throw new Error(`vm.fetch: ${error}`);
        wake();
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            guestCalls.delete(id);
            N.AbortIntoGuest(id, 'timed out');
            reject(new Error(`vm.fetch: guest port ${port} did not answer within ${GUEST_FETCH_TIMEOUT_MS / 1000} s`));
          }, GUEST_FETCH_TIMEOUT_MS);
          guestCalls.set(id, { resolve, reject, timer });
        });
      },
    },
  };
}
