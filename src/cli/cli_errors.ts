// The errors rvisor's commands report as one line (status 1) rather than as a crash. Imported
// only when a command fails, so that a successful command never loads the modules they live in.
import { LoadError } from "../system/loader.js";
import { ElfError } from "../memory/elf.js";
import { DiskLockError } from "../host/node/disk_lock.js";
import { DiskOpenError } from "../host/node/disk_image.js";
import { SnapshotError } from "../system/snapshot.js";
import { HostForwardError } from "../net/user_net.js";
import { SwitchJoinFailed } from "../host/node/switch_port.js";

export function isUserError(e: Error): boolean {
  return e instanceof LoadError || e instanceof ElfError || e instanceof DiskLockError || e instanceof DiskOpenError
    || e instanceof SnapshotError || e instanceof HostForwardError || e instanceof SwitchJoinFailed;
}
