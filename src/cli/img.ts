// `rvisor img`: disk images in qemu-img's shape.
//   rvisor img create [-f qcow2|raw] [-b BACKING [-F FMT]] [-o cluster_size=N,compat=1.1|0.10,refcount_bits=N] FILE [SIZE]
//   rvisor img info [--output human|json] FILE
import { parseArgs, type ParseArgsConfig } from "node:util";
import { promises as fsp } from "node:fs";
import { NodeImageFile, backingPath, openDisk, probeFormat, type DiskFormat } from "../host/node/disk_image.js";
import { Qcow2, createQcow2, type Qcow2CreateOptions } from "../system/block/qcow2.js";
import { QCOW2_COMPAT_LAZY_REFCOUNTS, QCOW2_INCOMPAT_CORRUPT, QCOW2_INCOMPAT_DIRTY } from "../system/block/qcow2.js";

export class ImgUsageError extends Error {}

const USAGE = `usage: rvisor img <command> [options]

commands:
  create [-f qcow2|raw] [-b BACKING [-F raw|qcow2]] [-o OPTIONS] FILE [SIZE]
          make a disk image (default qcow2, version 3). SIZE takes k, M, G, T, P, E suffixes
          (powers of 1024; a bare number is bytes) and is rounded up to 512 bytes; a qcow2
          overlay without SIZE has its backing file's size. A relative BACKING is relative to
          FILE's directory. OPTIONS: cluster_size=SIZE, compat=1.1|0.10, refcount_bits=N.
  info [--output human|json] FILE
          describe an image (format, virtual and disk size, backing file, qcow2 details).
`;

const SIZE_UNITS = "BKMGTPE";
const SIZE_HINT = "You may use k, M, G, T, P or E suffixes for kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.";

/** qemu-img's sizes: a number (a fraction only with a suffix) and B, K, M, G, T, P or E (1024-based). */
export function parseImgSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([bkmgtpe])?$/i.exec(s.trim());
  if (m === null || (m[1].includes(".") && m[2] === undefined)) throw new ImgUsageError(`Invalid image size specified. ${SIZE_HINT}`);
  const v = Number(m[1]) * 1024 ** SIZE_UNITS.indexOf((m[2] ?? "B").toUpperCase());
  if (!Number.isSafeInteger(Math.round(v))) throw new ImgUsageError(`Image size too large: ${s}`);
  return Math.round(v);
}

/** qemu's size_to_str: three significant digits and a binary unit ("196 KiB", "1.5 GiB"). */
export function sizeToStr(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let i = 0;
  while (i < units.length - 1 && n >= 1024 ** (i + 1)) i++;
  return `${Number((n / 1024 ** i).toPrecision(3))} ${units[i]}`;
}

export async function imgMain(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case "create": return await imgCreate(rest);
      case "info": return await imgInfo(rest);
      case undefined: case "-h": case "--help": case "help":
        process.stdout.write(USAGE);
        return sub === undefined ? 2 : 0;
      default: throw new ImgUsageError(`unknown img command '${sub}' (try 'rvisor img --help')`);
    }
  } catch (e) {
    if (e instanceof ImgUsageError) { process.stderr.write(`rvisor img: ${e.message}\n`); return 2; }
    if (e instanceof Error && !(e instanceof TypeError) && !(e instanceof RangeError)) { process.stderr.write(`rvisor img: ${e.message}\n`); return 1; }
    throw e;
  }
}

function parse(argv: string[], options: NonNullable<ParseArgsConfig["options"]>): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new ImgUsageError((e as Error).message.split("\n")[0]);
  }
}

function asFormat(s: string | undefined, opt: string): DiskFormat | undefined {
  if (s === undefined || s === "raw" || s === "qcow2") return s;
  throw new ImgUsageError(`${opt}: unknown format '${s}' (raw or qcow2)`);
}

