// The ISA a hart implements: one registry of extensions, the profiles built from them, and
// every view of the set that software reads — misa, the ISA string, the device tree's
// riscv,isa-base/riscv,isa-extensions, riscv_hwprobe. A machine picks one Isa (`--cpu`), hands it
// to its CodeCache (whose decoder accepts only that ISA's instructions) and all harts use it.
//
// Names and order follow the ISA manual's naming chapter ("ISA Extension Naming Conventions"):
// single letters in canonical order, then Z extensions grouped by the letter after Z in
// canonical order (Zi*, Zm*, Za*, Zf*, Zd*, Zc*, Zb*, Zk*...), then S extensions; alphabetical
// within a group.

/** Every extension rvisor knows, with what it needs (its "implies" list). */
export const EXTENSIONS = {
  // Single-letter extensions (misa bits).
  i: [], m: [], a: [], f: ["zicsr"], d: ["f"], c: [],
  // Unprivileged Z extensions.
  zicbom: [], zicbop: [], zicboz: [], zicntr: ["zicsr"], zicond: [], zicsr: [], zifencei: [],
  zihintntl: [], zihintpause: [], zihpm: ["zicsr"], zimop: [],
  zmmul: [],
  zawrs: [],
  zfa: ["f"], zfh: ["zfhmin"], zfhmin: ["f"],
  zca: [], zcb: ["zca"], zcd: ["zca", "d"], zcmop: ["zca"],
  zba: [], zbb: [], zbc: [], zbkb: [], zbkc: [], zbkx: [], zbs: [],
  zkt: [],
  // Privileged S extensions.
  sdtrig: [], smstateen: [], ssstateen: [], sstc: [], svadu: [], svinval: [], svnapot: [], svpbmt: [],
} as const satisfies Record<string, readonly string[]>;

export type ExtName = keyof typeof EXTENSIONS;

/** misa bit of each single-letter extension present (plus S and U, set for every profile). */
const MISA_LETTERS: Partial<Record<ExtName, number>> = { a: 0, c: 2, d: 3, f: 5, i: 8, m: 12 };
const MISA_S = 1 << 18, MISA_U = 1 << 20;

const RV64GC: readonly ExtName[] = ["i", "m", "a", "f", "d", "c", "zicsr", "zifencei", "zicntr", "zca", "zcd", "zmmul"];

/**
 * RVA22U64 + RVA22S64 mandatory extensions (RISC-V Profiles, "RVA22 Profiles"), as far as they
 * are instructions or CSRs. The profile's "behaviour" extensions (Ziccif, Ziccrse, Ziccamoa,
 * Zicclsm, Za64rs, Zic64b, Svbare, Svade, Ssccptr, Sstvecd, Sstvala, Sscounterenw) hold for
 * rvisor by construction; like QEMU 7.2 it does not list them.
 */
const RVA22: readonly ExtName[] = [
  ...RV64GC, "zihpm", "zihintpause", "zba", "zbb", "zbs", "zicbom", "zicbop", "zicboz", "zfhmin", "zkt",
  "svpbmt", "svinval",
];

/** Everything rvisor implements: RVA22 plus the optional and cheap extensions. */
const MAX: readonly ExtName[] = [
  ...RVA22, "zicond", "zihintntl", "zimop", "zcmop", "zcb", "zawrs", "zfa", "zfh", "zbc", "zbkb", "zbkc", "zbkx",
  "sstc", "svnapot", "svadu", "smstateen", "ssstateen", "sdtrig",
];

export const PROFILES = { rv64gc: RV64GC, rva22: RVA22, max: MAX } as const;
export type CpuProfile = keyof typeof PROFILES;
export const DEFAULT_PROFILE: CpuProfile = "max";

/** Canonical order of the groups (ISA manual naming chapter): the letter after Z or S. */
const LETTER_ORDER = "imafdqlcbkjtpvnh";

function groupRank(e: string): number {
  if (e.length === 1) return LETTER_ORDER.indexOf(e);
  if (e[0] === "z") return 100 + LETTER_ORDER.indexOf(e[1] as string);
  return 200; // s*
}

function compareExt(a: string, b: string): number {
  const d = groupRank(a) - groupRank(b);
  return d !== 0 ? d : a < b ? -1 : a > b ? 1 : 0;
}

export class Isa {
  private readonly set: ReadonlySet<ExtName>;
  /** The extensions, closed under "implies", in canonical order. */
  readonly extensions: readonly ExtName[];

  constructor(exts: readonly ExtName[], readonly profile: CpuProfile | "custom" = "custom") {
    const set = new Set<ExtName>();
    const add = (e: ExtName): void => {
      if (set.has(e)) return;
      set.add(e);
      for (const dep of EXTENSIONS[e] as readonly ExtName[]) add(dep);
    };
    for (const e of exts) add(e);
    this.set = set;
    this.extensions = [...set].sort(compareExt);
  }

  static profile(p: CpuProfile): Isa { return new Isa(PROFILES[p], p); }

  has(e: ExtName): boolean { return this.set.has(e); }

  /** misa's extension bits (MXL is added by the hart). */
  misa(): number {
    let m = MISA_S | MISA_U;
    for (const e of this.extensions) { const b = MISA_LETTERS[e]; if (b !== undefined) m |= 1 << b; }
    return m;
  }

  /** The legacy `riscv,isa` string: rv64 + letters + _z.../_s... (e.g. rv64imafdc_zicsr_...). */
  isaString(): string {
    const letters = this.extensions.filter((e) => e.length === 1).join("");
    const multi = this.extensions.filter((e) => e.length > 1);
    return ["rv64" + letters, ...multi].join("_");
  }

  /** `riscv,isa-base` (devicetree bindings, riscv/extensions.yaml). */
  isaBase(): string { return "rv64i"; }

  /** `riscv,isa-extensions`: every extension, single letters first, as Linux's binding lists them. */
  isaExtensions(): string[] { return [...this.extensions]; }
}
