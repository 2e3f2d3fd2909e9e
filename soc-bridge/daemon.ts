// The daemon: owns the MCU link, keeps the MCU's list equal to the profile store (full sync on start,
// on the MCU's HELLO and on a generation mismatch; deltas on changes seen through fs.watch: a rename
// at once, an in-place write after a short quiet window, a file caught mid-write held until it is
// whole), writes the U-Boot fragments and fallback, exposes events, and serves the control socket.
// Idle (in sync, nothing changing) it holds no timer: it sleeps until inotify, the MCU or a client
// wakes it.
import { EventEmitter } from "node:events";
import { type FSWatcher, promises as fsp, statSync, watch } from "node:fs";
import path from "node:path";
import { decimal } from "../protocol/bytes";
import type { Frame } from "../protocol/frame";
import {
  type BootReport,
  DefaultMode,
  decodeBootReport,
  decodeHelloResponse,
  decodeSetDefault,
  type HelloResponse,
  type McuState,
  MessageType,
  type SetDefault,
} from "../protocol/messages";
import { MAX_PROFILES, type ProfileRecord, sameProfile } from "../protocol/profile";
import { type Fallback, setFallback, writeFragments } from "./boot-files";
import { type ControlServer, serveControl } from "./control";
import { LinkClosedError, LinkTimeoutError, McuLink, type Transport, VersionError } from "./link";
import {
  applyDeltas,
  clearNext,
  describeRecord,
  describeState,
  getState,
  isStale,
  markGood,
  type OptionsChange,
  planDeltas,
  readMcuList,
  setDefault,
  setNext,
  setOptions,
  syncWholeList,
  UsageError,
} from "./ops";
import {
  compareProfiles,
  PROFILE_FILE,
  PROFILES_DIR,
  readStore,
  records,
  type StoredProfile,
} from "./profile-store";
import { DEFAULT_BAUD, openSerial } from "./serial";
import "./store/base-commands";
import { isStoreCommand, runStoreCommand } from "./store/commands";
import { DEFAULT_BOOTED } from "./store/layout";
import { cleanLeftovers, listStaged } from "./store/profiles";

export interface DaemonOptions {
  /** Serial device of the MCU interconnect UART. */
  port: string;
  baud?: number;
  /** btrfs top level holding @profiles/<id>/profile.json. */
  store: string;
  /** FAT boot partition root; null = write no fragments. */
  bootDir?: string | null;
  /** fw_setenv command; null = never touch the U-Boot environment. */
  fwSetenv?: string | null;
  fwEnvConfig?: string | null;
  /** Folder for state.json (what was last written to the U-Boot env); null = memory only. */
  stateDir?: string | null;
  /** Control socket path; null = none. */
  socket?: string | null;
  socketGroup?: string | number | null;
  /**
   * Quiet window after an in-place write to a profile.json (ms, default 10): the writer's close is
   * not visible to fs.watch, so the store is read once its writes stopped this long. Renames (atomic
   * writers, new and removed folders) are read at once.
   */
  debounceMs?: number;
  /**
   * A profile.json found half-written (empty, cut short, not JSON yet, changed while read) or a new
   * entry that is not a profile yet is given this long (ms, default 1000) from its last change to
   * become whole before it is skipped; until then the MCU keeps that profile as it was.
   */
  settleMs?: number;
  timeoutMs?: number;
  tries?: number;
  backoffMaxMs?: number;
  verbose?: boolean;
  log?: (line: string) => void;
  /** Opens the transport (default: the serial port). Tests and the simulator may pass their own. */
  openTransport?: () => Promise<Transport>;
  /** What the initramfs booted (store commands refuse or stage changes to the running profile). */
  booted?: string;
  cmdline?: string;
}

export type LinkState = "connecting" | "ok" | "not-responding" | "error" | "stopped";

export interface SyncInfo {
  kind: "full" | "delta" | "verified";
  generation: number;
  count: number;
  ms: number;
  /** Wire bytes sent + received during the sync. */
  bytes: number;
}

