#!/usr/bin/env node
// `npm run image`: builds (or finds in the cache) the default rvisor guest
// image: Linux 6.1 Image, busybox initramfs and an ext4 disk, all from Debian
// sources. See guest/README.md and scripts/lib/image.mjs.
//
//   node scripts/build-image.mjs               build if needed, print the paths
//   node scripts/build-image.mjs --print-path  print the image dir (no build)
//   node scripts/build-image.mjs --check       exit 0 if built, 1 if not
//   node scripts/build-image.mjs --json        print the paths as JSON
//   node scripts/build-image.mjs --verbose     stream compiler output
import { buildImage, imagePaths, missingDepsMessage } from './lib/image.mjs';

const args = new Set(process.argv.slice(2));
if (args.has('--help') || args.has('-h')) {
  console.log('usage: node scripts/build-image.mjs [--print-path | --check | --json] [--verbose]');
  process.exit(0);
}

function show(p) {
  if (args.has('--json')) { console.log(JSON.stringify({ dir: p.dir, kernel: p.kernel, initrd: p.initrd, initrdGz: p.initrdGz, rootfs: p.rootfs, ready: p.ready, hash: p.hash }, null, 2)); return; }
  console.log(`image: ${p.dir}`);
  console.log(`  kernel  ${p.kernel}`);
  console.log(`  initrd  ${p.initrd}  (gzip: ${p.initrdGz})`);
  console.log(`  rootfs  ${p.rootfs}`);
  console.log('  cmdline console=ttyS0   (+ quiet for less console output, earlycon=sbi for early messages)');
}

if (args.has('--print-path') || args.has('--check')) {
  const p = imagePaths();
  if (!p.dir) {
    console.error(missingDepsMessage() || 'image: cannot compute the image key');
    process.exit(2);
  }
  if (args.has('--print-path')) console.log(p.dir);
  process.exit(args.has('--check') && !p.ready ? 1 : 0);
}

try {
  const before = imagePaths();
  const p = await buildImage({ verbose: args.has('--verbose') });
  if (before.ready && !args.has('--json')) console.log('image: up to date (cached)');
  show(p);
} catch (e) {
  console.error(e.code === 'RVISOR_MISSING_DEPS' ? e.message : `image: build failed: ${e.stack || e.message}`);
  process.exit(1);
}
