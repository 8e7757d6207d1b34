// The image the container tests and benchmarks run: the busybox image of oci_image.ts (two
// layers, the second whiting out /etc/motd) plus a third layer made with umoci: a symlink for
// every applet in /bin, /etc/passwd and /etc/group with a user `app` (1000:1000), /home/app owned
// by it (when the tests run as root, which umoci needs to record other owners), a root-only file
// /etc/secret (0600), /srv/www/index.html, and /var/cache/old removed (a second whiteout).
// Config: Cmd ["sh"], Env PATH=/bin and FOO=from-image, WorkingDir /srv.
// Cached under ~/.cache/rvisor/oci-ctr-<key> (busybox binary and recipe).
import { createHash } from "node:crypto";
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { busyboxLayout, run } from "./oci_image.js";
import { applets } from "../user/busybox.js";

const RECIPE = "ctr-image-v1";
export const IMAGE_TAG = "riscv64";
export const APP_UID = 1000;
const asRoot = process.getuid?.() === 0;
/** Whether the image records other owners than root (umoci unpacks and repacks as root only then). */
export const OWNERS_RECORDED = asRoot;

export function containerLayout(busybox: string): string {
  const key = createHash("sha256").update(RECIPE).update(readFileSync(busybox)).digest("hex").slice(0, 16);
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "rvisor", `oci-ctr-${key}`);
  if (existsSync(join(cache, "index.json"))) return cache;
  const base = busyboxLayout(busybox);
  const tmp = mkdtempSync(join(tmpdir(), "rvisor-ctr-img-"));
  const L = join(tmp, "layout"), B = join(tmp, "bundle"), R = join(B, "rootfs");
  cpSync(base, L, { recursive: true });
  const rootless = asRoot ? [] : ["--rootless"];
  run("umoci", ["unpack", ...rootless, "--image", `${L}:${IMAGE_TAG}`, B]);
  for (const a of applets(busybox)) if (a !== "busybox" && !existsSync(join(R, "bin", a))) symlinkSync("busybox", join(R, "bin", a));
  writeFileSync(join(R, "etc", "passwd"), `root:x:0:0:root:/root:/bin/sh\napp:x:${APP_UID}:${APP_UID}:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n`);
  writeFileSync(join(R, "etc", "group"), `root:x:0:\napp:x:${APP_UID}:\nnogroup:x:65534:\n`);
  writeFileSync(join(R, "etc", "secret"), "root only\n");
  chmodSync(join(R, "etc", "secret"), 0o600);
  mkdirSync(join(R, "home", "app"), { recursive: true });
  mkdirSync(join(R, "root"), { recursive: true });
  if (asRoot) chownSync(join(R, "home", "app"), APP_UID, APP_UID);
  mkdirSync(join(R, "srv", "www"), { recursive: true });
  writeFileSync(join(R, "srv", "www", "index.html"), "hello from the container\n");
  rmSync(join(R, "var", "cache", "old"));
  run("umoci", ["repack", "--image", `${L}:${IMAGE_TAG}`, B]);
  run("umoci", ["config", "--image", `${L}:${IMAGE_TAG}`, "--config.cmd", "sh", "--config.env", "FOO=from-image", "--config.workingdir", "/srv"]);
  mkdirSync(join(cache, ".."), { recursive: true });
  rmSync(cache, { recursive: true, force: true });
  renameSync(L, cache);
  rmSync(tmp, { recursive: true, force: true });
  return cache;
}