export interface DaemonStatus {
  link: LinkState;
  linkError: string;
  port: string;
  mcu: { version: number; instance: number; maxProfiles: number; maxPayload: number } | null;
  generation: number;
  inSync: boolean;
  profiles: number;
  skipped: string[];
  /** profile.json files (or new entries) caught mid-write: held as they were, looked at again soon. */
  pending: string[];
  error: string;
  lastSync: SyncInfo | null;
  lastBoot: BootReport | null;
  fallback: Fallback | null;
  stats: McuLink["stats"] | null;
}

function sameRecords(a: ProfileRecord[], b: ProfileRecord[]): boolean {
  return a.length === b.length && a.every((r, i) => sameProfile(r, b[i]));
}

/** A watched folder and the inode it watches: a folder replaced under the same path is re-watched. */
interface Watched {
  watcher: FSWatcher;
  dev: number;
  ino: number;
}

export class Daemon extends EventEmitter {
  private link: McuLink | null = null;
  private linkState: LinkState = "connecting";
  private linkError = "";
  private hello: HelloResponse | null = null;
  private needHello = true;
  private needFull = true;
  private mcuList: ProfileRecord[] | null = null;
  private generation = 0;
  private dirty = true;
  private fallbackDirty = true;
  private fullRequested: Array<{ resolve: (s: SyncInfo) => void; reject: (e: Error) => void }> = [];
  private wakeUp: (() => void) | null = null;
  private stopped = false;
  private loopDone: Promise<void> = Promise.resolve();
  private failures = 0;
  private snapshot: {
    profiles: StoredProfile[];
    skipped: string[];
    skippedFiles: string[];
    pending: string[];
  } = {
    profiles: [],
    skipped: [],
    skippedFiles: [],
    pending: [],
  };
  private loggedSkips = new Set<string>();
  private loggedWarnings = new Set<string>();
  private error = "";
  private lastSync: SyncInfo | null = null;
  private lastBoot: BootReport | null = null;
  private fallback: Fallback | null = null;
  private watchers = new Map<string, Watched>();
  /** Quiet window after an in-place write. */
  private debounceTimer: NodeJS.Timeout | null = null;
  /** A rename seen: read the store on the next turn (events of one inotify read coalesce). */
  private renameTick: NodeJS.Immediate | null = null;
  /** When a half-written profile.json is looked at again. */
  private settleTimer: NodeJS.Timeout | null = null;
  private running = false;
  private control: ControlServer | null = null;
  private inSync = false;
  readonly log: (line: string) => void;
  private readonly o: Required<Omit<DaemonOptions, "openTransport" | "log">> & {
    openTransport: () => Promise<Transport>;
  };

  constructor(options: DaemonOptions) {
    super();
    this.log = options.log ?? ((line) => process.stderr.write(line + "\n"));
    const baud = options.baud ?? DEFAULT_BAUD;
    this.o = {
      port: options.port,
      baud,
      store: options.store,
      bootDir: options.bootDir ?? null,
      fwSetenv: options.fwSetenv ?? null,
      fwEnvConfig: options.fwEnvConfig ?? null,
      stateDir: options.stateDir ?? null,
      socket: options.socket ?? null,
      socketGroup: options.socketGroup ?? null,
      debounceMs: options.debounceMs ?? 10,
      settleMs: options.settleMs ?? 1000,
      timeoutMs: options.timeoutMs ?? 250,
      tries: options.tries ?? 4,
      backoffMaxMs: options.backoffMaxMs ?? 5000,
      verbose: options.verbose ?? false,
      booted: options.booted ?? DEFAULT_BOOTED,
      cmdline: options.cmdline ?? "/proc/cmdline",
      openTransport: options.openTransport ?? (() => openSerial(options.port, baud)),
    };
  }

  private say(line: string): void {
    this.log("flipper-boot: " + line);
    this.emit("log", line);
  }

  async start(): Promise<void> {
    await this.loadState();
    if (this.o.socket) {
      this.control = await serveControl(
        this.o.socket,
        this.o.socketGroup,
        (cmd, args) => this.command(cmd, args),
        (emit) => this.watch(emit),
      );
    }
    this.watchStore();
    // Work a killed lifecycle command left in .flipper-tmp/ (STORE.md); not btrfs or busy: nothing to do.
    cleanLeftovers({ store: this.o.store }).then(
      (r) => {
        for (const l of r.cleaned) this.say(l);
      },
      () => {},
    );
    this.loopDone = this.loop();
  }

