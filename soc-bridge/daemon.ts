// The daemon: owns the MCU link, keeps the MCU's list equal to the profile store (full sync on start,
// on the MCU's HELLO and on a generation mismatch; deltas on changes the store watch reports; a file
// caught mid-write held until it is whole), writes the U-Boot fragments and fallback, exposes events,
// and serves the control socket. Its lifecycle is the state machine in link-state.ts. Idle (in sync,
// nothing changing) it holds no timer: it sleeps until inotify, the MCU or a client wakes it.
import { EventEmitter } from "node:events";
import type { Frame } from "../protocol/frame";
import {
  type BootReport,
  decodeBootReport,
  decodeHelloResponse,
  decodeSetDefault,
  type HelloResponse,
  type McuState,
  MessageType,
  type SetDefault,
} from "../protocol/messages";
import type { ControlServer } from "./control";
import {
  type DaemonOptions,
  type DaemonStatus,
  type ResolvedOptions,
  resolveOptions,
} from "./daemon-options";
import { serveDaemonSocket } from "./daemon-socket";
import { BridgeError } from "./errors";
import { SavedFallback } from "./fallback";
import { type LinkContext, runLinkCommand } from "./link-commands";
import { LinkClosedError, LinkTimeoutError, McuLink, VersionError } from "./link";
import { type Failure, LinkStateMachine } from "./link-state";
import { defaultName, getState, type MarkGoodResult, type OptionsChange, readMcuList, sameList } from "./ops";
import { readStore, records } from "./profile-store";
import "./store/base-commands";
import { cleanLeftovers } from "./store/profiles";
import { StoreView } from "./store-view";
import { ListSync, recordsWithinLimit, type SyncInfo, syncLine, writeBootFragments } from "./sync";

export type { DaemonOptions, DaemonStatus } from "./daemon-options";
export type { LinkState, SyncState } from "./link-state";
export type { SyncInfo } from "./sync";

type Waiter = { resolve: (s: SyncInfo) => void; reject: (e: Error) => void };

export class Daemon extends EventEmitter {
  private link: McuLink | null = null;
  private readonly machine: LinkStateMachine;
  private hello: HelloResponse | null = null;
  private readonly list: ListSync;
  private readonly fallback: SavedFallback;
  private readonly storeView: StoreView;
  /** Work waiting beside the machine: a store read, the fallback, full syncs asked for. */
  private storeDirty = true;
  private fallbackDirty = true;
  private fullRequested: Waiter[] = [];
  private wakeUp: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private failures = 0;
  private loggedWarnings = new Set<string>();
  private error = "";
  private lastSync: SyncInfo | null = null;
  private lastBoot: BootReport | null = null;
  private control: ControlServer | null = null;
  private readonly context: LinkContext;
  readonly log: (line: string) => void;
  private readonly o: ResolvedOptions;

  constructor(options: DaemonOptions) {
    super();
    this.log = options.log ?? ((line) => process.stderr.write(line + "\n"));
    this.o = resolveOptions(options);
    const say = (line: string) => this.say(line);
    this.machine = new LinkStateMachine(say, (link) => this.emit("link", link), this.o.verbose);
    this.list = new ListSync(say);
    this.fallback = new SavedFallback(this.o, say);
    this.storeView = new StoreView(
      this.o,
      say,
      () => this.markDirty(),
      (files) => this.emit("pending", files),
    );
    this.context = {
      link: () => this.liveLink(),
      mcuUnavailable: () =>
        this.machine.link === "ok"
          ? ""
          : "MCU link is " +
            this.machine.link +
            (this.machine.linkError ? ": " + this.machine.linkError : ""),
      daemonStatus: () => this.status(),
      sync: () => this.sync(),
      store: this.o.store,
      changed: (line, affectsFallback) => {
        this.say(line);
        if (affectsFallback) {
          this.fallbackDirty = true;
          this.markDirty();
        }
      },
    };
  }

  private say(line: string): void {
    this.log("flipper-boot: " + line);
    this.emit("log", line);
  }

  async start(): Promise<void> {
    await this.fallback.load();
    if (this.o.socket) {
      this.control = await serveDaemonSocket(this.o.socket, this.o.socketGroup, {
        context: this.context,
        store: { store: this.o.store, booted: this.o.booted, cmdline: this.o.cmdline },
        status: () => this.status(),
        linkError: () => this.machine.linkError,
        events: this,
      });
    }
    this.storeView.watch();
    // Work a killed lifecycle command left in .flipper-tmp/ (STORE.md); not btrfs or busy: nothing to do.
    cleanLeftovers({ store: this.o.store }).then(
      (r) => {
        for (const l of r.cleaned) this.say(l);
      },
      () => {},
    );
    this.loopDone = this.loop();
  }

  private markDirty(): void {
    this.storeDirty = true;
    const w = this.wakeUp;
    this.wakeUp = null;
    if (w) w();
  }

