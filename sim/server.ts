// `npm start`: the simulator in a browser. Serves sim/web/ and a websocket that pushes the screen
// (256x144 gray levels, one binary message per frame), state, logs and boots, and takes keys,
// power and FlipCTL actions. Loopback by default.
//
//   npm start -- [--host 127.0.0.1] [--port 8080] [--store DIR] [--dir DIR] [--uboot-at final|power-on]
//                [--linux standin|real]
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type WebSocket, WebSocketServer } from "ws";
import { KEY_NAMES } from "../mcu/core/keys";
import { ACTION_NAMES, REASON_NAMES, STATUS_NAMES } from "../protocol/register-block";
import { Simulation } from "./engine";
import type { ProfileJson } from "./example";
import type { BootRecord, LogLine, SimulationOptions } from "./types";

const WEB = join(dirname(fileURLToPath(import.meta.url)), "web");
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};
const FILES = [
  "index.html",
  "style.css",
  "device.css",
  "panels.css",
  "app.js",
  "boot.js",
  "device.js",
  "dom.js",
  "flipctl.js",
  "link.js",
  "log.js",
];

/** The page's code-to-name tables, from protocol/ (the page cannot import TypeScript). */
const NAMES_JS = [
  "// Made by sim/server.ts from protocol/register-block.ts.",
  "export const STATUS_NAMES = " + JSON.stringify(STATUS_NAMES) + ";",
  "export const ACTION_NAMES = " + JSON.stringify(ACTION_NAMES) + ";",
  "export const REASON_NAMES = " + JSON.stringify(REASON_NAMES) + ";",
  "",
].join("\n");

export interface ServerOptions extends SimulationOptions {
  host?: string;
  port?: number;
}

export interface SimServer {
  url: string;
  sim: Simulation;
  server: Server;
  close(): Promise<void>;
}

/** A request from the page; `rid` correlates the result (`id` is a profile id where one is needed). */
type Msg = { type: string; rid?: number; [k: string]: unknown };

function str(v: unknown, what: string): string {
  if (typeof v !== "string") throw new Error(what + " must be a string");
  return v;
}

/** A started simulation with these options (closed again when its start fails). */
async function startSimulation(o: SimulationOptions): Promise<Simulation> {
  const sim = new Simulation(o);
  try {
    await sim.start();
  } catch (e) {
    await sim.close();
    throw e;
  }
  return sim;
}

