// Which snapshots the in-tab VM can take and restore (worker.ts), as plain functions so they are
// tested under Node (tab_snapshot_test.ts). A snapshot holds RAM and device state but no disk
// contents (docs/snapshot.md, "Disks"), so:
//   restore  a machine with only the virtio devices every board has (rng, console), plus any
//            network cards: the tab cannot reach the host's disk images or shared folders, nor
//            give the disk state of the snapshot's instant, so a snapshot with a disk or a share
//            is refused, saying so, and the tab's machine runs on. (rvisor's guest image runs
//            from its initramfs: its VMs need no disk.) A network card (managed VMs have one by
//            default) continues with its cable pulled: the tab has no network to offer, so what
//            the guest sends is dropped and nothing arrives, as on an unplugged port.
//   take     any machine whose disk (the HTTP range disk of the guest image) has no writes: the
//            snapshot then fits the image as served, and `rvisor run --restore FILE --drive
//            file=rootfs.ext4,format=raw` (a copy of that image) continues it. Once the guest
//            has written to the disk, the writes live only in this tab: refused.
import type { BoardConfig } from "../../system/machine.js";
import { VIRTIO_ID_BLOCK } from "../../system/devices/virtio_blk.js";
import { VIRTIO_ID_CONSOLE } from "../../system/devices/virtio_console.js";
import { VIRTIO_ID_9P } from "../../system/devices/virtio_9p.js";
import { VIRTIO_ID_NET } from "../../system/devices/virtio_net.js";
import type { NetBackend } from "../../net/backend.js";

/** virtio 1.2 section 5.4: the entropy device's id. */
export const VIRTIO_ID_RNG = 4;

const DEVICE_NAMES: Record<number, string> = { [VIRTIO_ID_BLOCK]: "a disk", [VIRTIO_ID_9P]: "a shared folder (9P)" };
/** Devices the tab restores: every board's, and network cards (unplugged, see above). */
const TAB_DEVICES = new Set([VIRTIO_ID_CONSOLE, VIRTIO_ID_RNG, VIRTIO_ID_NET]);

/** A network card's backend with nothing behind it: frames the guest sends go nowhere. */
export class UnpluggedNet implements NetBackend {
  attach(): void { /* nothing will ever be delivered */ }
  transmit(): void { /* dropped, as on a port with no cable */ }
  rxReady(): void { /* nothing queued */ }
}

/** How many network cards the snapshot's board has (each gets an UnpluggedNet in the tab). */
export function tabNicCount(board: BoardConfig): number {
  return (Array.isArray(board.virtio) ? board.virtio : []).filter((v) => v.deviceId === VIRTIO_ID_NET).length;
}

/** Why the tab cannot restore a snapshot of this board, or null. */
export function tabRestoreProblem(board: BoardConfig): string | null {
  const extra = (Array.isArray(board.virtio) ? board.virtio : []).map((v, i) => ({ i, v }))
    .filter(({ v }) => !TAB_DEVICES.has(v.deviceId));
  if (extra.length === 0) return null;
  const what = extra.map(({ i, v }) => `virtio${i}: ${DEVICE_NAMES[v.deviceId] ?? `device ${v.deviceId}`}` +
    `${v.disk !== undefined ? ` of ${v.disk.capacitySectors} sectors` : ""}${v.tag !== undefined ? ` '${v.tag}'` : ""}`).join(", ");
  return `this snapshot's machine has ${what}. The in-tab VM restores only machines without disks or shares: ` +
    "a snapshot does not carry disk contents, and the tab cannot reach the host's images (restore it with rvisor run --restore or rvisor restore instead)";
}

/** Why the tab cannot snapshot its machine now, or null. `diskWrittenBytes`: null without a disk. */
export function tabSnapshotProblem(diskWrittenBytes: number | null): string | null {
  if (diskWrittenBytes === null || diskWrittenBytes === 0) return null;
  return `the root disk has ${Math.ceil(diskWrittenBytes / 1024)} KiB of writes kept only in this tab, which a snapshot does not carry: ` +
    "it would not restore anywhere else (boot with ?disk=0, or take the snapshot before writing to /dev/vda)";
}
