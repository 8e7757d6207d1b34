// The hypervisor's web console, served by `rvisor serve` at /ui/: a table of the VMs (state,
// vCPUs, memory, disks) with buttons that call the REST API, a VM's snapshots (restore,
// delete), and its serial console in xterm.js over the console WebSocket.
//
// Authentication: the page holds no data itself. It asks for the API token (or takes it from
// the URL fragment, #token=T, which it then removes from the address bar) and keeps it in this
// tab's sessionStorage. Every fetch sends `Authorization: Bearer T`. A WebSocket cannot carry
// that header, so the console first asks for a single-use ticket (POST .../console/ticket,
// with the token) and opens .../console?ticket=TICKET (src/api/console_tickets.ts). A 401
// anywhere forgets the token, empties the page and asks again.
import { Terminal } from "@xterm/xterm";
import {
  ACTIONS, actionsFor, fitTerminal, formatDisks, formatMib, requestFor, tokenFromFragment,
  type Action, type ConsoleTicket, type SnapshotEntry, type VmInfo, type VmSummary,
} from "./model.js";

const TOKEN_KEY = "rvisor-api-token";
/** How often the table is read again. */
const REFRESH_MS = 2000;
/** Console history shown when a console opens (the VM's kept log, GET .../logs?tail=N). */
const LOG_TAIL_LINES = 500;
const FONT = { fontFamily: "DejaVu Sans Mono, Menlo, Consolas, monospace", fontSize: 14 };
const HTTP_UNAUTHORIZED = 401, HTTP_NO_CONTENT = 204;

class ApiError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`console page: no #${id}`);
  return e as T;
}

const ui = {
  login: element<HTMLFormElement>("login"),
  tokenInput: element<HTMLInputElement>("token"),
  logout: element<HTMLButtonElement>("logout"),
  error: element("error"),
  vms: element<HTMLTableSectionElement>("vms"),
  empty: element("no-vms"),
  detail: element("detail"),
  detailName: element("detail-name"),
  snapshots: element<HTMLTableSectionElement>("snapshots"),
  consoleStatus: element("console-status"),
  terminalBox: element("terminal"),
};

let token: string | null = null;
let vms: VmInfo[] = [];
let selected: string | null = null;
const busy = new Set<string>();
let ws: WebSocket | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | null = null;

// ---- errors and the token ----

function showError(message: string | null): void {
  ui.error.textContent = message ?? "";
  ui.error.hidden = message === null;
}

function setToken(t: string | null): void {
  token = t;
  if (t === null) sessionStorage.removeItem(TOKEN_KEY); else sessionStorage.setItem(TOKEN_KEY, t);
  ui.login.hidden = t !== null;
  ui.logout.hidden = t === null;
}

/** The server refused the token: nothing of what it showed may stay on the page. */
function unauthorized(message: string): void {
  setToken(null);
  closeConsole("signed out");
  vms = [];
  selected = null;
  render();
  showError(`The server refused the token (${message}). Enter the API token.`);
  ui.tokenInput.focus();
}

async function api(method: string, path: string, body?: unknown): Promise<unknown> {
  if (token === null) throw new ApiError(HTTP_UNAUTHORIZED, "no token");
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  let r: Response;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, `cannot reach the server: ${e instanceof Error ? e.message : String(e)}`);
  }
  const text = await r.text();
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    try { msg = (JSON.parse(text) as { fault_message?: string }).fault_message ?? msg; } catch { /* not JSON */ }
    if (r.status === HTTP_UNAUTHORIZED) unauthorized(msg);
    throw new ApiError(r.status, msg);
  }
  if (r.status === HTTP_NO_CONTENT || text === "") return null;
  return (r.headers.get("content-type") ?? "").startsWith("application/json") ? JSON.parse(text) as unknown : text;
}

const vmPath = (name: string, rest = ""): string => `/v1/vms/${encodeURIComponent(name)}${rest === "" ? "" : `/${rest}`}`;

// ---- the table ----

async function refresh(): Promise<void> {
  if (refreshTimer !== null) { clearTimeout(refreshTimer); refreshTimer = null; }
  if (token === null) return;
  try {
    const list = (await api("GET", "/v1/vms")) as VmSummary[];
    vms = await Promise.all(list.map((v) => api("GET", vmPath(v.name)) as Promise<VmInfo>));
    if (selected !== null && !vms.some((v) => v.name === selected)) { selected = null; closeConsole("the VM is gone"); }
    render();
    if (selected !== null) await renderSnapshots(selected);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === HTTP_UNAUTHORIZED)) showError(e instanceof Error ? e.message : String(e));
  }
  if (token !== null) refreshTimer = setTimeout(() => { void refresh(); }, REFRESH_MS);
}