async function imgCreate(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    f: { type: "string", short: "f" }, b: { type: "string", short: "b" }, F: { type: "string", short: "F" },
    o: { type: "string", short: "o", multiple: true }, q: { type: "boolean", short: "q" }, help: { type: "boolean", short: "h" },
  });
  if (values.help === true) { process.stdout.write(USAGE); return 0; }
  const fmt = asFormat(values.f as string | undefined, "-f") ?? "qcow2";
  const backing = values.b as string | undefined;
  const backingFmt = asFormat(values.F as string | undefined, "-F");
  const [file, sizeArg, extra] = positionals;
  if (file === undefined) throw new ImgUsageError("Expecting image file name");
  if (extra !== undefined) throw new ImgUsageError(`Unexpected argument: ${extra}`);
  if (backing !== undefined && fmt === "raw") throw new ImgUsageError("raw images have no backing file (-b needs -f qcow2)");
  const qo: Qcow2CreateOptions = { size: 0 };
  for (const spec of (values.o as string[] | undefined) ?? []) {
    for (const kv of spec.split(",")) {
      const [k, v = ""] = kv.split("=");
      if (fmt !== "qcow2") throw new ImgUsageError(`Invalid parameter '${k}' for raw images`);
      if (k === "cluster_size") {
        const cs = parseImgSize(v);
        const bits = Math.log2(cs);
        if (!Number.isInteger(bits)) throw new ImgUsageError("Cluster size must be a power of two between 512 and 2048k");
        qo.clusterBits = bits;
      } else if (k === "compat") {
        if (v === "1.1" || v === "v3") qo.version = 3;
        else if (v === "0.10" || v === "v2") qo.version = 2;
        else throw new ImgUsageError(`Invalid compatibility level: '${v}'`);
      } else if (k === "refcount_bits") qo.refcountBits = Number(v);
      else throw new ImgUsageError(`Invalid parameter '${k}'`);
    }
  }
  if (backing !== undefined && backingFmt === undefined) {
    throw new ImgUsageError(`${file}: Backing file specified without backing format (use -F raw or -F qcow2)`);
  }
  let size: number;
  if (sizeArg !== undefined) size = parseImgSize(sizeArg);
  else if (backing !== undefined) {
    // The overlay takes the backing file's size (opened as QEMU would: relative to FILE's directory).
    const d = await openDisk(backingPath(file, backing), { format: backingFmt, readonly: true });
    try { size = d.backend.size; } finally { await d.close(); }
  } else throw new ImgUsageError("Image creation needs a size parameter");
  size = Math.ceil(size / 512) * 512;
  const fh = await fsp.open(file, "w+");
  try {
    if (fmt === "raw") {
      await fh.truncate(size);
      if (values.q !== true) process.stdout.write(`Formatting '${file}', fmt=raw size=${size}\n`);
    } else {
      await fh.close();
      const { file: img } = await NodeImageFile.open(file, false);
      try {
        await createQcow2(img, { ...qo, size, backingFile: backing, backingFormat: backingFmt });
      } finally { await img.close(); }
      const cs = 2 ** (qo.clusterBits ?? 16);
      const bk = backing === undefined ? "" : ` backing_file=${backing} backing_fmt=${backingFmt ?? ""}`;
      const compat = qo.version === 2 ? " compat=0.10" : "";
      if (values.q !== true) {
        process.stdout.write(`Formatting '${file}', fmt=qcow2 cluster_size=${cs}${compat} extended_l2=off compression_type=zlib size=${size}${bk} lazy_refcounts=off refcount_bits=${qo.refcountBits ?? 16}\n`);
      }
      return 0;
    }
  } finally { await fh.close().catch(() => undefined); }
  return 0;
}

async function imgInfo(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { output: { type: "string" }, f: { type: "string", short: "f" }, help: { type: "boolean", short: "h" } });
  if (values.help === true) { process.stdout.write(USAGE); return 0; }
  const output = (values.output as string | undefined) ?? "human";
  if (output !== "human" && output !== "json") throw new ImgUsageError(`--output must be human or json (got ${output})`);
  const [file, extra] = positionals;
  if (file === undefined) throw new ImgUsageError("Expecting one image file name");
  if (extra !== undefined) throw new ImgUsageError(`Unexpected argument: ${extra}`);
  const st = await fsp.stat(file).catch((e: NodeJS.ErrnoException) => { throw new Error(`Could not open '${file}': ${e.code ?? e.message}`); });
  const { file: img } = await NodeImageFile.open(file, true);
  const info: Record<string, unknown> = {};
  const lines: string[] = [];
  try {
    const format = asFormat(values.f as string | undefined, "-f") ?? (await probeFormat(img));
    const actual = Number(st.blocks) * 512;
    if (format === "raw") {
      Object.assign(info, { "virtual-size": img.size(), filename: file, format, "actual-size": actual, "dirty-flag": false });
      lines.push(`image: ${file}`, "file format: raw", `virtual size: ${sizeToStr(img.size())} (${img.size()} bytes)`, `disk size: ${sizeToStr(actual)}`);
    } else {
      const h = await Qcow2.readHeader(img);
      const cs = 2 ** h.clusterBits;
      const data: Record<string, unknown> = h.version === 3
        ? {
          compat: "1.1", "compression-type": "zlib", "lazy-refcounts": (h.compatible & QCOW2_COMPAT_LAZY_REFCOUNTS) !== 0,
          "refcount-bits": 2 ** h.refcountOrder, corrupt: (h.incompatible & QCOW2_INCOMPAT_CORRUPT) !== 0, "extended-l2": false,
        }
        : { compat: "0.10", "compression-type": "zlib", "refcount-bits": 16 };
      if (h.version === 3 && h.compressionType === 1) data["compression-type"] = "zstd";
      if (h.backingFormat !== null) info["backing-filename-format"] = h.backingFormat;
      Object.assign(info, { "virtual-size": h.size, filename: file, "cluster-size": cs, format, "actual-size": actual, "format-specific": { type: "qcow2", data } });
      lines.push(`image: ${file}`, "file format: qcow2", `virtual size: ${sizeToStr(h.size)} (${h.size} bytes)`, `disk size: ${sizeToStr(actual)}`, `cluster_size: ${cs}`);
      if (h.backingFile !== null) {
        const full = backingPath(file, h.backingFile);
        info["full-backing-filename"] = full;
        info["backing-filename"] = h.backingFile;
        lines.push(`backing file: ${h.backingFile}${full !== h.backingFile ? ` (actual path: ${full})` : ""}`);
        if (h.backingFormat !== null) lines.push(`backing file format: ${h.backingFormat}`);
      }
      info["dirty-flag"] = (h.incompatible & QCOW2_INCOMPAT_DIRTY) !== 0;
      lines.push("Format specific information:");
      const human: Record<string, string> = { "compression-type": "compression type", "lazy-refcounts": "lazy refcounts", "refcount-bits": "refcount bits", "extended-l2": "extended l2" };
      for (const [k, v] of Object.entries(data)) lines.push(`    ${human[k] ?? k}: ${String(v)}`);
    }
  } finally { await img.close(); }
  process.stdout.write(output === "json" ? `${JSON.stringify(info, null, 4)}\n` : `${lines.join("\n")}\n`);
  return 0;
}
