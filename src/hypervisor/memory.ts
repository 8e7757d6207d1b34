// The memory a VM's host process may use: its guest RAM plus a bounded host overhead.
//
// Guest RAM is one WebAssembly.Memory of exactly the VM's size, allocated at start and never
// grown, so the guest cannot take more than its RAM however it behaves (a guest that exhausts it
// meets its own kernel's OOM killer). The host side — Node itself, the JavaScript heap (capped by
// VM_HEAP_LIMIT_MIB through --max-old-space-size), decoded-code caches and JIT modules, disk and
// console buffers — is the overhead. The VM process compares its resident size with
// memoryCapBytes() twice a second and ends the run with an error past it (src/host/node/vm_process.ts),
// so a host-side leak stops one VM instead of pressing on the others. README ("Persistent VMs") has the
// measured figures these bounds leave room for.

const MIB = 1 << 20;

/** The V8 old-space limit of a VM process (--max-old-space-size, MiB). */
export const VM_HEAP_LIMIT_MIB = 96;
/** The V8 young generation's semi-space (--max-semi-space-size, MiB): small, so idle VMs stay small (1 rather than 2: −2 MiB). */
export const VM_SEMI_SPACE_MIB = 1;
/**
 * V8's background threads (--v8-pool-size): concurrent marking, background compilation of
 * JavaScript and of the JIT's WebAssembly. One rather than one per core: each thread costs its
 * stack and its own malloc arena, −6 to −7 MiB of private memory per idle VM (measured,
 * README "Persistent VMs"); the work still runs off the main thread.
 */
export const VM_V8_POOL_SIZE = 1;

/**
 * Host overhead a VM process may add on top of its guest RAM (MiB): Node's own resident size
 * (about 40 MiB, mostly the shared executable), the capped heap, code caches and JIT modules.
 */
export const VM_HOST_OVERHEAD_MIB = 192;

/** The resident size past which a VM process stops its guest (bytes). */
export function memoryCapBytes(memoryMib: number): number {
  return (memoryMib + VM_HOST_OVERHEAD_MIB) * MIB;
}

/**
 * Test only: a VM process started with this variable set to N allocates (and touches) N MiB of
 * host memory every MEMORY_GROW_MS, as a host-side leak would, so that tests can watch the cap
 * act (a guest cannot grow its process past its fixed RAM: that is the point of the design).
 */
export const TEST_HOST_GROW_ENV = "RVISOR_TEST_HOST_GROW_MIB";
export const TEST_HOST_GROW_MS = 100;

/** Node options every VM process is started with. */
export function vmNodeOptions(): string[] {
  // --expose-gc: the VM process collects once after loading a snapshot, so the file's bytes
  // (as large as the guest RAM it held) do not stay resident in an idle VM whose heap never fills.
  return [`--max-old-space-size=${VM_HEAP_LIMIT_MIB}`, `--max-semi-space-size=${VM_SEMI_SPACE_MIB}`, `--v8-pool-size=${VM_V8_POOL_SIZE}`, "--expose-gc"];
}
