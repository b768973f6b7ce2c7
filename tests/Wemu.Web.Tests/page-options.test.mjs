// The default page's URL handling (src/Wemu.Web/wwwroot/page-options.mjs, used by app.js): security
// review F14. A link must not set .NET runtime switches unless it asks for debug mode, and error
// text quoting user input must not drive the terminal.
// usage: node --test tests/Wemu.Web.Tests/page-options.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageOptions, terminalSafe } from '../../src/Wemu.Web/wwwroot/page-options.mjs';

test('runtime-option from the URL is ignored without debug=1', () => {
  for (const search of ['?runtime-option=--jiterpreter-stats-enabled', '?runtime-option=a&runtime-option=b',
    '?debug=0&runtime-option=a', '?debug=true&runtime-option=a', '?debug&runtime-option=a', '?DEBUG=1&runtime-option=a',
    '?args=-m%20128M&runtime-option=a']) {
    const o = pageOptions(search);
    assert.deepEqual(o.runtimeOptions, [], search);
    assert.equal(o.debug, false, search);
    assert.ok(o.ignored.length > 0, `${search}: the page warns about what it dropped`);
  }
});

test('runtime-option from the URL is passed on with debug=1', () => {
  const o = pageOptions('?debug=1&runtime-option=--a&runtime-option=--b%3D1');
  assert.equal(o.debug, true);
  assert.deepEqual(o.runtimeOptions, ['--a', '--b=1']);
  assert.deepEqual(o.ignored, []);
});

test('args come from the URL as before', () => {
  assert.equal(pageOptions('?args=-m%20128M%20-drive%20file%3Dimages%2Fx.img').args, '-m 128M -drive file=images/x.img');
  assert.equal(pageOptions('').args, '');
  assert.deepEqual(pageOptions('').runtimeOptions, []);
});

test('the guest comes from ?arch=, as the CLI\'s first word', () => {
  assert.equal(pageOptions('?arch=x86_64').arch, 'x86_64');
  assert.equal(pageOptions('?arch=x86_64&args=-m%20128M').args, '-m 128M');
  assert.equal(pageOptions('').arch, '');
});

test('terminal text carries no control sequences from user input', () => {
  const hostile = "unknown option '-\x1b]0;owned\x07\x1b[2J\x1b[31mx\x9b2J\x90q\x9c\r\x08\x00y'\nnext";
  const safe = terminalSafe(hostile);
  assert.doesNotMatch(safe.replaceAll('\r\n', '\n'), /[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  assert.equal(safe, "unknown option '-]0;owned[2J[31mx2Jqy'\r\nnext");
  assert.equal(terminalSafe('plain text\twith tab'), 'plain text\twith tab');
  assert.equal(terminalSafe('é ü 日本'), 'é ü 日本');
});

test('the page takes its URL options only through pageOptions, and its error line through terminalSafe', async () => {
  const fs = await import('node:fs');
  const app = fs.readFileSync(new URL('../../src/Wemu.Web/wwwroot/app.js', import.meta.url), 'utf8');
  assert.match(app, /pageOptions\(location\.search\)/);
  assert.doesNotMatch(app, /URLSearchParams|getAll\(/, 'app.js reads the URL itself');
  const writes = app.match(/\bwrite\([^\n]*\)/g) || [];   // term.write, and write() that keeps text until the terminal exists
  for (const w of writes.filter(w => /error/.test(w)))
    assert.match(w, /terminalSafe\(/, `unfiltered error text: ${w}`);
  assert.ok(writes.some(w => /terminalSafe\(vm\.error\)/.test(w)));
});
