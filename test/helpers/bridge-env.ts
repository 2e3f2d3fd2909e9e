// Shared setup for soc-bridge tests: temporary profile store / boot dir, profile.json writers,
// and an MCU endpoint on the far end of a real socat pty pair.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ExecutionContext } from "ava";
import { openSerial } from "../../soc-bridge/serial";
import type { Transport } from "../../soc-bridge/link";
import { openPtyPair, type PtyPair } from "./pty";
import { TestDoubleMcu, type TestDoubleOptions } from "./test-double-mcu";

export interface TempDirs {
  root: string;
  store: string;
  boot: string;
  state: string;
  socket: string;
  cleanup(): void;
}

/**
 * At the test's end (t.teardown): stops the daemon, then closes the MCU endpoint, then removes the
 * temporary folders.
 */
export function stopAtEnd(
  t: ExecutionContext,
  daemon: { stop(): Promise<void> },
  end: { close(): Promise<void> },
  dirs: { cleanup(): void },
): void {
  t.teardown(async () => {
    await daemon.stop();
    await end.close();
    dirs.cleanup();
  });
}

export function tempDirs(prefix = "fb-bridge-"): TempDirs {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  const dirs = {
    root,
    store: path.join(root, "top"),
    boot: path.join(root, "boot"),
    state: path.join(root, "state"),
    socket: path.join(root, "ctl.sock"),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
  mkdirSync(path.join(dirs.store, "@profiles"), { recursive: true });
  mkdirSync(dirs.boot, { recursive: true });
  return dirs;
}

export interface ProfileJson {
  id?: unknown;
  name?: unknown;
  base?: unknown;
  created?: unknown;
  lastUsed?: unknown;
  origin?: unknown;
  hidden?: unknown;
  protected?: unknown;
  kernelOptions?: unknown;
  overlays?: unknown;
  sortKey?: unknown;
}

export function profileJson(id: string, extra: ProfileJson = {}): ProfileJson {
  return {
    id,
    name: "Profile " + id,
    base: "1.0.0",
    created: "2026-01-01T00:00:00Z",
    lastUsed: null,
    origin: null,
    hidden: false,
    protected: false,
    kernelOptions: "",
    overlays: [],
    ...extra,
  };
}

/** Writes <store>/@profiles/<folder>/profile.json (text as given when a string). */
export function writeProfile(store: string, folder: string, content: ProfileJson | string): void {
  const dir = path.join(store, "@profiles", folder);
  mkdirSync(dir, { recursive: true });
  const text = typeof content === "string" ? content : JSON.stringify(content, null, 2);
  const tmp = path.join(dir, ".profile.json.tmp");
  writeFileSync(tmp, text);
  // Rename like real tools do (atomic replace).
  renameSync(tmp, path.join(dir, "profile.json"));
}

export function removeProfile(store: string, folder: string): void {
  rmSync(path.join(store, "@profiles", folder), { recursive: true, force: true });
}

/**
 * Fills @profiles with one of every kind of entry that is not a usable profile, next to one good
 * profile; returns the entry names that must each get exactly one skip line.
 */
export function everyKindOfNonProfile(store: string, outside: string): string[] {
  const dir = path.join(store, "@profiles");
  writeProfile(store, "good", profileJson("good"));
  mkdirSync(path.join(outside, "elsewhere"), { recursive: true });
  writeFileSync(path.join(outside, "elsewhere", "profile.json"), JSON.stringify(profileJson("to-folder")));
  writeFileSync(path.join(outside, "file.txt"), "x");
  const names: string[] = [];
  const add = (name: string, make: (p: string) => void) => {
    make(path.join(dir, name));
    names.push(name);
  };
  add("link-to-good", (p) => symlinkSync("good", p)); // even a link to a good profile
  add("to-folder", (p) => symlinkSync(path.join(outside, "elsewhere"), p));
  add("to-file", (p) => symlinkSync(path.join(outside, "file.txt"), p));
  add("dangling", (p) => symlinkSync(path.join(outside, "nothing-here"), p));
  add("loop", (p) => symlinkSync(p, p));
  add("plain-file", (p) => writeFileSync(p, JSON.stringify(profileJson("plain-file"))));
  add("empty-file", (p) => writeFileSync(p, ""));
  add(".hidden", (p) => {
    mkdirSync(p);
    writeFileSync(path.join(p, "profile.json"), JSON.stringify(profileJson("hidden")));
  });
  add(".dotfile", (p) => writeFileSync(p, "x"));
  add("no-profile-json", (p) => mkdirSync(p));
  add("fifo", (p) => execFileSync("mkfifo", [p]));
  add("device", (p) => execFileSync("mknod", [p, "c", "1", "3"])); // like /dev/null
  add("json-is-fifo", (p) => {
    mkdirSync(p);
    execFileSync("mkfifo", [path.join(p, "profile.json")]); // never opened: it would block
  });
  add("json-is-folder", (p) => mkdirSync(path.join(p, "profile.json"), { recursive: true }));
  add("json-is-link", (p) => {
    mkdirSync(p);
    symlinkSync(path.join(outside, "elsewhere", "profile.json"), path.join(p, "profile.json"));
  });
  add("line\nbreak", (p) => {
    mkdirSync(p);
    writeFileSync(path.join(p, "profile.json"), JSON.stringify(profileJson("x")));
  });
  return names;
}

export interface DoubleOnPty {
  mcu: TestDoubleMcu;
  /** The bridge's end of the pty. */
  port: string;
  pty: PtyPair;
  transport: Transport;
  close(): Promise<void>;
}

/** The TEST DOUBLE MCU attached (real serialport bindings) to one end of a socat pty pair. */
export async function doubleOnPty(opts: TestDoubleOptions = {}): Promise<DoubleOnPty> {
  const pty = await openPtyPair();
  const transport = await openSerial(pty.b);
  const mcu = new TestDoubleMcu(opts);
  mcu.send = (bytes) => {
    transport.write(Uint8Array.from(bytes)).catch(() => {});
  };
  transport.onData((c) => mcu.receive(c));
  transport.onClose(() => {});
  return {
    mcu,
    port: pty.a,
    pty,
    transport,
    close: async () => {
      await transport.close();
      await pty.close();
    },
  };
}

/**
 * Checks `cond` every 20 ms until true (or throws after timeoutMs, naming `what`). For conditions
 * on state that no event announces (the far side of a pty); generous for a loaded machine.
 */
export async function waitUntil(
  cond: () => boolean,
  what: string | (() => string),
  timeoutMs = 60000,
): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) {
      throw new Error("timed out waiting for " + (typeof what === "string" ? what : what()));
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
