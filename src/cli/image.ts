// `rvisor image`: OCI images in Docker's shape.
//   rvisor image pull [--insecure] [--creds USER:PASS] [-q] REF
//   rvisor image import [-q] PATH [NAME:TAG]
//   rvisor image ls [--json] [--digests] [-q]
//   rvisor image inspect NAME|ID...
//   rvisor image rm [-f] NAME|ID...
import { parseArgs, type ParseArgsConfig } from "node:util";
import { OciError, shortDigest } from "../oci/digest.js";
import { ImageStore, familiarTag, type ImageRecord } from "../host/node/image_store.js";
import { pullImage } from "../host/node/image_pull.js";
import { parseCreds, type Credentials } from "../host/node/registry_auth.js";
import { importImage } from "../host/node/image_import.js";
import { Progress, formatBytes } from "../host/node/progress.js";

class ImageUsageError extends Error {}

export const IMAGE_USAGE = `usage: rvisor image <command> [options]

commands:
  pull [--insecure] [--creds USER:PASS] [-q] REF
                                 fetch an image from an OCI/Docker registry (/v2/ API); from an
                                 index the linux/riscv64 image is chosen. REF is
                                 [HOST[:PORT]/]NAME[:TAG|@sha256:DIGEST]; loopback registries
                                 and --insecure ones are spoken to over plain http. Credentials:
                                 --creds, else $REGISTRY_AUTH_FILE's or ~/.docker/config.json's
                                 "auths" entry for the registry (docker login, podman login)
  import [-q] PATH [NAME:TAG]    an OCI image layout directory, an OCI or docker-save archive, or a
                                 plain rootfs tarball (tar, tar.gz, tar.zst) as a one-layer image
  ls [--json] [--digests] [-q]   list images (REPOSITORY, TAG, IMAGE ID, CREATED, SIZE)
  inspect NAME|ID...             the images as JSON, in docker image inspect's shape
  rm [-f] NAME|ID...             untag (an image goes with its last tag); -f removes an image
                                 by ID even when it has several tags

Images live under $RVISOR_HOME/images (docs/images.md).
`;

function parse(argv: string[], options: NonNullable<ParseArgsConfig["options"]>): ReturnType<typeof parseArgs> {
  try { return parseArgs({ args: argv, options, strict: true, allowPositionals: true }); } catch (e) {
    throw new ImageUsageError((e as Error).message.split("\n")[0]);
  }
}

export async function imageMain(argv: string[], store = new ImageStore()): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case "pull": return await cmdPull(store, rest);
      case "import": case "load": return await cmdImport(store, rest);
      case "ls": case "list": return cmdLs(store, rest);
      case "inspect": return cmdInspect(store, rest);
      case "rm": case "rmi": return await cmdRm(store, rest);
      case undefined: case "-h": case "--help": case "help":
        process.stdout.write(IMAGE_USAGE);
        return sub === undefined ? 2 : 0;
      default: throw new ImageUsageError(`unknown image command '${sub}' (try 'rvisor image --help')`);
    }
  } catch (e) {
    if (e instanceof ImageUsageError) { process.stderr.write(`rvisor image: ${e.message}\n`); return 2; }
    if (e instanceof OciError) { process.stderr.write(`rvisor image: ${e.message}\n`); return 1; }
    const code = (e as NodeJS.ErrnoException).code;
    // Host errors (ENOSPC, EACCES, ...) as one line, as for the store's own refusals.
    if (e instanceof Error && typeof code === "string" && /^E[A-Z0-9]+$/.test(code)) { process.stderr.write(`rvisor image: ${e.message}\n`); return 1; }
    throw e;
  }
}

async function cmdPull(store: ImageStore, argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { insecure: { type: "boolean" }, creds: { type: "string" }, quiet: { type: "boolean", short: "q" } });
  if (positionals.length !== 1) throw new ImageUsageError("pull takes one REF");
  let credentials: Credentials | null = null;
  if (typeof values.creds === "string") {
    try { credentials = parseCreds(values.creds); } catch (e) { throw new ImageUsageError((e as Error).message); }
  }
  const r = await pullImage(store, positionals[0], {
    insecure: values.insecure === true, credentials, progress: new Progress(process.stderr, values.quiet === true ? false : undefined),
  });
  if (values.quiet === true) process.stdout.write(`${r.name}\n`);
  else process.stdout.write(`Digest: ${r.manifest}\nStatus: ${r.upToDate ? "Image is up to date for" : "Downloaded newer image for"} ${r.name}\n`);
  return 0;
}

async function cmdImport(store: ImageStore, argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { quiet: { type: "boolean", short: "q" } });
  if (positionals.length < 1 || positionals.length > 2) throw new ImageUsageError("import takes PATH [NAME:TAG]");
  const r = await importImage(store, positionals[0], positionals[1] ?? null, new Progress(process.stderr, values.quiet === true ? false : undefined));
  for (const i of r.images) {
    const names = i.tags.map((t) => { const f = familiarTag(t); return `${f.repository}:${f.tag}`; });
    process.stdout.write(values.quiet === true ? `${i.config}\n` : `Loaded image${names.length > 0 ? `: ${names.join(", ")}` : ` ID: ${i.config}`} (${r.kind})\n`);
  }
  return 0;
}

