// What a container runs, as Docker combines an image's config with `run`'s flags
// (docs/containers.md): the command (Entrypoint + Cmd), the environment, the working directory,
// the user, the hostname and the files Docker bind-mounts over /etc/{hosts,hostname,resolv.conf}.
// Pure functions, tested in container_config_test.ts.
import type { ContainerConfig } from "../../oci/manifest.js";

/** The PATH Docker gives a container whose image sets none. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** The address /etc/hosts gives the container's own name (loopback: the container reaches itself there). */
export const CONTAINER_ADDRESS = "127.0.1.1";

export class ContainerError extends Error {
  /** The exit status Docker gives this failure: 125 (the runtime), 126 (cannot execute), 127 (not found). */
  constructor(message: string, readonly status: number = 125) { super(message); }
}

/** The flags of `container run` that decide the command and its environment. */
export interface RunFlags {
  /** --entrypoint: null when not given; "" clears the image's. */
  entrypoint: string | null;
  /** CMD... after the image name (empty: the image's Cmd). */
  cmd: string[];
  /** -e and --env-file entries in the order given (K=V, or K alone: the host's value, if set). */
  env: string[];
  workdir: string | null;
  user: string | null;
  tty: boolean;
}

/**
 * Entrypoint + Cmd as Docker combines them: CMD arguments replace the image's Cmd; --entrypoint
 * replaces the image's Entrypoint and drops its Cmd.
 */
export function commandLine(image: ContainerConfig, f: Pick<RunFlags, "entrypoint" | "cmd">): string[] {
  const entry = f.entrypoint !== null ? (f.entrypoint === "" ? [] : [f.entrypoint]) : image.Entrypoint ?? [];
  const cmd = f.cmd.length > 0 ? f.cmd : f.entrypoint !== null ? [] : image.Cmd ?? [];
  const argv = [...entry, ...cmd];
  if (argv.length === 0) throw new ContainerError("no command specified (the image has no Entrypoint or Cmd: give one after the image name)");
  return argv;
}

function envKey(kv: string): string { const eq = kv.indexOf("="); return eq < 0 ? kv : kv.slice(0, eq); }

/** Sets K=V in an environment list, replacing an earlier K. */
function setEnv(env: string[], kv: string): void {
  const k = envKey(kv);
  const i = env.findIndex((e) => envKey(e) === k);
  if (i >= 0) env[i] = kv; else env.push(kv);
}

/**
 * The environment: PATH (Docker's default unless the image sets one), HOSTNAME, the image's Env,
 * then the flags' (a bare K takes the host's value, or is left out when the host has none),
 * TERM=xterm with -t, HOME from the user's passwd entry unless set.
 */
export function containerEnv(image: ContainerConfig, flags: string[], hostEnv: Record<string, string | undefined>, hostname: string, home: string, tty: boolean): string[] {
  const env: string[] = [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${hostname}`];
  for (const kv of image.Env ?? []) setEnv(env, kv);
  for (const kv of flags) {
    if (kv.includes("=")) setEnv(env, kv);
    else { const v = hostEnv[kv]; if (v !== undefined) setEnv(env, `${kv}=${v}`); }
  }
  if (tty && !env.some((e) => envKey(e) === "TERM")) env.push("TERM=xterm");
  if (!env.some((e) => envKey(e) === "HOME")) env.push(`HOME=${home}`);
  return env;
}

/** An --env-file: K=V lines; blank lines and lines starting with # are skipped; a bare K takes the host's value. */
export function parseEnvFile(text: string, file: string): string[] {
  const out: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const l = line.replace(/^\s+/, "");
    if (l === "" || l.startsWith("#")) return;
    const k = envKey(l);
    if (k === "" || /\s/.test(k)) throw new ContainerError(`${file}:${i + 1}: variable '${k}' contains whitespaces or is empty`);
    out.push(l);
  });
  return out;
}

export interface PasswdEntry { name: string; uid: number; gid: number; home: string }
export interface GroupEntry { name: string; gid: number }

export function parsePasswd(text: string): PasswdEntry[] {
  return text.split("\n").map((l) => l.split(":")).filter((f) => f.length >= 7 && /^\d+$/.test(f[2]) && /^\d+$/.test(f[3]))
    .map((f) => ({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] }));
}
export function parseGroup(text: string): GroupEntry[] {
  return text.split("\n").map((l) => l.split(":")).filter((f) => f.length >= 3 && /^\d+$/.test(f[2])).map((f) => ({ name: f[0], gid: Number(f[2]) }));
}

const ID_MAX = 0xffff_fffe;

/**
 * USER[:GROUP] as runc resolves it against the container's /etc/passwd and /etc/group: a name
 * must be there; a number need not be (its group is then 0, its home /). An empty spec is root.
 */
export function resolveUser(spec: string, passwd: PasswdEntry[], group: GroupEntry[]): { uid: number; gid: number; home: string } {
  if (spec === "") spec = "0";
  const [u, g] = spec.split(":", 2);
  let uid: number, gid: number, home = "/";
  const num = (s: string, what: string): number => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0 || n > ID_MAX) throw new ContainerError(`${what} ${s} is out of range`);
    return n;
  };
  if (/^\d+$/.test(u)) {
    uid = num(u, "uid");
    const e = passwd.find((p) => p.uid === uid);
    gid = e?.gid ?? 0; home = e?.home ?? "/";
  } else {
    const e = passwd.find((p) => p.name === u);
    if (e === undefined) throw new ContainerError(`unable to find user ${u}: no matching entries in passwd file`);
    uid = e.uid; gid = e.gid; home = e.home;
  }
  if (g !== undefined && g !== "") {
    if (/^\d+$/.test(g)) gid = num(g, "gid");
    else {
      const e = group.find((x) => x.name === g);
      if (e === undefined) throw new ContainerError(`unable to find group ${g}: no matching entries in group file`);
      gid = e.gid;
    }
  }
  return { uid, gid, home };
}

/** Docker's /etc/hosts for a container on its own network. */
export function hostsFile(hostname: string): string {
  return `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\n` +
    `ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n${CONTAINER_ADDRESS}\t${hostname}\n`;
}

/** Public resolvers Docker falls back to when the host's are all on its own loopback. */
const FALLBACK_DNS = ["8.8.8.8", "8.8.4.4"];

/**
 * /etc/resolv.conf from the host's, as Docker writes it: loopback nameservers (systemd-resolved's
 * 127.0.0.53, a local dnsmasq) are the host's own, not the container's, so they are dropped, and
 * when none is left the public fallbacks are used.
 */
export function resolvConf(host: string): string {
  const lines = host.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#") && !l.trim().startsWith(";"));
  const out = lines.filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l));
  if (!out.some((l) => /^\s*nameserver\s/.test(l))) out.push(...FALLBACK_DNS.map((s) => `nameserver ${s}`));
  return out.join("\n") + "\n";
}
