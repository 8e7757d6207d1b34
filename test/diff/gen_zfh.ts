// Random Zfh/Zfhmin items for the differential fuzzer (test/diff/gen.ts runs them against
// QEMU with -cpu rv64,Zfh=true,Zfhmin=true). Each item is one half-precision instruction, or
// the injection of a special value: half NaNs (quiet, signalling, with payloads), infinities,
// zeros, subnormals, values next to rounding ties, overflow and the integer limits, written
// NaN-boxed or deliberately not (boxed as a single, a zero bit in the box, raw doubles).
//
// The chunk's initial f registers are random doubles, which are mostly not boxed halves; so
// operands are drawn mostly from f0..f7, which special-value items keep refilling.
import { type ExtGroup, type Rng, type Item, SCRATCH_BYTES } from "./gen.js";

const hex16 = (v: number): string => "0x" + (v & 0xffff).toString(16).padStart(4, "0");

/** binary16 specials and edge values. */
const H_SPECIALS: readonly number[] = [
  0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x7c01, 0x7d00, 0xfd55, 0x7e55, 0x7fff,
  0x0001, 0x8001, 0x0002, 0x03ff, 0x83ff, 0x0400, 0x8400, 0x0401, 0x07ff, 0x7bff, 0xfbff, 0x7bfe,
  0x3c00, 0xbc00, 0x3c01, 0x3bff, 0x3800, 0xb800, 0x4000, 0x4200, 0x4100, 0xc100, 0x3e00,
  0x1000, 0x0c00, 0x0200, 0x3555, 0x4248, 0x5bff, 0x6800, 0x6801, 0x67ff, 0x63ff, 0x7800, 0x4c00,
];

/** Integers for fcvt.h.*: half limits, ties, and the 32/64-bit edges. */
const INT_SOURCES: readonly string[] = [
  "0", "1", "-1", "3", "2049", "-2049", "4097", "65504", "65505", "65519", "65520", "-65520",
  "65536", "0x7fffffff", "0x80000000", "0xffffffff", "0x7fffffffffffffff", "0x8000000000000000",
  "0xffffffffffffffff", "0x100000000", "0xffffffff00000003", "-65504", "2048", "1023",
];

const RMS: readonly string[] = ["rne", "rtz", "rdn", "rup", "rmm", "dyn"];

/** An f register: mostly f0..f7 (refilled by special-value items), sometimes any. */
function fr(r: Rng): string {
  return `f${r.chance(80) ? r.int(8) : r.int(32)}`;
}
const xr = (r: Rng): string => `x${r.int(32)}`; // may be x0
/** Scratch registers for injected values and addresses (never x0). */
const tmp = (r: Rng): string => `x${5 + r.int(3)}`;
const rm = (r: Rng): string => r.pick(RMS);

/** A half bit pattern: special, random with edge-biased exponent, or fully random. */
function randomHalf(r: Rng): number {
  switch (r.int(4)) {
    case 0:
    case 1:
      return r.pick(H_SPECIALS);
    case 2: {
      const e = r.pick([0, 1, 2, 13, 14, 15, 16, 17, 29, 30, r.int(32)]);
      return ((r.int(2) << 15) | (e << 10) | (r.u32() & 0x3ff)) & 0xffff;
    }
    default:
      return r.u32() & 0xffff;
  }
}

/** Loads a half into an f register: boxed (fmv.h.x or a boxed fmv.d.x) or deliberately not. */
function inject(r: Rng): string {
  const t = tmp(r), f = fr(r), h = randomHalf(r);
  switch (r.int(8)) {
    case 0:
      return `li ${t}, 0xffffffffffff${hex16(h).slice(2)}\n  fmv.d.x ${f}, ${t}`;
    case 1: // boxed as a single only: bits 31:16 are zero
      return `li ${t}, ${hex16(h)}\n  fmv.w.x ${f}, ${t}`;
    case 2: { // one zero bit somewhere in the box
      const hole = 16 + r.int(48);
      const hi = hole >= 32 ? (0xffffffff ^ (1 << (hole - 32))) >>> 0 : 0xffffffff;
      const lo = hole < 32 ? ((0xffff0000 ^ (1 << hole)) | h) >>> 0 : (0xffff0000 | h) >>> 0;
      return `li ${t}, 0x${hi.toString(16).padStart(8, "0")}${lo.toString(16).padStart(8, "0")}\n  fmv.d.x ${f}, ${t}`;
    }
    default:
      return `li ${t}, ${hex16(h)}\n  fmv.h.x ${f}, ${t}`;
  }
}

function item(r: Rng): Item {
  const k = r.int(100);
  let text: string;
  if (k < 30) text = inject(r);
  else if (k < 44) text = `${r.pick(["fadd", "fsub", "fmul", "fdiv"])}.h ${fr(r)}, ${fr(r)}, ${fr(r)}, ${rm(r)}`;
  else if (k < 52) text = `${r.pick(["fmadd", "fmsub", "fnmsub", "fnmadd"])}.h ${fr(r)}, ${fr(r)}, ${fr(r)}, ${fr(r)}, ${rm(r)}`;
  else if (k < 55) text = `fsqrt.h ${fr(r)}, ${fr(r)}, ${rm(r)}`;
  else if (k < 60) text = `${r.pick(["fsgnj", "fsgnjn", "fsgnjx", "fmin", "fmax"])}.h ${fr(r)}, ${fr(r)}, ${fr(r)}`;
  else if (k < 64) text = `${r.pick(["feq", "flt", "fle"])}.h ${xr(r)}, ${fr(r)}, ${fr(r)}`;
  else if (k < 66) text = `fclass.h ${xr(r)}, ${fr(r)}`;
  else if (k < 71) text = `fcvt.${r.pick(["w", "wu", "l", "lu"])}.h ${xr(r)}, ${fr(r)}, ${rm(r)}`;
  else if (k < 76) {
    const t = tmp(r);
    const src = r.chance(50) ? `li ${t}, ${r.pick(INT_SOURCES)}\n  ` : "";
    text = `${src}fcvt.h.${r.pick(["w", "wu", "l", "lu"])} ${fr(r)}, ${src === "" ? xr(r) : t}, ${rm(r)}`;
  } else if (k < 84) {
    switch (r.int(4)) {
      case 0: text = `fcvt.s.h ${fr(r)}, ${fr(r)}`; break;
      case 1: text = `fcvt.d.h ${fr(r)}, ${fr(r)}`; break;
      case 2: text = `fcvt.h.s ${fr(r)}, ${fr(r)}, ${rm(r)}`; break;
      default: text = `fcvt.h.d ${fr(r)}, ${fr(r)}, ${rm(r)}`;
    }
  } else if (k < 88) text = r.chance(50) ? `fmv.x.h ${xr(r)}, ${fr(r)}` : `fmv.h.x ${fr(r)}, ${xr(r)}`;
  else if (k < 94) {
    const t = tmp(r);
    const off = r.int(SCRATCH_BYTES / 2) * 2;
    text = `la ${t}, scratch\n  ${r.chance(50) ? "flh" : "fsh"} ${fr(r)}, ${off}(${t})`;
  } else if (k < 97) text = `fsrmi ${r.int(5)}`;
  else text = `fsflagsi ${r.int(32)}`;
  return { text, ext: true };
}

/** The Zfh group for the differential fuzzer (listed in EXT_GROUPS, test/diff/gen_ext.ts). */
export const zfhGroup: ExtGroup = {
  name: "zfh",
  march: "zfh",
  qemuCpu: "Zfh=true,Zfhmin=true",
  item: (r: Rng): Item => item(r),
};
