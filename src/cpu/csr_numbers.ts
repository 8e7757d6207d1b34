// CSR addresses (RISC-V privileged spec 1.12, table 2.2-2.6).
export const CSR = {
  fflags: 0x001, frm: 0x002, fcsr: 0x003,
  cycle: 0xc00, time: 0xc01, instret: 0xc02, hpmcounter3: 0xc03, hpmcounter31: 0xc1f,
  sstatus: 0x100, sie: 0x104, stvec: 0x105, scounteren: 0x106, senvcfg: 0x10a,
  sstateen0: 0x10c, sstateen3: 0x10f,
  sscratch: 0x140, sepc: 0x141, scause: 0x142, stval: 0x143, sip: 0x144, stimecmp: 0x14d, satp: 0x180,
  mvendorid: 0xf11, marchid: 0xf12, mimpid: 0xf13, mhartid: 0xf14, mconfigptr: 0xf15,
  mstatus: 0x300, misa: 0x301, medeleg: 0x302, mideleg: 0x303, mie: 0x304, mtvec: 0x305,
  mcounteren: 0x306, menvcfg: 0x30a, mstateen0: 0x30c, mstateen3: 0x30f, mcountinhibit: 0x320, mhpmevent3: 0x323, mhpmevent31: 0x33f,
  mscratch: 0x340, mepc: 0x341, mcause: 0x342, mtval: 0x343, mip: 0x344,
  pmpcfg0: 0x3a0, pmpcfg15: 0x3af, pmpaddr0: 0x3b0, pmpaddr63: 0x3ef,
  // Sdtrig (debug spec, "Trigger Module Registers")
  tselect: 0x7a0, tdata1: 0x7a1, tdata2: 0x7a2, tdata3: 0x7a3, tinfo: 0x7a4,
  mcycle: 0xb00, minstret: 0xb02, mhpmcounter3: 0xb03, mhpmcounter31: 0xb1f,
} as const;

// menvcfg / senvcfg fields (priv spec "Machine Environment Configuration Register"). Bits 63:32
// are given as masks of the high word.
export const ENVCFG_FIOM = 1 << 0;
export const ENVCFG_CBIE_SHIFT = 4, ENVCFG_CBIE = 3 << 4;
/** CBIE encodings: 00 illegal, 01 CBO.INVAL performs a flush, 10 reserved, 11 invalidate. */
export const CBIE_ILLEGAL = 0, CBIE_FLUSH = 1, CBIE_RESERVED = 2, CBIE_INVAL = 3;
export const ENVCFG_CBCFE = 1 << 6, ENVCFG_CBZE = 1 << 7;
/** menvcfg.STCE (bit 63), .PBMTE (bit 62), .ADUE (bit 61) in the high word. */
export const MENVCFG_STCE_HI = 1 << 31, MENVCFG_PBMTE_HI = 1 << 30, MENVCFG_ADUE_HI = 1 << 29;

// mstateen0 fields (Smstateen): SE0 (bit 63) gates sstateen0, ENVCFG (bit 62) gates senvcfg,
// given in the high word; bit 63 of mstateen1-3 gates sstateen1-3 likewise.
export const MSTATEEN_SE_HI = 1 << 31, MSTATEEN0_ENVCFG_HI = 1 << 30;

// mstatus fields (low word; UXL/SXL/SD live in the high word and are computed).
export const MSTATUS_SIE = 1 << 1, MSTATUS_MIE = 1 << 3, MSTATUS_SPIE = 1 << 5, MSTATUS_MPIE = 1 << 7;
export const MSTATUS_SPP = 1 << 8, MSTATUS_MPP_SHIFT = 11, MSTATUS_MPP = 3 << 11;
export const MSTATUS_FS_SHIFT = 13, MSTATUS_FS = 3 << 13;
export const MSTATUS_MPRV = 1 << 17, MSTATUS_SUM = 1 << 18, MSTATUS_MXR = 1 << 19;
export const MSTATUS_TVM = 1 << 20, MSTATUS_TW = 1 << 21, MSTATUS_TSR = 1 << 22;
/** Bits of mstatus that software may write (low word; FS is kept in Hart.fs). */
export const MSTATUS_WMASK = MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP |
  MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR;
/** Bits of mstatus visible through sstatus (low word; FS handled separately). */
export const SSTATUS_MASK = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR;

// Interrupt numbers / mip bits.
export const IRQ_SSI = 1, IRQ_MSI = 3, IRQ_STI = 5, IRQ_MTI = 7, IRQ_SEI = 9, IRQ_MEI = 11;
export const MIP_SSIP = 1 << IRQ_SSI, MIP_MSIP = 1 << IRQ_MSI, MIP_STIP = 1 << IRQ_STI;
export const MIP_MTIP = 1 << IRQ_MTI, MIP_SEIP = 1 << IRQ_SEI, MIP_MEIP = 1 << IRQ_MEI;
export const S_INTERRUPTS = MIP_SSIP | MIP_STIP | MIP_SEIP;
export const ALL_INTERRUPTS = S_INTERRUPTS | MIP_MSIP | MIP_MTIP | MIP_MEIP;

// Exception causes (mcause with interrupt bit clear).
export const enum Cause {
  InsnMisaligned = 0, InsnAccessFault = 1, IllegalInsn = 2, Breakpoint = 3,
  LoadMisaligned = 4, LoadAccessFault = 5, StoreMisaligned = 6, StoreAccessFault = 7,
  EcallU = 8, EcallS = 9, EcallM = 11, InsnPageFault = 12, LoadPageFault = 13, StorePageFault = 15,
}
/** Exceptions that medeleg may delegate (medeleg[11] is read-only zero). */
export const MEDELEG_MASK = 0xb3ff;

export const PRV_U = 0, PRV_S = 1, PRV_M = 3;
