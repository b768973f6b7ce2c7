// Wemu's service worker for guest ports (registered by vm.exposePorts() in wemu.js, scope ./wemu/port/):
// a request for  <scope>PORT/path?query  on the page's origin goes to the guest's TCP port PORT, through the
// page that runs the machine (a service worker cannot reach the machine's worker itself): the request is posted
// to each window of this origin in turn; a page running a machine that exposed its ports accepts it at once and
// answers with vm.fetch's response; pages that do not accept within ACCEPT_MS are passed over.
const ACCEPT_MS = 2000, ANSWER_MS = 70_000;

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', event => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', event => {
  const scope = self.registration.scope;
  const url = event.request.url;
  if (!url.startsWith(scope)) return;
  const m = /^(\d{1,5})(\/[^#]*)?$/.exec(url.slice(scope.length).replace(/#.*$/, ''));
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) {
    event.respondWith(text(404, `wemu: guest ports are served as ${scope}PORT/path\n`));
    return;
  }
  if (!m[2]) {
    event.respondWith(Response.redirect(`${scope}${m[1]}/`, 301));   // so the guest page's relative links resolve
    return;
  }
  event.respondWith(forward(event.request, Number(m[1]), m[2]));
});

function text(status, body) {
  return new Response(body, { status, headers: { 'content-type': 'text/plain; charset=utf-8',
    'cross-origin-embedder-policy': 'require-corp', 'cross-origin-resource-policy': 'same-origin' } });
}

async function forward(request, port, path) {
  const body = request.method === 'GET' || request.method === 'HEAD' ? null : await request.arrayBuffer();
  const message = { type: 'wemu-port-request', port, path, method: request.method, headers: [...request.headers], body };
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const client of windows) {
    if (client.url.startsWith(self.registration.scope)) continue;   // a guest's page, not the machine's
    const answer = await ask(client, message);
    if (!answer) continue;
    if (!answer.ok) return text(502, `wemu: guest port ${port}: ${answer.error}\n`);
    const headers = new Headers(answer.headers);
    // A page that is cross-origin isolated (COEP require-corp, as `./wemu serve` sends) embeds only documents
    // that are too: the guest's page gets the policy unless it chose one (its same-origin resources still load).
    if (!headers.has('cross-origin-embedder-policy')) headers.set('cross-origin-embedder-policy', 'require-corp');
    // (Sandboxed pages have an opaque origin: to them their own resources are cross-origin.)
    if (!headers.has('cross-origin-resource-policy')) headers.set('cross-origin-resource-policy', answer.sandbox ? 'cross-origin' : 'same-origin');
    // The guest's pages live on the page's origin: unless the page said it trusts the guest, they run sandboxed
    // (an opaque origin of their own: no cookies, storage or DOM of the page's origin for a hostile guest).
    if (answer.sandbox) headers.append('content-security-policy', 'sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads');
    return new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers });
  }
  return text(502, `wemu: no open page runs a machine that serves guest ports (vm.exposePorts())\n`);
}

/** Posts the request to one window; resolves with its answer, or null if it does not accept it in time. */
function ask(client, message) {
  return new Promise(resolve => {
    const channel = new MessageChannel();
    let timer = setTimeout(() => resolve(null), ACCEPT_MS);
    channel.port1.onmessage = ev => {
      clearTimeout(timer);
      if (ev.data && ev.data.accepted) {
        timer = setTimeout(() => resolve({ ok: false, error: 'the page did not answer in time' }), ANSWER_MS);
        return;
      }
      resolve(ev.data);
    };
    client.postMessage(message, [channel.port2]);
  });
}