  // ---- state file ---------------------------------------------------------------------------

  private async loadState(): Promise<void> {
    if (!this.o.stateDir) return;
    try {
      const s = JSON.parse(await fsp.readFile(path.join(this.o.stateDir, "state.json"), "utf8"));
      if (s && s.fallback && typeof s.fallback.profile === "string" && typeof s.fallback.base === "string") {
        this.fallback = { profile: s.fallback.profile, base: s.fallback.base };
      }
    } catch {
      // No state yet (or unreadable): the fallback is written again once.
    }
  }

  private async saveState(): Promise<void> {
    if (!this.o.stateDir) return;
    await fsp.mkdir(this.o.stateDir, { recursive: true });
    const file = path.join(this.o.stateDir, "state.json");
    await fsp.writeFile(file + ".tmp", JSON.stringify({ fallback: this.fallback }) + "\n");
    await fsp.rename(file + ".tmp", file);
  }

  // ---- file system watching -------------------------------------------------------------------

  private watchStore(): void {
    const profilesDir = path.join(this.o.store, PROFILES_DIR);
    const want = new Map<string, (event: string, name: string | null) => void>();
    const storeName = path.basename(this.o.store);
    // The top level holds more than @profiles (bases, snapshots, the owner's data): only @profiles counts.
    want.set(this.o.store, (_event, name) => {
      if (name === null || name === PROFILES_DIR || name === storeName) this.changed(true);
    });
    // Any entry of @profiles appearing, leaving or being renamed.
    want.set(profilesDir, () => this.changed(true));
    const folders = new Set<string>();
    for (const p of this.snapshot.profiles) folders.add(path.dirname(p.file));
    // Bad and half-written profiles are watched too, so fixing or finishing one is noticed.
    for (const f of [...this.snapshot.skippedFiles, ...this.snapshot.pending]) {
      if (path.basename(f) === PROFILE_FILE) folders.add(path.dirname(f));
    }
    for (const d of folders) {
      const folderName = path.basename(d);
      // Only profile.json matters in a profile folder (upper/ and work/ change all the time). A rename
      // onto it (atomic writers), its creation or removal, or the folder's own move is read at once;
      // an in-place write after its writes stop (its close is not visible to fs.watch).
      want.set(d, (event, name) => {
        if (name === PROFILE_FILE) this.changed(event === "rename");
        else if (name === null || name === folderName) this.changed(true);
      });
    }
    let added = false;
    for (const [d, w] of this.watchers) {
      if (!want.has(d)) {
        w.watcher.close();
        this.watchers.delete(d);
      }
    }
    for (const [d, onEvent] of want) added = this.addWatch(d, onEvent) || added;
    // A folder is watched only after the scan that found it: a write in between (a profile renamed
    // right after it was created) raised no event, so look once more now that the watch is in place.
    if (added) this.changed(true);
  }

  /** Watches `dir` (again if the path now names another folder); true when a new watcher was added. */
  private addWatch(dir: string, onEvent: (event: string, name: string | null) => void): boolean {
    let st: { dev: number; ino: number };
    try {
      st = statSync(dir);
    } catch {
      // The folder does not exist (yet): its parent's watcher reports when it appears.
      const old = this.watchers.get(dir);
      if (old) {
        old.watcher.close();
        this.watchers.delete(dir);
      }
      return false;
    }
    const old = this.watchers.get(dir);
    // fs.watch follows the inode: a folder moved away (a reset or undo exchanges the profile's
    // subvolume, a store is mounted over the path) keeps reporting the old one. btrfs subvolumes
    // share inode numbers, hence dev too.
    if (old && old.dev === st.dev && old.ino === st.ino) return false;
    if (old) {
      old.watcher.close();
      this.watchers.delete(dir);
    }
    try {
      const w = watch(dir, { persistent: false }, (event, name) =>
        onEvent(event, typeof name === "string" ? name : null),
      );
      w.on("error", () => {
        w.close();
        if (this.watchers.get(dir)?.watcher === w) this.watchers.delete(dir);
        this.changed(true);
      });
      this.watchers.set(dir, { watcher: w, dev: st.dev, ino: st.ino });
      return true;
    } catch {
      return false;
    }
  }

