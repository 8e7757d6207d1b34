// Host-wide limits, Incus-style: aggregate caps checked when a VM is created or started, refused
// with a message that names the limit and its value.
//   limits.instances  VMs defined on this host (checked at create)
//   limits.cpu        vCPUs of the running VMs together (checked at start; at create a VM
//                     that alone exceeds it is refused)
//   limits.memory     guest RAM of the running VMs together (likewise)
// Set in RVISOR_HOME/config.json as {"limits.instances": 4, "limits.cpu": 8, "limits.memory": "4G"}
// or by the environment (RVISOR_LIMITS_INSTANCES, RVISOR_LIMITS_CPU, RVISOR_LIMITS_MEMORY), which wins.
import { formatMib, parseSizeMib, VmConfigError, type VmConfig } from "./config.js";

export interface HostLimits {
  instances: number | null;
  cpu: number | null;
  memoryMib: number | null;
}

export const LIMIT_KEYS = ["limits.instances", "limits.cpu", "limits.memory"] as const;
type LimitKey = typeof LIMIT_KEYS[number];
const ENV_OF: Record<LimitKey, string> = {
  "limits.instances": "RVISOR_LIMITS_INSTANCES", "limits.cpu": "RVISOR_LIMITS_CPU", "limits.memory": "RVISOR_LIMITS_MEMORY",
};

function count(v: unknown, where: string): number {
  const n = typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0) throw new VmConfigError(where, `must be a whole number (got ${String(v)})`);
  return n;
}

/** Reads the limits from the host config object (RVISOR_HOME/config.json) and the environment. */
export function parseLimits(hostConfig: unknown, env: Readonly<Record<string, string | undefined>>): HostLimits {
  const cfg: Record<string, unknown> = typeof hostConfig === "object" && hostConfig !== null && !Array.isArray(hostConfig)
    ? hostConfig as Record<string, unknown> : {};
  const pick = (k: LimitKey): { v: unknown; where: string } | null => {
    const e = env[ENV_OF[k]];
    if (e !== undefined && e !== "") return { v: e, where: ENV_OF[k] };
    return cfg[k] === undefined || cfg[k] === null ? null : { v: cfg[k], where: k };
  };
  const inst = pick("limits.instances"), cpu = pick("limits.cpu"), mem = pick("limits.memory");
  return {
    instances: inst === null ? null : count(inst.v, inst.where),
    cpu: cpu === null ? null : count(cpu.v, cpu.where),
    memoryMib: mem === null ? null : parseSizeMib(mem.v, mem.where),
  };
}

/** Why creating `vm` next to `defined` VMs is refused, or null. */
export function createRefusal(limits: HostLimits, definedCount: number, vm: VmConfig): string | null {
  if (limits.instances !== null && definedCount + 1 > limits.instances) {
    return `creating VM '${vm.name}' would exceed limits.instances=${limits.instances} (${definedCount} VMs defined)`;
  }
  if (limits.cpu !== null && vm.cpus > limits.cpu) return `VM '${vm.name}' has ${vm.cpus} vCPUs, more than limits.cpu=${limits.cpu}`;
  if (limits.memoryMib !== null && vm.memoryMib > limits.memoryMib) {
    return `VM '${vm.name}' has ${formatMib(vm.memoryMib)} of memory, more than limits.memory=${formatMib(limits.memoryMib)}`;
  }
  return null;
}

/** Why starting `vm` while `running` VMs run is refused, or null. */
export function startRefusal(limits: HostLimits, running: readonly VmConfig[], vm: VmConfig): string | null {
  const cpus = running.reduce((s, v) => s + v.cpus, 0);
  const mib = running.reduce((s, v) => s + v.memoryMib, 0);
  if (limits.cpu !== null && cpus + vm.cpus > limits.cpu) {
    return `starting VM '${vm.name}' would exceed limits.cpu=${limits.cpu} (${cpus} vCPUs in use, ${vm.cpus} requested)`;
  }
  if (limits.memoryMib !== null && mib + vm.memoryMib > limits.memoryMib) {
    return `starting VM '${vm.name}' would exceed limits.memory=${formatMib(limits.memoryMib)} ` +
      `(${formatMib(mib)} in use, ${formatMib(vm.memoryMib)} requested)`;
  }
  return null;
}