export async function startServer(o: ServerOptions = {}): Promise<SimServer> {
  let sim = await startSimulation(o);
  /** Set while the page's Linux switch replaces the simulation: requests wait for the new one. */
  let switching: string | null = null;
  const clients = new Set<WebSocket>();
  const held = new Set<string>();
  let stateTimer: NodeJS.Timeout | null = null;

  const broadcast = (data: string | Buffer) => {
    for (const c of clients) if (c.readyState === 1) c.send(data);
  };
  const pushState = () => {
    if (stateTimer) return;
    stateTimer = setTimeout(async () => {
      stateTimer = null;
      broadcast(JSON.stringify({ type: "state", state: await sim.snapshot() }));
    }, 30);
  };
  const attach = (s: Simulation) => {
    s.on("frame", (px: Uint8Array) => broadcast(Buffer.from(px)));
    s.on("log", (l: LogLine) => broadcast(JSON.stringify({ type: "log", log: l })));
    s.on("boot", (b: BootRecord) => broadcast(JSON.stringify({ type: "boot", boot: b })));
    s.on("state", pushState);
  };
  attach(sim);
  const hello = async () =>
    JSON.stringify({
      type: "hello",
      state: await sim.snapshot(),
      logs: sim.logs.slice(-300),
      boot: sim.lastBoot(),
    });

  /**
   * The page's Linux switch: a new simulation with the other Linux (the same options otherwise),
   * started after the old one closed (its QEMUs, ports and the VM's lock go first). Every page
   * gets the new one's hello; when it cannot start, the old kind starts again and the error stays.
   */
  const switchLinux = async (kind: "standin" | "real") => {
    const now = sim.real ? "real" : "standin";
    if (kind === now) return;
    switching = kind === "real" ? "the real Linux" : "the stand-in Linux";
    try {
      const old = sim;
      old.log("sim", `a new simulation with ${switching} starts: this one closes`);
      // A close that fails part-way still lets the new simulation start (its error is logged there).
      const closeError = await old.close().then(
        () => null,
        (e: Error) => e,
      );
      old.removeAllListeners();
      o.linux = kind;
      let failed: Error | null = null;
      try {
        sim = await startSimulation(o);
      } catch (e) {
        failed = e as Error;
        o.linux = now;
        sim = await startSimulation(o);
      }
      attach(sim);
      if (closeError) sim.log("sim", `the previous simulation did not close cleanly: ${closeError.message}`);
      if (failed) sim.log("sim", `${switching} could not start: ${failed.message}`);
      else
        sim.log("sim", `a new simulation with ${switching}: MCU, store and U-Boot environment start afresh`);
      broadcast(await hello());
      broadcast(Buffer.from(sim.screenPixels()));
      if (failed) throw failed;
    } finally {
      switching = null;
    }
  };
  // The MCU's state changes on its own (countdowns, events): refresh now and then.
  const poll = setInterval(pushState, 1000);

  const act = async (m: Msg): Promise<unknown> => {
    if (switching) throw new Error(`the simulation is restarting with ${switching}: try again in a moment`);
    switch (m.type) {
      case "linux":
        if (m.kind !== "standin" && m.kind !== "real") throw new Error('linux must be "standin" or "real"');
        await switchLinux(m.kind);
        return null;
      case "key": {
        const key = str(m.key, "key");
        if (KEY_NAMES.indexOf(key) < 0)
          throw new Error('key "' + key + '" is unknown: use ' + KEY_NAMES.join(", "));
        if (m.down) {
          held.add(key);
          sim.keyDown(key);
        } else {
          held.delete(key);
          sim.keyUp(key);
        }
        return null;
      }
      case "power":
        if (m.on === false) await sim.powerOff();
        else await sim.powerOn([...held], false);
        return null;
      case "ubootAt":
        if (m.at !== "final" && m.at !== "power-on") throw new Error('ubootAt must be "final" or "power-on"');
        sim.ubootAt = m.at;
        sim.log(
          "sim",
          "U-Boot now starts " +
            (m.at === "final" ? "when the choice is FINAL" : "with the SoC (polls PENDING)"),
        );
        sim.emit("state");
        return null;
      case "restartMcu":
        await sim.restartMcu();
        return null;
      case "mcuAbsent":
        await sim.setMcuAbsent(m.absent === true);
        return null;
      case "bridge":
        if (m.run) await sim.startBridge();
        else await sim.killBridge();
        return null;
      case "failNextBoot":
        if (m.clear) sim.failNext = 0;
        else sim.failNextBoot(1);
        sim.emit("state");
        return null;
      case "create":
        await sim.flipctl.createProfile(m.profile as ProfileJson);
        return null;
      case "reset":
        await sim.flipctl.resetProfile(str(m.id, "id"));
        return null;
      case "clone":
        await sim.flipctl.cloneProfile(
          str(m.from, "from"),
          str(m.id, "id"),
          typeof m.name === "string" ? m.name : undefined,
        );
        return null;
      case "rename":
        await sim.flipctl.renameProfile(str(m.id, "id"), str(m.name, "name"));
        return null;
      case "delete":
        await sim.flipctl.deleteProfile(str(m.id, "id"));
        return null;
      case "hide":
        await sim.flipctl.hideProfile(str(m.id, "id"), m.hidden !== false);
        return null;
      case "setDefault":
        await sim.setDefault(str(m.target, "target"));
        return null;
      case "setNext":
        await sim.setNext(str(m.id, "id"), typeof m.action === "string" ? m.action : "boot");
        return null;
      case "setOptions":
        await sim.setOptions(m.options as { timeoutSeconds?: number });
        return null;
      default:
        throw new Error('unknown request "' + m.type + '"');
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const send = (code: number, type: string, body: string | Buffer) => {
      res.writeHead(code, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (url.pathname === "/api/state") {
      sim.snapshot().then(
        (s) => send(200, "application/json", JSON.stringify(s)),
        (e) => send(500, "text/plain", String(e)),
      );
      return;
    }
    if (url.pathname === "/screen.png") {
      send(200, "image/png", sim.screenPng());
      return;
    }
    const name = url.pathname === "/" ? "index.html" : url.pathname.slice(1);
    if (name === "names.js") {
      send(200, TYPES[".js"], NAMES_JS);
      return;
    }
    if (FILES.indexOf(name) < 0) {
      send(404, "text/plain", "not found: " + url.pathname);
      return;
    }
    send(
      200,
      TYPES[name.slice(name.lastIndexOf("."))] ?? "application/octet-stream",
      readFileSync(join(WEB, name)),
    );
  });
  const wss = new WebSocketServer({ server, path: "/ws" });
  wss.on("connection", async (ws) => {
    clients.add(ws);
    ws.on("close", () => clients.delete(ws));
    ws.on("message", async (data) => {
      let m: Msg;
      try {
        m = JSON.parse(String(data)) as Msg;
      } catch {
        ws.send(JSON.stringify({ type: "result", ok: false, error: "not JSON" }));
        return;
      }
      try {
        await act(m);
        ws.send(JSON.stringify({ type: "result", rid: m.rid, ok: true }));
      } catch (e) {
        const error = (e as Error).message;
        sim.log("sim", m.type + " failed: " + error);
        ws.send(JSON.stringify({ type: "result", rid: m.rid, ok: false, error }));
      }
      pushState();
    });
    ws.send(await hello());
    ws.send(Buffer.from(sim.screenPixels()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 8080, o.host ?? "127.0.0.1", () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? "[" + addr.address + "]" : addr.address;
  return {
    url: "http://" + host + ":" + addr.port + "/",
    get sim() {
      return sim;
    },
    server,
    async close() {
      clearInterval(poll);
      if (stateTimer) clearTimeout(stateTimer);
      for (const c of clients) c.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
      await sim.close();
    },
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  // A person at `npm start` gets the real lifecycle on a btrfs image when this machine can mount one.
  const o: ServerOptions = { storeKind: "auto" };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const val = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(a + " needs a value");
      return v;
    };
    if (a === "--host") o.host = val();
    else if (a === "--port") {
      const p = Number(val());
      if (!Number.isInteger(p) || p < 0 || p > 65535) throw new Error("--port must be 0 to 65535");
      o.port = p;
    } else if (a === "--store") {
      o.storeDir = val();
      o.profiles = [];
    } else if (a === "--store-kind") {
      const v = val();
      if (v !== "auto" && v !== "btrfs" && v !== "folder")
        throw new Error("--store-kind must be auto, btrfs or folder");
      o.storeKind = v;
    } else if (a === "--dir") o.dir = val();
    else if (a === "--mcu") {
      const v = val();
      if (v !== "node" && v !== "vm") throw new Error("--mcu must be node or vm");
      o.mcu = v;
    } else if (a === "--linux") {
      const v = val();
      if (v !== "standin" && v !== "real") throw new Error("--linux must be standin or real");
      o.linux = v;
    } else if (a === "--uboot-at") {
      const v = val();
      if (v !== "final" && v !== "power-on") throw new Error("--uboot-at must be final or power-on");
      o.ubootAt = v;
    } else if (a === "-h" || a === "--help") {
      process.stdout.write(
        "usage: npm start -- [--host 127.0.0.1] [--port 8080] [--store DIR (holds @profiles)] [--dir DIR (sim state)]\n" +
          "                   [--uboot-at final|power-on (U-Boot polls the PENDING block while the menu is open)]\n" +
          "                   [--mcu node|vm (the DeviceScript program in the VM instead of NodeMcu)]\n" +
          "                   [--linux standin|real (real: the test image's Debian under QEMU, built on first use)]\n" +
          "                   [--store-kind auto|btrfs|folder (default auto: a btrfs image when root can mount one)]\n",
      );
      return;
    } else throw new Error("unknown option " + a + " (try --help)");
  }
  process.stdout.write("starting the simulator (MCU, bridge, U-Boot in QEMU)...\n");
  const s = await startServer(o);
  process.stdout.write("flipper-boot simulator: " + s.url + "\n  folder: " + s.sim.dir + "\n");
  // U-Boot's first (cold) boot takes ~10 s; start it now so the first power-on is quick.
  s.sim.uboot
    .warm(true, s.sim.bootDir)
    .catch((e) => process.stderr.write("U-Boot: " + (e as Error).message + "\n"));
  const stop = async () => {
    process.stdout.write("\nstopping...\n");
    await s.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((e) => {
    process.stderr.write((e as Error).message + "\n");
    process.exit(1);
  });
}
