#!/usr/bin/env node
// `npm start`: builds the default guest image when it is missing, then boots it to a shell.
// Extra arguments are passed to `rvisor run` (e.g. `npm start -- --smp 2 --mem 512M`).
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildImage, cacheRoot } from "./lib/image.mjs";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
let img;
try {
  img = await buildImage({ log: (s) => process.stderr.write(`${s}\n`) });
} catch (e) {
  process.stderr.write(`npm start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
// A writable disk of the user's own, made once from the image's ext4 root filesystem.
const disk = path.join(cacheRoot(), "disk.ext4");
if (!existsSync(disk)) copyFileSync(img.rootfs, disk);
const args = [
  path.join(repo, "bin", "rvisor.js"), "run",
  "--kernel", img.kernel,
  "--initrd", img.initrd,
  "--append", "console=ttyS0 quiet",
  "--drive", `file=${disk},format=raw`,
  ...process.argv.slice(2),
];
process.stderr.write(`booting: rvisor ${args.slice(1).join(" ")}\n(Ctrl-A x quits; 'poweroff' shuts the guest down; the disk is /dev/vda: mount /dev/vda /mnt)\n`);
const r = spawnSync(process.execPath, args, { stdio: "inherit" });
process.exit(r.status ?? 1);