function cell(row: HTMLTableRowElement, text: string, cls?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (cls !== undefined) td.className = cls;
  return td;
}

function render(): void {
  ui.vms.replaceChildren();
  ui.empty.hidden = token === null || vms.length > 0;
  for (const v of vms) {
    const row = ui.vms.insertRow();
    row.dataset["vm"] = v.name;
    if (v.name === selected) row.classList.add("selected");
    cell(row, v.name, "name");
    const st = cell(row, busy.has(v.name) ? `${v.state}…` : v.state, "state");
    st.dataset["state"] = v.state;
    cell(row, String(v.config.cpus), "cpus");
    cell(row, formatMib(v.config.memoryMib), "memory");
    cell(row, formatDisks(v.config.disks), "disks");
    cell(row, v.pid === null ? "" : String(v.pid), "pid");
    const actions = row.insertCell();
    actions.className = "actions";
    const allowed = actionsFor(v.state);
    for (const a of ACTIONS) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = a;
      b.dataset["action"] = a;
      b.disabled = busy.has(v.name) || !allowed.has(a);
      b.addEventListener("click", () => { void act(v.name, a); });
      actions.append(b);
    }
  }
  ui.detail.hidden = selected === null;
  ui.detailName.textContent = selected ?? "";
}

async function act(name: string, action: Action): Promise<void> {
  showError(null);
  if (action === "console") { await openConsole(name); return; }
  busy.add(name);
  render();
  try {
    const r = requestFor(action);
    await api(r.method, vmPath(name, r.path), r.body);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === HTTP_UNAUTHORIZED)) showError(`${action} ${name}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    busy.delete(name);
  }
  await refresh();
  // A VM that was started or resumed while its console was open gets its console again.
  if (selected === name && (action === "start") && (ws === null || ws.readyState !== WebSocket.OPEN)) await openConsole(name);
}

// ---- snapshots ----

async function renderSnapshots(name: string): Promise<void> {
  const list = (await api("GET", vmPath(name, "snapshots"))) as SnapshotEntry[];
  if (selected !== name) return;
  ui.snapshots.replaceChildren();
  for (const s of list) {
    const row = ui.snapshots.insertRow();
    row.dataset["snapshot"] = s.name;
    cell(row, s.name);
    cell(row, s.snapshot === null ? `unreadable: ${s.error ?? ""}` : new Date(s.snapshot.createdAt).toLocaleString());
    cell(row, s.snapshot?.state ?? "");
    cell(row, s.snapshot === null ? "" : `${(s.snapshot.machineBytes / (1 << 20)).toFixed(1)} MiB`);
    const actions = row.insertCell();
    for (const [label, run] of [
      ["restore", () => api("PUT", vmPath(name, "snapshot/load"), { snapshot_name: s.name })],
      ["delete", () => api("DELETE", vmPath(name, `snapshots/${encodeURIComponent(s.name)}`))],
    ] as const) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.dataset["action"] = label;
      b.disabled = busy.has(name) || (label === "restore" && s.snapshot === null);
      b.addEventListener("click", () => {
        void (async () => {
          showError(null);
          busy.add(name);
          render();
          try { await run(); } catch (e) {
            if (!(e instanceof ApiError && e.status === HTTP_UNAUTHORIZED)) showError(`${label} ${s.name}: ${e instanceof Error ? e.message : String(e)}`);
          } finally { busy.delete(name); }
          await refresh();
          if (label === "restore" && selected === name) await openConsole(name);
        })();
      });
      actions.append(b);
    }
  }
}

// ---- the serial console ----

const term = new Terminal({ cols: 80, rows: 24, scrollback: 5000, ...FONT });
term.open(ui.terminalBox);
const encoder = new TextEncoder();

/** The size of one character cell, measured with the terminal's font. */
function cellSize(): { w: number; h: number } {
  const probe = document.createElement("span");
  probe.style.cssText = `position:absolute;visibility:hidden;white-space:pre;font-family:${FONT.fontFamily};font-size:${FONT.fontSize}px;line-height:normal`;
  const N = 40;
  probe.textContent = "W".repeat(N);
  document.body.append(probe);
  const r = probe.getBoundingClientRect();
  probe.remove();
  return { w: r.width / N, h: r.height };
}

/** Fits the terminal to its box's width and to the window's height below it. */
function fit(): void {
  if (ui.detail.hidden) return;
  const c = cellSize();
  const box = ui.terminalBox.getBoundingClientRect();
  const SCROLLBAR_PX = 16, MARGIN_PX = 16;
  const { cols, rows } = fitTerminal(box.width - SCROLLBAR_PX, window.innerHeight - box.top - MARGIN_PX, c.w, c.h);
  if (cols !== term.cols || rows !== term.rows) term.resize(cols, rows);
}

function sendResize(): void {
  if (ws !== null && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
}

term.onResize(() => sendResize());
term.onData((s) => { if (ws !== null && ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(s)); });
term.onBinary((s) => { if (ws !== null && ws.readyState === WebSocket.OPEN) ws.send(Uint8Array.from(s, (ch) => ch.charCodeAt(0) & 0xff)); });
let resizeTimer: ReturnType<typeof setTimeout> | null = null;
window.addEventListener("resize", () => {
  if (resizeTimer !== null) clearTimeout(resizeTimer);
  resizeTimer = setTimeout(fit, 100);
});

function setConsoleStatus(state: "connecting" | "attached" | "closed", text: string): void {
  ui.consoleStatus.textContent = text;
  ui.consoleStatus.dataset["state"] = state;
}

function closeConsole(why: string): void {
  if (ws !== null) { ws.onclose = null; ws.close(); ws = null; }
  setConsoleStatus("closed", why);
}

/** Shows VM `name`'s kept console output, then attaches to its console if it runs. */
async function openConsole(name: string): Promise<void> {
  closeConsole("");
  selected = name;
  render();
  fit();
  term.reset();
  setConsoleStatus("connecting", `connecting to ${name}'s console…`);
  try {
    const history = (await api("GET", `${vmPath(name, "logs")}?tail=${LOG_TAIL_LINES}`)) as string | null;
    if (selected !== name) return;
    if (history !== null) term.write(history);
    const vm = vms.find((v) => v.name === name);
    if (vm === undefined || (vm.state !== "running" && vm.state !== "paused")) {
      setConsoleStatus("closed", `${name} is ${vm?.state ?? "gone"}: its kept console output is shown; start it to attach`);
      await renderSnapshots(name);
      return;
    }
    const t = (await api("POST", vmPath(name, "console/ticket"))) as ConsoleTicket;
    if (selected !== name) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const sock = new WebSocket(`${scheme}//${location.host}${vmPath(name, "console")}?ticket=${encodeURIComponent(t.ticket)}`);
    sock.binaryType = "arraybuffer";
    ws = sock;
    sock.onopen = (): void => { setConsoleStatus("attached", `attached to ${name}'s serial console`); sendResize(); term.focus(); };
    sock.onmessage = (e: MessageEvent<ArrayBuffer | string>): void => {
      if (typeof e.data === "string") {
        const m = JSON.parse(e.data) as { type?: string; fault_message?: string };
        if (m.type === "error") showError(`console: ${m.fault_message ?? e.data}`);
      } else term.write(new Uint8Array(e.data));
    };
    sock.onclose = (e: CloseEvent): void => {
      if (ws === sock) ws = null;
      setConsoleStatus("closed", `console closed${e.reason === "" ? ` (code ${e.code})` : `: ${e.reason}`}`);
    };
    await renderSnapshots(name);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === HTTP_UNAUTHORIZED)) {
      setConsoleStatus("closed", `no console: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** The terminal's whole buffer (scrollback included) as text, one line per row (for tests). */
function screenText(): string {
  const b = term.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? "");
  return lines.join("\n");
}

declare global {
  interface Window {
    rvisorConsole: { terminal: Terminal; screenText(): string; refresh(): Promise<void> };
  }
}
window.rvisorConsole = { terminal: term, screenText, refresh };

// ---- start ----

ui.login.addEventListener("submit", (e) => {
  e.preventDefault();
  const t = ui.tokenInput.value.trim();
  if (t === "") return;
  ui.tokenInput.value = "";
  showError(null);
  setToken(t);
  void refresh();
});
ui.logout.addEventListener("click", () => { setToken(null); closeConsole("signed out"); vms = []; selected = null; render(); showError(null); });

/** A token in the fragment (taken out of the address bar at once), or null. */
function takeFragmentToken(): string | null {
  const f = tokenFromFragment(location.hash);
  if (f.token !== null) history.replaceState(null, "", `${location.pathname}${location.search}${f.rest}`);
  return f.token;
}
// A link with #token=T followed while the page is open changes only the fragment.
window.addEventListener("hashchange", () => {
  const t = takeFragmentToken();
  if (t === null) return;
  showError(null);
  setToken(t);
  void refresh();
});
setToken(takeFragmentToken() ?? sessionStorage.getItem(TOKEN_KEY));
render();
if (token === null) ui.tokenInput.focus(); else void refresh();