  /** Sleeps until markDirty (or `ms`, when given). */
  private async sleep(ms: number | null): Promise<void> {
    let timer: NodeJS.Timeout | null = null;
    await new Promise<void>((r) => {
      this.wakeUp = r;
      if (ms !== null) timer = setTimeout(r, ms);
    });
    if (timer) clearTimeout(timer);
    this.wakeUp = null;
  }

  // ---- the loop: one step per state -------------------------------------------------------------

  private async loop(): Promise<void> {
    for (;;) {
      const state = this.machine.state;
      if (state === "stopped") return;
      if (state === "in-sync" || state === "held" || state === "backoff") {
        if (state !== "backoff" && this.storeDirty) {
          this.machine.to("syncing", "store changed");
          continue;
        }
        // Nothing to do: no timer runs, the next change, MCU event or request wakes the loop. In
        // backoff (the MCU silent, the store not mounted: mounting raises no inotify event on the
        // mount point) one timer runs, and only while failing.
        this.emit("idle");
        const delay = Math.min(200 * 2 ** Math.min(this.failures, 10), this.o.backoffMaxMs);
        await this.sleep(state === "backoff" ? delay : null);
        if (this.machine.state === "backoff") this.machine.resume();
        continue;
      }
      try {
        if (state === "disconnected") await this.connect();
        else if (state === "handshaking") await this.handshake();
        else await this.syncStore();
      } catch (e) {
        if (this.machine.state === "stopped") return;
        this.failed(e);
      }
    }
  }

  private failed(e: unknown): void {
    this.storeDirty = true;
    this.failures++;
    const message = (e as Error).message;
    let f: Failure;
    if (e instanceof LinkTimeoutError) f = { kind: "timeout", message };
    else if (e instanceof LinkClosedError) f = { kind: "closed", message };
    else if (e instanceof VersionError) f = { kind: "version", message };
    else {
      const repeated = message === this.error;
      this.error = message;
      if (this.machine.linkUp && !repeated) this.say("sync failed: " + message);
      f = { kind: "other", message };
    }
    this.machine.failed(f, this.link !== null);
    for (const w of this.fullRequested.splice(0)) w.reject(e as Error);
  }

