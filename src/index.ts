// The package entry: `import { Hypervisor } from "rvisor"`. The Node API of rvisor's persistent
// VMs (the same code the CLI verbs and the REST server use), its types, the one VmConfig parser,
// and the REST server for programs that embed it.
export { Hypervisor, DEFAULT_STOP_TIMEOUT_MS, type HypervisorOptions, type LogsOptions, type StopOptions } from "./host/node/hypervisor.js";
export { HypervisorError, type HypervisorErrorKind, type StopResult, type VmConfigInput, type VmExitRecord, type VmInfo, type VmSummary } from "./hypervisor/api.js";
export {
  parseVmConfig, VmConfigError, CPUS_MAX, CPUS_MIN, MEMORY_MIB_MAX, MEMORY_MIB_MIN,
  type BootConfig, type DiskConfig, type DiskFormat, type ShareConfig, type VmConfig,
} from "./hypervisor/config.js";
export type { RunState, VmState, VmStatus } from "./hypervisor/control.js";
export { ApiServer, type ApiServerOptions } from "./api/server.js";
export { openApiDocument } from "./api/openapi.js";
