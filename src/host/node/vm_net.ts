// The network cards of a managed VM (VmConfig.network) on the host side: the same backends as
// `rvisor run --net` (user-mode NAT with its forwards, or a port on a VM switch), opened once per
// VM process and kept across guest reboots and restores (as QEMU keeps its slirp instance).
import type { NetInterfaceConfig, VmConfig } from "../../hypervisor/config.js";
import { ip4 } from "../../net/packet.js";
import { HostForwardError, USER_NET_DEFAULTS, UserNet } from "../../net/user_net.js";
import type { NetBackend } from "../../net/backend.js";
import { parseMac } from "../../system/devices/virtio_net.js";
import { NodeNetHost } from "./net_host.js";
import { SwitchJoinFailed, SwitchPort } from "./switch_port.js";
import { VmBuildError } from "./virt_build.js";

export interface VmNics {
  nics: { backend: NetBackend; mac: Uint8Array }[];
  close(): void;
}

function userNet(host: NodeNetHost, n: NetInterfaceConfig, wake: () => void): UserNet {
  return new UserNet(host, {
    config: {
      ...USER_NET_DEFAULTS, restrict: n.restrict,
      hostfwd: n.hostfwd.map((f) => ({ proto: f.proto, hostAddr: f.hostAddr, hostPort: f.hostPort, guestAddr: f.guestAddr === null ? null : ip4(f.guestAddr), guestPort: f.guestPort })),
    },
    onAsyncFrame: wake,
  });
}

/** Opens every card of `cfg` (forwards listening, switch ports joined); a taken port fails with VmBuildError and nothing left open. */
export async function openVmNics(cfg: VmConfig, home: string, wake: () => void): Promise<VmNics> {
  const host = new NodeNetHost();
  const backends: (UserNet | SwitchPort)[] = [];
  const nics: VmNics["nics"] = [];
  try {
    for (const [i, n] of cfg.network.entries()) {
      const mac = parseMac(n.mac);
      if (mac === null) throw new VmBuildError(`network[${i}] (${n.id}): bad MAC '${n.mac}'`);
      if (n.type === "user") {
        const u = userNet(host, n, wake);
        backends.push(u);
        try { await u.startForwards(); } catch (e) {
          if (e instanceof HostForwardError) throw new VmBuildError(`network[${i}] (${n.id}): ${e.message}`);
          throw e;
        }
        nics.push({ backend: u, mac });
      } else {
        try {
          const p = await SwitchPort.open({ root: home, switchName: n.switch ?? "", vmName: cfg.name, mac: n.mac, onAsyncFrame: wake });
          backends.push(p);
          nics.push({ backend: p, mac });
        } catch (e) {
          if (e instanceof SwitchJoinFailed) throw new VmBuildError(`network[${i}] (${n.id}): ${e.message}`);
          throw e;
        }
      }
    }
  } catch (e) {
    for (const b of backends) b.close();
    throw e;
  }
  return { nics, close: () => { for (const b of backends) b.close(); } };
}