  /** disconnected -> handshaking: opens the transport. */
  private async connect(): Promise<void> {
    const transport = await this.o.openTransport();
    if (this.machine.state !== "disconnected") {
      // Stopped while the port was opening.
      await transport.close().catch(() => {});
      return;
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
      this.machine.portLost("lost the serial port " + this.o.port + ": " + why);
      void link.close().catch(() => {});
      this.markDirty();
    });
    link.on("event", (f: Frame) => this.onEvent(f));
    this.link = link;
    this.machine.to("handshaking", "port open");
  }

  /** handshaking -> syncing: HELLO (and, the first time, what the MCU holds for the start line). */
  private async handshake(): Promise<void> {
    const link = this.link;
    if (!link) return this.machine.disconnected();
    const h = await link.hello();
    const first = this.hello === null;
    // The start line says what the MCU holds now and how many it can hold (HELLO carries only the
    // capacity); asked before anything is remembered, so a failure here is retried whole.
    const held = first ? (await getState(link)).profileCount : 0;
    if (first || h.instance !== this.hello!.instance || h.generation !== this.list.generation)
      this.list.needFull = true;
    this.hello = h;
    this.error = "";
    this.storeDirty = true;
    if (this.machine.state !== "handshaking") return;
    this.machine.handshaken();
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

  /** Leaves `syncing` for `next`, unless an event (MCU restart, port lost) moved the machine meanwhile. */
  private syncDone(next: "in-sync" | "held", why: string): void {
    if (this.machine.state !== "syncing") return;
    if (!this.link) this.machine.disconnected();
    else if (this.storeDirty) return;
    else {
      this.failures = 0;
      this.machine.to(next, why);
    }
  }

  /** syncing -> in-sync | held: reads the store, writes fragments, syncs the list and the fallback. */
  private async syncStore(): Promise<void> {
    const link = this.link;
    if (!link) return this.machine.disconnected();
    this.storeDirty = false;
    const { profiles, firstWaits } = await this.storeView.read(this.list.mcuList === null);
    if (firstWaits) return this.syncDone("held", "waiting for a file caught mid-write");
    if (this.o.bootDir) {
      const say = (line: string) => this.say(line);
      this.loggedWarnings = await writeBootFragments(this.o.bootDir, profiles, say, this.loggedWarnings);
    }
    let want: ReturnType<typeof records>;
    try {
      want = recordsWithinLimit(profiles, this.hello?.maxProfiles, this.list.generation);
    } catch (e) {
      const msg = (e as Error).message;
      if (this.error !== msg) this.say(msg);
      this.error = msg;
      for (const w of this.fullRequested.splice(0)) w.reject(e as Error);
      return this.syncDone("held", "too many profiles");
    }
    this.error = "";
    await this.syncList(link, want);
    if (this.fallbackDirty) await this.updateFallback(link);
    this.syncDone("in-sync", "the MCU holds the store's list");
  }

  private async syncList(link: McuLink, want: ReturnType<typeof records>): Promise<void> {
    const waiters = this.fullRequested.splice(0);
    let info: SyncInfo | null;
    try {
      info = await this.list.sync(link, want, waiters.length > 0);
    } catch (e) {
      for (const w of waiters) w.reject(e as Error);
      throw e;
    }
    if (info) {
      if (info.kind !== "delta") this.fallbackDirty = true;
      this.lastSync = info;
      this.say(syncLine(info));
      this.emit("synced", info);
    }
    const answer = info ??
      this.lastSync ?? { kind: "verified", generation: this.list.generation, count: 0, ms: 0, bytes: 0 };
    for (const w of waiters) w.resolve(answer);
  }

  /** The saved fallback for U-Boot (fallback.ts), from the MCU's state now. */
  private async updateFallback(link: McuLink): Promise<void> {
    this.fallbackDirty = false;
    const st = await getState(link);
    if (st.lastBoot.sequence !== 0) this.lastBoot = st.lastBoot;
    if (!(await this.fallback.update(st, this.list.mcuList ?? []))) this.fallbackDirty = true;
  }

  private onEvent(f: Frame): void {
    if (f.type === MessageType.EVENT_HELLO) {
      const d = decodeHelloResponse(f.payload);
      this.say(
        "MCU restarted" +
          (d.value ? " (instance " + d.value.instance + ", generation " + d.value.generation + ")" : "") +
          "; full sync",
      );
      this.list.needFull = true;
      this.fallbackDirty = true;
      // Remember the new instance so the HELLO exchange that follows does not count it as another restart.
      if (d.value && this.hello) this.hello = { ...this.hello, instance: d.value.instance };
      this.machine.rehandshake("MCU restarted");
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
      this.say("owner changed the default in the menu to " + defaultName(v.mode, v.id));
      this.emit("default-changed", v);
      this.fallbackDirty = true;
      this.markDirty();
    }
  }

  // ---- the API --------------------------------------------------------------------------------

  status(): DaemonStatus {
    const h = this.hello;
    return {
      link: this.machine.link,
      linkError: this.machine.linkError,
      state: this.machine.state,
      port: this.o.port,
      mcu: h
        ? { version: h.version, instance: h.instance, maxProfiles: h.maxProfiles, maxPayload: h.maxPayload }
        : null,
      generation: this.list.generation,
      inSync:
        this.machine.state === "in-sync" && !this.storeDirty && !this.storeView.busy() && this.error === "",
      profiles: this.storeView.profiles.length,
      skipped: [...this.storeView.skipped],
      pending: [...this.storeView.pending],
      error: this.error,
      lastSync: this.lastSync,
      lastBoot: this.lastBoot,
      fallback: this.fallback.current,
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
              if (disk.error === "" && sameList(records(disk.profiles), this.list.mcuList ?? [])) {
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
        const why = this.error || this.machine.linkError || "busy";
        reject(new Error("not in sync after " + timeoutMs + " ms: " + why));
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
    if (!this.link || this.machine.link === "connecting") {
      const why = this.machine.linkError || "not connected yet";
      throw new BridgeError("timeout", "MCU link is down: " + why);
    }
    return this.link;
  }

  async mcuState(): Promise<McuState> {
    return getState(this.liveLink());
  }

  async setDefault(target: string): Promise<void> {
    await runLinkCommand("set-default", { target }, this.context);
  }

  async setNext(id: string, action = "boot"): Promise<void> {
    await runLinkCommand("next", { id, action }, this.context);
  }

  async clearNext(): Promise<void> {
    await runLinkCommand("clear-next", {}, this.context);
  }

  async setOptions(change: OptionsChange): Promise<unknown> {
    return runLinkCommand("options", change as Record<string, unknown>, this.context);
  }

  async markGood(runningProfile: string | null = null): Promise<MarkGoodResult> {
    return (await runLinkCommand("mark-good", { running: runningProfile }, this.context)) as MarkGoodResult;
  }

  async listMcu() {
    const link = this.liveLink();
    const [st, l] = [await getState(link), await readMcuList(link)];
    return { state: st, records: l.records, generation: l.generation };
  }

  async stop(): Promise<void> {
    if (this.machine.state === "stopped") return;
    this.machine.stop();
    this.storeView.close();
    const w = this.wakeUp;
    this.wakeUp = null;
    if (w) w();
    const link = this.link;
    this.link = null;
    if (link) await link.close().catch(() => {});
    await this.loopDone.catch(() => {});
    if (this.control) await this.control.close();
    for (const x of this.fullRequested.splice(0)) x.reject(new Error("the daemon stopped"));
  }
}

/** Starts a daemon (see README.md); resolves once the socket listens and the first sync began. */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const d = new Daemon(options);
  await d.start();
  return d;
}
