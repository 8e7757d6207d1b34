#!/usr/bin/env node
// Boots the guest image in real QEMU and drives its console, as a reference
// for what rvisor must do with the same files. Not part of `npm test`.
//
//   node scripts/lib/qemu-smoke.mjs [--dir <image dir>] [--kernel F --initrd F --rootfs F]
//        [--bios default|<fw_jump.bin>] [--smp N] [--gz] [--no-9p] [--append "..."]
//
// Prints the time from QEMU start to the "rvisor guest ready" banner and to the
// first prompt, then runs a few commands and `poweroff`, and checks QEMU exits.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { imagePaths } from './image.mjs';

const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : def; };
const flag = (name) => argv.includes(name);

const img = opt('--dir') ? { dir: opt('--dir') } : imagePaths();
const kernel = opt('--kernel', img.dir && path.join(img.dir, 'Image'));
const initrd = opt('--initrd', img.dir && path.join(img.dir, flag('--gz') ? 'initramfs.cpio.gz' : 'initramfs.cpio'));
const rootfs = opt('--rootfs', img.dir && path.join(img.dir, 'rootfs.ext4'));
const bios = opt('--bios', 'default');
const append = opt('--append', 'console=ttyS0');
const smp = opt('--smp', '2');
const timeoutMs = Number(opt('--timeout', '120')) * 1000;

const share = fs.mkdtempSync(path.join(os.tmpdir(), 'rvisor-9p-'));
fs.writeFileSync(path.join(share, 'hello.txt'), 'hello from the host\n');
// The disk is opened read-write by QEMU; work on a copy so the cached image stays pristine.
const disk = path.join(share, '..', path.basename(share) + '.ext4');
fs.copyFileSync(rootfs, disk);

const qargs = ['-M', 'virt', '-smp', smp, '-m', '256M', '-nographic', '-bios', bios,
  '-kernel', kernel, '-initrd', initrd, '-append', append,
  '-drive', `file=${disk},format=raw,if=none,id=d0`, '-device', 'virtio-blk-device,drive=d0'];
if (!flag('--no-9p')) qargs.push('-device', 'virtio-9p-device,fsdev=f0,mount_tag=host', '-fsdev', `local,id=f0,path=${share},security_model=none`);

console.log(`qemu-system-riscv64 ${qargs.join(' ')}`);
const t0 = process.hrtime.bigint();
const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
const q = spawn('qemu-system-riscv64', qargs, { stdio: ['pipe', 'pipe', 'inherit'] });
let buf = '';
let all = '';
q.stdout.on('data', (d) => { const s = d.toString('latin1'); buf += s; all += s; if (flag('--echo')) process.stdout.write(s); });
let exited = null;
const exitP = new Promise((r) => q.on('exit', (code, sig) => { exited = { code, sig, at: ms() }; r(exited); }));
const killer = setTimeout(() => { console.error('TIMEOUT; console so far:\n' + all.slice(-3000)); q.kill('SIGKILL'); process.exit(1); }, timeoutMs);

async function expect(re, what = String(re)) {
  for (;;) {
    const m = buf.match(re);
    if (m) { buf = buf.slice(m.index + m[0].length); return m; }
    if (exited) throw new Error(`QEMU exited while waiting for ${what}; output:\n${all.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
const PROMPT = /\n[^\n]*[#$] $/;
async function cmd(line) {
  buf = '';
  q.stdin.write(line + '\n');
  await expect(PROMPT, `prompt after ${line}`);
}

const results = {};
try {
  await expect(/rvisor guest ready/, 'banner');
  results.bannerMs = Math.round(ms());
  await expect(/~ # $/, 'first prompt');
  results.promptMs = Math.round(ms());
  const checks = [
    ['uname -a', /Linux rvisor 6\.1\.\S+ #1 SMP .* riscv64 GNU\/Linux/],
    ['grep -c ^processor /proc/cpuinfo; head -12 /proc/cpuinfo', /isa\s*: rv64/],
    ['mount /dev/vda /mnt && ls /mnt && cat /mnt/etc/hostname && umount /mnt', /lost\+found[\s\S]*\nrvisor/],
    ['mount -t 9p -o trans=virtio host /mnt && cat /mnt/hello.txt && echo guest-wrote > /mnt/from-guest.txt && umount /mnt', /hello from the host/],
    ['sleep 1 & jobs; wait; echo job-control-ok', /\[1\]\+\s+Running\s+sleep 1[\s\S]*job-control-ok/],
    ['cat /proc/cmdline; cat /sys/class/rtc/rtc0/name; dmesg | grep -iE "clocksource|sched_clock|sstc|console|printk:" | head', /rtc/],
  ];
  if (flag('--no-9p')) checks.splice(3, 1);
  for (const [c, re] of checks) {
    const s = ms();
    const from = all.length;
    await cmd(c);
    // Drop ANSI colour/line-editing escapes and the echoed command line.
    const out = all.slice(from).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
    const ok = re.test(out);
    console.log(`--- ${c}  [${ok ? 'ok' : 'FAIL'}, ${Math.round(ms() - s)} ms]\n${out.slice(out.indexOf('\n') + 1).trim()}`);
    if (!ok) results.failed = (results.failed || 0) + 1;
  }
  {
    // Ctrl-C must reach the foreground job (the shell owns the console as its ctty).
    const s = ms();
    buf = '';
    q.stdin.write('sleep 30\n');
    await new Promise((r) => setTimeout(r, 500));
    q.stdin.write('\x03');
    await expect(PROMPT, 'prompt after ^C');
    const ok = ms() - s < 20000;
    console.log(`--- sleep 30 + ^C  [${ok ? 'ok' : 'FAIL'}, ${Math.round(ms() - s)} ms]`);
    if (!ok) results.failed = (results.failed || 0) + 1;
  }
  if (!flag('--no-9p')) {
    const wrote = fs.existsSync(path.join(share, 'from-guest.txt'));
    console.log(`9p write seen on host: ${wrote}`);
    if (!wrote) results.failed = (results.failed || 0) + 1;
  }
  const tp = ms();
  q.stdin.write('poweroff\n');
  const ex = await Promise.race([exitP, new Promise((r) => setTimeout(() => r(null), 20000))]);
  results.poweroff = ex ? `QEMU exited (code ${ex.code}) ${Math.round(ex.at - tp)} ms after poweroff` : 'QEMU did NOT exit after poweroff';
  if (!ex) results.failed = (results.failed || 0) + 1;
} catch (e) {
  console.error(e.message);
  results.failed = (results.failed || 0) + 1;
}
clearTimeout(killer);
if (!exited) q.kill('SIGKILL');
fs.rmSync(share, { recursive: true, force: true });
fs.rmSync(disk, { force: true });
console.log(JSON.stringify({ bios, smp, append, ...results }));
process.exit(results.failed ? 1 : 0);
