// Boots a machine command to its shell prompt, optionally runs a workload, powers off,
// and prints JSON timings: {bootSeconds, workloadSeconds, totalSeconds, output}.
// --poke: press Enter at once (a machine resumed with -incoming sits at its prompt and prints it only when asked).
// usage: node run-guest.js [--workload "CMD"] [--poke] -- command args...
'use strict';
const { spawn } = require('child_process');
const argv = process.argv.slice(2);
let workload = null, poke = false;
const sep = argv.indexOf('--');
for (let i = 0; i < sep; i++) { if (argv[i] === '--workload') workload = argv[++i]; else if (argv[i] === '--poke') poke = true; }
const cmd = argv.slice(sep + 1);
const t0 = process.hrtime.bigint();
const secs = () => Number(process.hrtime.bigint() - t0) / 1e9;
const child = spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
if (poke) child.stdin.write('\n');
let out = '', err = '', stage = 'boot', bootAt = 0, workStart = 0, workAt = 0, workOut = '';
const timer = setTimeout(() => { console.error('timeout in stage ' + stage + '\n' + out.slice(-2000)); child.kill('SIGKILL'); process.exit(1); }, 600000);
child.stderr.on('data', d => { err += d; });
child.stdout.on('data', d => {
  out += d.toString('latin1');
  if (stage === 'boot' && out.includes('/ # ')) {
    bootAt = secs(); out = '';
    if (workload) { stage = 'work'; workStart = secs(); child.stdin.write(workload + '; echo WORK""DONE\n'); }
    else { stage = 'off'; child.stdin.write('poweroff\n'); }
  } else if (stage === 'work' && /WORKDONE\r?\n/.test(out)) {
    workAt = secs(); workOut = out; stage = 'off'; child.stdin.write('poweroff\n');
  }
});
child.on('exit', code => {
  clearTimeout(timer);
  console.log(JSON.stringify({ exit: code, bootSeconds: bootAt, workloadSeconds: workload ? workAt - workStart : null,
    totalSeconds: secs(), output: out.slice(-400), workOutput: workOut.slice(-4000), stderr: err.slice(-4000) }));
});