  /** A store change: `now` for renames (read on the next turn), else after the quiet window. */
  private changed(now: boolean): void {
    if (this.stopped) return;
    if (now) {
      if (!this.renameTick) {
        this.renameTick = setImmediate(() => {
          this.renameTick = null;
          this.markDirty();
        });
      }
      return;
    }
    // An in-place write: wait until its writes stop. A rename read meanwhile does not cancel this:
    // that read may have caught this file half-written.
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = null;
      this.markDirty();
    }, this.o.debounceMs);
  }

  private markDirty(): void {
    this.dirty = true;
    this.inSync = false;
    const w = this.wakeUp;
    this.wakeUp = null;
    if (w) w();
  }

  /** True while a store read is due or running, or a half-written file waits to be looked at again. */
  private busy(): boolean {
    return (
      this.dirty ||
      this.running ||
      this.debounceTimer !== null ||
      this.renameTick !== null ||
      this.settleTimer !== null
    );
  }

  // ---- the sync loop --------------------------------------------------------------------------

  private setLink(state: LinkState, error = ""): void {
    // "not responding" is reported on the transition only (the seq in the message changes per try).
    const changed = state !== this.linkState || (state === "error" && error !== this.linkError);
    const was = this.linkState;
    this.linkState = state;
    this.linkError = error;
    if (!changed) return;
    if (state === "ok" && (was === "not-responding" || was === "error")) this.say("MCU is responding again");
    else if (state === "not-responding") this.say(error + "; will keep trying");
    else if (state === "error") this.say(error);
    this.emit("link", state);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      if (!this.dirty) {
        // Nothing to do: no timer runs, the next change, MCU event or request wakes the loop.
        this.emit("idle");
        await new Promise<void>((r) => {
          this.wakeUp = r;
        });
        continue;
      }
      this.dirty = false;
      this.running = true;
      try {
        await this.step();
        this.failures = 0;
      } catch (e) {
        if (this.stopped) break;
        this.dirty = true;
        this.failures++;
        if (e instanceof LinkTimeoutError) {
          this.needHello = true;
          this.setLink("not-responding", e.message);
        } else if (e instanceof LinkClosedError) {
          this.needHello = true;
        } else if (e instanceof VersionError) {
          this.needHello = true;
          this.setLink("error", e.message);
        } else {
          const msg = (e as Error).message;
          const repeated = msg === this.error;
          this.error = msg;
          if (this.linkState !== "ok") this.setLink("error", msg);
          else if (!repeated) this.say("sync failed: " + msg);
        }
        const waiters = this.fullRequested.splice(0);
        for (const w of waiters) w.reject(e as Error);
        const delay = Math.min(200 * 2 ** Math.min(this.failures, 10), this.o.backoffMaxMs);
        this.running = false;
        this.emit("idle");
        // A retry after a failure (the MCU silent, the store not mounted: mounting raises no
        // inotify event on the mount point) is the one timer the loop holds, and only while failing.
        let timer: NodeJS.Timeout | null = null;
        await new Promise<void>((r) => {
          this.wakeUp = r;
          timer = setTimeout(r, delay);
        });
        if (timer) clearTimeout(timer);
        this.wakeUp = null;
      } finally {
        this.running = false;
      }
    }
  }

  private async ensureLink(): Promise<McuLink> {
    if (this.link) return this.link;
    let transport: Transport;
    try {
      transport = await this.o.openTransport();
    } catch (e) {
      throw new Error((e as Error).message);
    }
    const link = new McuLink(transport, {
      timeoutMs: this.o.timeoutMs,
      tries: this.o.tries,
      backoffMaxMs: this.o.backoffMaxMs,
      verbose: this.o.verbose,
      log: this.log,
    });
    transport.onClose((why) => {
      if (this.link !== link) return;
      this.link = null;
      this.needHello = true;
      this.setLink("error", "lost the serial port " + this.o.port + ": " + why);
      void link.close().catch(() => {});
      this.markDirty();
    });
    link.on("event", (f: Frame) => this.onEvent(f));
    this.link = link;
    this.needHello = true;
    return link;
  }

  private onEvent(f: Frame): void {
    if (f.type === MessageType.EVENT_HELLO) {
      const d = decodeHelloResponse(f.payload);
      this.say(
        "MCU restarted" +
          (d.value ? " (instance " + d.value.instance + ", generation " + d.value.generation + ")" : "") +
          "; full sync",
      );
      this.needHello = true;
      this.needFull = true;
      this.fallbackDirty = true;
      // Remember the new instance so the HELLO exchange that follows does not count it as another restart.
      if (d.value && this.hello) this.hello = { ...this.hello, instance: d.value.instance };
      this.markDirty();
    } else if (f.type === MessageType.EVENT_BOOT) {
      const d = decodeBootReport(f.payload);
      if (!d.value) return;
      this.lastBoot = d.value;
      this.say("MCU booted " + d.value.id + " (sequence " + d.value.sequence + ")");
      this.emit("boot", d.value);
      this.fallbackDirty = true;
      this.markDirty();
    } else if (f.type === MessageType.EVENT_DEFAULT_CHANGED) {
      const d = decodeSetDefault(f.payload);
      if (!d.value) return;
      const v: SetDefault = d.value;
      this.say(
        "owner changed the default in the menu to " + (v.mode === DefaultMode.LAST_USED ? "last-used" : v.id),
      );
      this.emit("default-changed", v);
      this.fallbackDirty = true;
      this.markDirty();
    }
  }

  private async step(): Promise<void> {
    const link = await this.ensureLink();
    if (this.needHello) {
      const h = await link.hello();
      const first = this.hello === null;
      // The start line says what the MCU holds now and how many it can hold (HELLO carries only the
      // capacity); asked before anything is remembered, so a failure here is retried whole.
      const held = first ? (await getState(link)).profileCount : 0;
      if (first || h.instance !== this.hello!.instance || h.generation !== this.generation)
        this.needFull = true;
      this.hello = h;
      this.needHello = false;
      this.error = "";
      this.setLink("ok");
      if (first) {
        this.say(
          "MCU speaks protocol " +
            h.version +
            ", holds " +
            held +
            " of " +
            h.maxProfiles +
            " profiles, generation " +
            h.generation,
        );
      }
    }
    const snap = await readStore(this.o.store, { settleMs: this.o.settleMs });
    if (snap.error) {
      // The MCU keeps its list; the store's watchers notice when it appears.
      this.watchStore();
      throw Object.assign(new Error(snap.error + "; the MCU keeps its list"), { code: "store" });
    }
    // A profile.json caught mid-write is not a bad profile yet: the MCU (and U-Boot) keep the
    // profile as it was last read whole, and the file is looked at again when it changes or settles.
    const held = new Map<string, StoredProfile>();
    for (const p of this.snapshot.profiles) held.set(path.basename(path.dirname(p.file)), p);
    const profiles = snap.profiles.slice();
    for (const s of snap.settling) {
      const old = held.get(s.folder);
      if (old) profiles.push(old);
    }
    if (profiles.length !== snap.profiles.length) profiles.sort(compareProfiles);
    snap.profiles = profiles;
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = null;
    if (snap.settling.length > 0 && !this.stopped) {
      const at = Math.min(...snap.settling.map((s) => s.retryAt));
      this.settleTimer = setTimeout(
        () => {
          this.settleTimer = null;
          this.markDirty();
        },
        Math.max(1, at - Date.now() + 1),
      );
      this.emit(
        "pending",
        snap.settling.map((s) => s.file),
      );
    }
    this.snapshot = {
      profiles: snap.profiles,
      skipped: snap.skipped.map((s) => s.message),
      skippedFiles: snap.skipped.map((s) => s.file),
      pending: snap.settling.map((s) => s.file),
    };
    const skipNow = new Set(this.snapshot.skipped);
    for (const m of skipNow) if (!this.loggedSkips.has(m)) this.say(m);
    this.loggedSkips = skipNow;
    this.watchStore();
    if (this.mcuList === null && snap.settling.some((s) => !held.has(s.folder))) {
      // Nothing read whole yet to hold for a file caught mid-write, and the MCU (and the boot
      // partition) may well have that profile: the first sync waits until it is whole or settled
      // rather than dropping it and its fragment.
      return;
    }
    if (this.o.bootDir) {
      const r = await writeFragments(this.o.bootDir, snap.profiles);
      for (const e of r.errors) this.say(e);
      const warnNow = new Set(r.warnings);
      for (const w of warnNow) if (!this.loggedWarnings.has(w)) this.say(w);
      this.loggedWarnings = warnNow;
      if (r.written.length || r.removed.length) {
        this.say("boot fragments: " + r.written.length + " written, " + r.removed.length + " removed");
      }
    }
    const limit = Math.min(MAX_PROFILES, this.hello!.maxProfiles);
    const want = records(snap.profiles);
    if (want.length > limit) {
      const msg =
        "too many profiles: " +
        want.length +
        " valid profiles on disk, the MCU holds at most " +
        limit +
        "; the MCU keeps its list (generation " +
        this.generation +
        ") until some are removed";
      if (this.error !== msg) this.say(msg);
      this.error = msg;
      const err = Object.assign(new Error(msg), { code: "limit" });
      for (const w of this.fullRequested.splice(0)) w.reject(err);
      return;
    }
    this.error = "";
    await this.syncList(link, want);
    if (this.fallbackDirty) await this.updateFallback(link);
    this.inSync = !this.dirty;
  }

  private async syncList(link: McuLink, want: ProfileRecord[]): Promise<void> {
    const t0 = performance.now();
    const b0 = link.stats.bytesIn + link.stats.bytesOut;
    const waiters = this.fullRequested.splice(0);
    const forced = waiters.length > 0;
    let kind: SyncInfo["kind"] | null = null;
    try {
      for (let round = 0; round < 3 && kind === null; round++) {
        if (this.needFull || this.mcuList === null || forced) {
          const r = await syncWholeList(link, want);
          this.generation = r.generation;
          kind = r.kind;
          this.mcuList = want;
          this.needFull = false;
          this.fallbackDirty = true;
        } else {
          const ops = planDeltas(this.mcuList, want);
          if (ops === null) {
            this.needFull = true;
            continue;
          }
          if (ops.length === 0) return this.settle(waiters, null);
          try {
            this.generation = await applyDeltas(link, ops, this.generation);
            this.mcuList = want;
            kind = "delta";
          } catch (e) {
            if (!isStale(e)) throw e;
            this.say("MCU list is not at generation " + this.generation + "; full sync");
            this.needFull = true;
          }
        }
      }
    } catch (e) {
      if (isStale(e)) this.needFull = true;
      for (const w of waiters) w.reject(e as Error);
      throw e;
    }
    if (kind === null) throw new Error("could not bring the MCU's list in line after 3 rounds");
    const info: SyncInfo = {
      kind,
      generation: this.generation,
      count: want.length,
      ms: Math.round(performance.now() - t0),
      bytes: link.stats.bytesIn + link.stats.bytesOut - b0,
    };
    this.lastSync = info;
    const what =
      kind === "verified"
        ? "MCU already holds the " + info.count + " profiles"
        : kind === "full"
          ? "synced " + info.count + " profiles"
          : "sent changes, " + info.count + " profiles";
    this.say(what + " (generation " + decimal(info.generation) + ") in " + info.ms + " ms");
    this.settle(waiters, info);
  }

  private settle(waiters: Array<{ resolve: (s: SyncInfo) => void }>, info: SyncInfo | null): void {
    const i = info ??
      this.lastSync ?? { kind: "verified", generation: this.generation, count: 0, ms: 0, bytes: 0 };
    if (info) this.emit("synced", info);
    for (const w of waiters) w.resolve(i);
  }

  /** The saved fallback for U-Boot: the MCU's fixed default, else the last good, else the first profile. */
  private async updateFallback(link: McuLink): Promise<void> {
    this.fallbackDirty = false;
    const st = await getState(link);
    if (st.lastBoot.sequence !== 0) this.lastBoot = st.lastBoot;
    this.emit("state", st);
    if (!this.o.fwSetenv) return;
    const list = this.mcuList ?? [];
    const find = (id: string) => list.find((r) => r.id === id);
    const p =
      (st.defaultMode === DefaultMode.FIXED ? find(st.defaultId) : undefined) ??
      find(st.lastGoodId) ??
      (st.lastBoot.good ? find(st.lastBoot.id) : undefined) ??
      list[0];
    if (!p) return;
    const fb: Fallback = { profile: p.id, base: p.base };
    if (this.fallback && this.fallback.profile === fb.profile && this.fallback.base === fb.base) return;
    try {
      await setFallback({ command: this.o.fwSetenv, config: this.o.fwEnvConfig }, fb);
      this.fallback = fb;
      await this.saveState();
      this.say("U-Boot fallback set to " + fb.profile + " (base " + fb.base + ")");
    } catch (e) {
      this.say((e as Error).message);
      this.fallbackDirty = true;
    }
  }

  // ---- the API --------------------------------------------------------------------------------

  status(): DaemonStatus {
    const h = this.hello;
    return {
      link: this.stopped ? "stopped" : this.linkState,
      linkError: this.linkError,
      port: this.o.port,
      mcu: h
        ? { version: h.version, instance: h.instance, maxProfiles: h.maxProfiles, maxPayload: h.maxPayload }
        : null,
      generation: this.generation,
      inSync: this.inSync && !this.busy() && this.error === "",
      profiles: this.snapshot.profiles.length,
      skipped: [...this.snapshot.skipped],
      pending: [...this.snapshot.pending],
      error: this.error,
      lastSync: this.lastSync,
      lastBoot: this.lastBoot,
      fallback: this.fallback,
      stats: this.link ? { ...this.link.stats } : null,
    };
  }

  /**
   * Resolves once the daemon is idle with the MCU holding the store's list as it is on disk now
   * (read again here, so a change whose inotify event is still on its way is not missed: a
   * difference makes the daemon look again). Event-driven: no polling.
   */
  whenSynced(timeoutMs = 60000): Promise<DaemonStatus> {
    return new Promise((resolve, reject) => {
      let done = false;
      let checking = false;
      let again = false;
      const check = async () => {
        if (done) return;
        if (checking) {
          again = true;
          return;
        }
        checking = true;
        try {
          do {
            again = false;
            if (this.status().inSync) {
              const disk = await readStore(this.o.store);
              if (done) return;
              const st = this.status();
              if (!st.inSync) continue;
              if (disk.error === "" && sameRecords(records(disk.profiles), this.mcuList ?? [])) {
                finish();
                resolve(st);
                return;
              }
              this.markDirty();
            }
          } while (again && !done);
        } finally {
          checking = false;
        }
      };
      const onIdle = () => void check();
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error("not in sync after " + timeoutMs + " ms: " + (this.error || this.linkError || "busy")),
        );
      }, timeoutMs);
      const finish = () => {
        done = true;
        clearTimeout(timer);
        this.off("idle", onIdle);
      };
      this.on("idle", onIdle);
      void check();
    });
  }

  /** A full sync now (read back, transfer if different); resolves when it is done. */
  sync(): Promise<SyncInfo> {
    return new Promise((resolve, reject) => {
      this.fullRequested.push({ resolve, reject });
      this.markDirty();
    });
  }

  private liveLink(): McuLink {
    if (!this.link || this.linkState === "connecting") {
      throw Object.assign(new Error("MCU link is down: " + (this.linkError || "not connected yet")), {
        code: "timeout",
      });
    }
    return this.link;
  }

  async mcuState(): Promise<McuState> {
    return getState(this.liveLink());
  }

  async setDefault(target: string): Promise<void> {
    await setDefault(this.liveLink(), target);
    this.say("default set to " + target);
    this.fallbackDirty = true;
    this.markDirty();
  }

  async setNext(id: string, action = "boot"): Promise<void> {
    await setNext(this.liveLink(), id, action);
    this.say("next boot set to " + id + (action !== "boot" ? " (" + action + ")" : ""));
  }

  async clearNext(): Promise<void> {
    await clearNext(this.liveLink());
    this.say("next boot cleared");
  }

  async setOptions(change: OptionsChange) {
    const o = await setOptions(this.liveLink(), change);
    this.say("menu options: timeout " + o.timeoutSeconds + " s, show " + (o.showMenu ? "always" : "on-key"));
    return o;
  }

  async markGood(runningProfile: string | null = null) {
    const r = await markGood(this.liveLink(), runningProfile);
    this.say(r.message);
    if (r.marked) {
      this.fallbackDirty = true;
      this.markDirty();
    }
    return r;
  }

  async listMcu() {
    const link = this.liveLink();
    const [st, l] = [await getState(link), await readMcuList(link)];
    return { state: st, records: l.records, generation: l.generation };
  }

  private async command(cmd: string, args: Record<string, unknown>): Promise<unknown> {
    const str = (k: string): string => {
      const v = args[k];
      if (typeof v !== "string") throw new UsageError(k + " must be a string");
      return v;
    };
    switch (cmd) {
      case "status": {
        let mcu: unknown = null;
        let mcuError = "";
        if (this.linkState !== "ok") {
          // Answer at once from what is known instead of waiting out the retries again.
          mcuError = "MCU link is " + this.linkState + (this.linkError ? ": " + this.linkError : "");
        } else {
          try {
            mcu = describeState(await this.mcuState());
          } catch (e) {
            mcuError = (e as Error).message;
          }
        }
        return { daemon: this.status(), mcu, mcuError, staged: await listStaged(this.o.store) };
      }
      case "list": {
        const l = await this.listMcu();
        return {
          generation: l.generation,
          state: describeState(l.state),
          profiles: l.records.map(describeRecord),
        };
      }
      case "set-default":
        await this.setDefault(str("target"));
        return { default: args.target };
      case "next":
        await this.setNext(str("id"), typeof args.action === "string" ? args.action : "boot");
        return { next: args.id };
      case "clear-next":
        await this.clearNext();
        return { next: null };
      case "mark-good":
        return this.markGood(typeof args.running === "string" ? args.running : null);
      case "sync":
        return this.sync();
      case "options":
        return this.setOptions(args as OptionsChange);
      default:
        if (isStoreCommand(cmd))
          return runStoreCommand(cmd, args, {
            store: this.o.store,
            booted: this.o.booted,
            cmdline: this.o.cmdline,
          });
        throw new UsageError("unknown command " + JSON.stringify(cmd));
    }
  }

  /** Forwards events to a control-socket watcher; returns the unsubscribe function. */
  private watch(emit: (ev: { event: string; data: unknown }) => void): () => void {
    const on: Array<[string, (x: unknown) => void]> = [
      ["boot", (b) => emit({ event: "boot", data: b })],
      [
        "default-changed",
        (m) => {
          const v = m as SetDefault;
          emit({
            event: "default-changed",
            data: { default: v.mode === DefaultMode.LAST_USED ? "last-used" : v.id },
          });
        },
      ],
      ["synced", (s) => emit({ event: "synced", data: s })],
      ["link", (l) => emit({ event: "link", data: { link: l, error: this.linkError } })],
    ];
    for (const [name, fn] of on) this.on(name, fn);
    // The current status first, so a watcher starts from the truth (and knows it is subscribed).
    emit({ event: "status", data: this.status() });
    return () => {
      for (const [name, fn] of on) this.off(name, fn);
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    if (this.renameTick) clearImmediate(this.renameTick);
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.debounceTimer = null;
    this.renameTick = null;
    this.settleTimer = null;
    for (const w of this.watchers.values()) w.watcher.close();
    this.watchers.clear();
    const w = this.wakeUp;
    this.wakeUp = null;
    if (w) w();
    const link = this.link;
    this.link = null;
    if (link) await link.close().catch(() => {});
    await this.loopDone.catch(() => {});
    if (this.control) await this.control.close();
    for (const x of this.fullRequested.splice(0)) x.reject(new Error("the daemon stopped"));
    this.emit("link", "stopped");
  }
}

/** Starts a daemon (see README.md); resolves once the socket listens and the first sync began. */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const d = new Daemon(options);
  await d.start();
  return d;
}