/** "3 minutes ago", as docker images shows CREATED. */
export function timeAgo(iso: string | null, now = Date.now()): string {
  if (iso === null) return "N/A";
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return "N/A";
  const units: [number, string][] = [[365 * 86400, "year"], [30 * 86400, "month"], [7 * 86400, "week"], [86400, "day"], [3600, "hour"], [60, "minute"]];
  for (const [n, u] of units) if (s >= n) { const k = Math.floor(s / n); return `${k} ${u}${k > 1 ? "s" : ""} ago`; }
  return "Less than a minute ago";
}

function rows(store: ImageStore): { r: ImageRecord; repository: string; tag: string }[] {
  const out: { r: ImageRecord; repository: string; tag: string }[] = [];
  for (const { record, tags } of store.list()) {
    if (tags.length === 0) {
      const repo = record.repositories?.[0];
      out.push({ r: record, repository: repo !== undefined ? familiarTag(`${repo}:latest`).repository : "<none>", tag: "<none>" });
    }
    for (const t of tags) out.push({ r: record, ...familiarTag(t) });
  }
  return out;
}

function cmdLs(store: ImageStore, argv: string[]): number {
  const { values, positionals } = parse(argv, { json: { type: "boolean" }, digests: { type: "boolean" }, quiet: { type: "boolean", short: "q" } });
  if (positionals.length > 0) throw new ImageUsageError("ls takes no arguments");
  const list = rows(store);
  if (values.json === true) {
    process.stdout.write(JSON.stringify(list.map(({ r, repository, tag }) => ({
      Repository: repository, Tag: tag, ID: r.config, Digest: r.manifest, CreatedAt: r.created, Size: r.size, Layers: r.layers.length,
    })), null, 2) + "\n");
    return 0;
  }
  if (values.quiet === true) { for (const id of new Set(list.map((x) => shortDigest(x.r.config)))) process.stdout.write(`${id}\n`); return 0; }
  const head = ["REPOSITORY", "TAG", ...(values.digests === true ? ["DIGEST"] : []), "IMAGE ID", "CREATED", "SIZE"];
  const table = list.map(({ r, repository, tag }) => [repository, tag, ...(values.digests === true ? [r.manifest] : []), shortDigest(r.config), timeAgo(r.created), formatBytes(r.size)]);
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  for (const row of [head, ...table]) process.stdout.write(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] + 3))).join("") + "\n");
  return 0;
}

function cmdInspect(store: ImageStore, argv: string[]): number {
  const { positionals } = parse(argv, {});
  if (positionals.length === 0) throw new ImageUsageError("inspect takes NAME|ID...");
  const out: unknown[] = [];
  let status = 0;
  for (const n of positionals) {
    const hit = store.find(n);
    if (hit === null) { process.stderr.write(`Error: No such image: ${n}\n`); status = 1; continue; }
    const r = hit.record;
    const c = store.config(r);
    const tags = store.list().find((x) => x.record.manifest === r.manifest)?.tags ?? [];
    const repoTags = tags.map((t) => { const f = familiarTag(t); return `${f.repository}:${f.tag}`; });
    out.push({
      Id: r.config,
      RepoTags: repoTags,
      RepoDigests: [...new Set([...tags.map((t) => familiarTag(t).repository), ...(r.repositories ?? []).map((x) => familiarTag(`${x}:latest`).repository)])].map((n) => `${n}@${r.manifest}`),
      Created: r.created,
      Author: c.author ?? "",
      Architecture: c.architecture, Os: c.os, ...(c.variant !== undefined ? { Variant: c.variant } : {}),
      Size: r.size,
      Config: {
        User: c.config.User ?? "", Env: c.config.Env ?? null, Entrypoint: c.config.Entrypoint ?? null, Cmd: c.config.Cmd ?? null,
        WorkingDir: c.config.WorkingDir ?? "", ExposedPorts: c.config.ExposedPorts ?? null, Volumes: c.config.Volumes ?? null,
        Labels: c.config.Labels ?? null, ...(c.config.StopSignal !== undefined ? { StopSignal: c.config.StopSignal } : {}),
      },
      RootFS: { Type: "layers", Layers: c.rootfs.diff_ids },
      Metadata: { Added: r.added, Source: r.source, ManifestDigest: r.manifest, Layers: r.layers },
    });
  }
  process.stdout.write(JSON.stringify(out, null, 4) + "\n");
  return status;
}

async function cmdRm(store: ImageStore, argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { force: { type: "boolean", short: "f" } });
  if (positionals.length === 0) throw new ImageUsageError("rm takes NAME|ID...");
  let status = 0;
  for (const n of positionals) {
    try {
      const r = await store.remove(n, values.force === true);
      for (const t of r.untagged) { const f = familiarTag(t); process.stdout.write(`Untagged: ${f.repository}:${f.tag}\n`); }
      if (r.deleted !== null) process.stdout.write(`Deleted: ${r.deleted}\n`);
    } catch (e) {
      if (!(e instanceof OciError)) throw e;
      process.stderr.write(`Error: ${e.message}\n`); status = 1;
    }
  }
  return status;
}
