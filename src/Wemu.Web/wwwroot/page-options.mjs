// What the default page (app.js) takes from its URL, and how text it did not write itself reaches
// the terminal. Plain functions with no DOM, so Node tests import them (tests/Wemu.Web.Tests).
//
// A link is untrusted input: anyone can send one. `?args=` is the point of the page (the same flags
// as the CLI, parsed by the emulator, which refuses what it does not know). `?runtime-option=`
// reaches .NET's runtime switches, which no link should set: it is honoured only with `?debug=1`.

/** The URL parameter that enables measurement hooks (`?debug=1&runtime-option=...`). */
export const DEBUG_PARAM = 'debug';

/**
 * Reads the page's query string: {arch, args, persist, debug, runtimeOptions, ignored}; `ignored` lists the
 * runtime options dropped because debug was not set (for a console warning).
 */
export function pageOptions(search) {
  const params = new URLSearchParams(search);
  const debug = params.get(DEBUG_PARAM) === '1';
  const requested = params.getAll('runtime-option');
  return {
    arch: params.get('arch') || '',   // the guest (riscv64, x86_64): the first of the flags, as on the CLI
    args: params.get('args') || '',
    persist: params.getAll('persist').filter(Boolean),   // persistent disks: the first -drive(s)' writes kept in this browser
    debug,
    runtimeOptions: debug ? requested : [],
    ignored: debug ? [] : requested,
  };
}

/**
 * Text for the terminal that cannot drive it: C0 and C1 control characters (ESC, CSI, OSC, BEL...)
 * except tab and newline are dropped, and newlines become CR LF. For error messages, which can
 * quote user input (flags from the URL, file names); the guest's own serial output is not filtered.
 */
export function terminalSafe(text) {
  return String(text).replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '').replace(/\n/g, '\r\n');
}
