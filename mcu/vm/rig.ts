// Runs a DeviceScript program (mcu/devs/main.ts and its test entries) in the real DeviceScript VM
// (`devs run --tcp`) against simulated hardware hosted by jacdac-ts: KEY_COUNT ButtonServers (the keys)
// and a serial server (the UART peer), joined to the VM through a small TCP hub on 127.0.0.1:HUB_PORT.
// The port is fixed by the CLI, so only one VmRig may run at a time on a machine: take the lock
// (acquireVmLock) before starting one.
import { type ChildProcess, spawn } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeFrame, type Frame, FrameDecoder, FrameKind, MAX_WIRE_FRAME } from "../../protocol/frame";
import { CLI, compiled, liveVms, REPO } from "./bytecode";
import {
  type ButtonInternals,
  ButtonServer,
  createNodeSocketTransport,
  JDBus,
  JDServerServiceProvider,
  type JDService,
  jd,
  KEY_COUNT,
  Packet,
  RIG_DEVICE_ID,
  SRV_SETTINGS,
  SerialPeer,
  SETTINGS_GET,
} from "./devices";
import { FrameMirror, KEEP_FRAMES, type VmLine } from "./frame-mirror";
import { type Hub, HUB_PORT, startHub, stopHub } from "./hub";

/**
 * Debugging aid: with VM_LOG=FILE in the environment, every line the VM prints and every key edge the
 * rig sends is appended to FILE with a Date.now() timestamp (one timeline for both sides).
 */
function trace(text: string): void {
  const file = process.env.VM_LOG;
  if (file) appendFileSync(file, `${Date.now()} ${text}\n`);
}

/** The VM running main.ts with simulated keys and a serial peer. */
export class VmRig {
  bus!: JDBus;
  buttons: ButtonServer[] = [];
  serial = new SerialPeer();
  lines: VmLine[] = [];
  workdir = "";
  private hub: Hub | null = null;
  private child: ChildProcess | null = null;
  private waiters: Array<() => void> = [];
  exited: number | null = null;

  /** True when the work folder was given to start() (it, and the VM's flash in it, outlive stop()). */
  private keepWorkdir = false;

  /**
   * Starts hub, simulated devices and the VM on `file`; resolves once the program printed READY.
   * `workdir`: a folder to run in and keep (the VM's settings flash is `.devicescript/flash/sim.bin`
   * there), so a later rig on the same folder starts with the same flash; default a fresh temp folder
   * removed at stop().
   */
  async start(file: string, timeoutMs = 120_000, workdir?: string): Promise<void> {
    this.hub = await startHub();
    for (let i = 0; i < KEY_COUNT; i++) this.buttons.push(new ButtonServer(`k${i < 10 ? "0" : ""}${i}`));
    this.bus = new JDBus([createNodeSocketTransport(HUB_PORT)], { client: false, disableRoleManager: true });
    this.bus.addServiceProvider(
      new JDServerServiceProvider("flipper-one-keys", [...this.buttons, this.serial], {
        deviceId: RIG_DEVICE_ID,
      }),
    );
    this.bus.start();
    await this.bus.connect();
    this.keepWorkdir = workdir !== undefined;
    if (workdir !== undefined) mkdirSync(workdir, { recursive: true });
    this.workdir = workdir ?? mkdtempSync(join(tmpdir(), "devs-vm-"));
    writeFileSync(join(this.workdir, "devsconfig.json"), "{}\n");
    if (!existsSync(join(this.workdir, "node_modules")))
      symlinkSync(join(REPO, "node_modules"), join(this.workdir, "node_modules"));
    mkdirSync(join(this.workdir, ".devicescript"), { recursive: true });
    this.file = await compiled(file);
    await this.launch(timeoutMs);
  }

  /** The program's bytecode (compiled once per process, see compiled()). */
  private file = "";
  private mirror = new FrameMirror();
  /** Characters of `PIX` lines read so far (the cost of mirroring the frames). */
  mirrorChars = 0;
  /** The latest FRAME lines (the ones still holding pixels). */
  private framesSeen: VmLine[] = [];

  private async launch(timeoutMs: number): Promise<void> {
    const from = this.lines.length;
    this.exited = null;
    this.mirror = new FrameMirror();
    const child = spawn(process.execPath, [CLI, "run", this.file, "--tcp"], {
      cwd: this.workdir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    liveVms.add(child);
    child.on("exit", () => liveVms.delete(child));
    let partial = "";
    const onData = (d: Buffer) => {
      const text = d.toString().replace(/\u001b\[[0-9;]*m/g, "");
      partial += text;
      const parts = partial.split("\n");
      partial = parts.pop() ?? "";
      for (const l of parts) {
        const text = l.startsWith("WASM> ") ? l.slice(6) : l;
        // Pixel lines are folded into their frame, not kept (tens of KB a frame).
        if (text.startsWith("PIX ") && this.mirror.take(text)) {
          this.mirrorChars += l.length + 1;
          continue;
        }
        const line: VmLine = { at: Date.now(), text };
        const f = /^FRAME (\d+) /.exec(text);
        if (f) {
          line.pixels = this.mirror.finish(Number(f[1]));
          this.framesSeen.push(line);
          if (this.framesSeen.length > KEEP_FRAMES) delete this.framesSeen.shift()!.pixels;
        }
        this.lines.push(line);
        trace(l);
      }
      for (const w of this.waiters) w();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => {
      if (this.child !== child) return;
      this.exited = code ?? 1;
      for (const w of this.waiters) w();
    });
    await this.waitLine(/^READY/, timeoutMs, from);
  }

  /**
   * Kills the VM (SIGKILL: a reset or power cut of the MCU) and starts it again in the same folder,
   * so the settings flash (.devicescript/flash/sim.bin) is kept; resolves at READY.
   */
  async restartVm(timeoutMs = 120_000): Promise<void> {
    await this.killVm("SIGKILL");
    await this.launch(timeoutMs);
  }

  private async killVm(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill(signal);
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await gone;
      clearTimeout(t);
    }
  }

  /** All lines printed so far (VM prefix removed). */
  log(): string {
    return this.lines.map((l) => l.text).join("\n");
  }

  /** Waits for a line matching `re` printed after index `from`; returns it. */
  waitLine(re: RegExp, timeoutMs = 60_000, from = 0): Promise<string> {
    return this.waitFor(
      () => {
        for (let i = from; i < this.lines.length; i++)
          if (re.test(this.lines[i].text)) return this.lines[i].text;
        return null;
      },
      timeoutMs,
      `a line matching ${re}`,
    );
  }

  /** Waits until `check` returns non-null (re-checked on every VM line and serial byte). */
  waitFor<T>(check: () => T | null, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (err: Error | null, v?: T) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== poll);
        off();
        if (err) reject(err);
        else resolve(v as T);
      };
      const poll = () => {
        const v = check();
        if (v !== null) finish(null, v);
        else if (this.exited !== null)
          finish(new Error(`VM exited (${this.exited}) while waiting for ${what}\n${this.log()}`));
      };
      const timer = setTimeout(
        () => finish(new Error(`timed out waiting for ${what}\n--- VM output ---\n${this.log()}`)),
        timeoutMs,
      );
      this.waiters.push(poll);
      const off = this.serial.onData(poll);
      poll();
    });
  }

  /** Every good protocol frame the program sent on the UART so far, in order. */
  frames(): Frame[] {
    const out: Frame[] = [];
    new FrameDecoder(MAX_WIRE_FRAME).push(
      this.serial.received,
      (f) => out.push(f),
      () => {},
    );
    return out;
  }

  /** Waits for a frame the program sent that satisfies `match`. */
  waitFrame(match: (f: Frame) => boolean, timeoutMs: number, what: string): Promise<Frame> {
    return this.waitFor(() => this.frames().find(match) ?? null, timeoutMs, what);
  }

  private seq = 0;

  /** Sends a request frame over the simulated UART and waits for its response (same type and seq). */
  async request(type: number, payload: number[], timeoutMs = 60_000): Promise<Frame> {
    const seq = (this.seq = (this.seq + 1) & 0xff);
    await this.serial.write(encodeFrame({ type, seq, kind: FrameKind.REQUEST, result: 0, payload }));
    return this.waitFrame(
      (f) => f.kind === FrameKind.RESPONSE && f.seq === seq && f.type === type,
      timeoutMs,
      `the response to type ${type} seq ${seq}`,
    );
  }

  /** The settings service of the VM's own device (the program's flash), or null before it announced. */
  private settingsService(): JDService | null {
    for (const d of this.bus.devices({ serviceClass: SRV_SETTINGS })) {
      if (d.deviceId === RIG_DEVICE_ID) continue;
      const s = d.services({ serviceClass: SRV_SETTINGS })[0];
      if (s) return s;
    }
    return null;
  }

  private settingsQueue: Promise<unknown> = Promise.resolve();

  /**
   * Reads one record of the program's flash (the VM's settings service, `get` over Jacdac, the same
   * command the program's loadFlash() sends): the stored bytes, or null when the key is not set.
   * Reads are serialised (the answer is matched by its command code and key).
   */
  readSetting(key: string, timeoutMs = 2000): Promise<number[] | null> {
    const run = async (): Promise<number[] | null> => {
      const srv = this.settingsService();
      if (!srv) throw new Error("the VM's settings service is not on the bus");
      const req = Uint8Array.from(Buffer.from(key, "utf8"));
      for (let attempt = 0; attempt < 3; attempt++) {
        let resp: Packet;
        try {
          resp = await srv.sendCmdAwaitResponseAsync(Packet.from(SETTINGS_GET, req), timeoutMs);
        } catch {
          continue;
        }
        const data = [...resp.data];
        const z = data.indexOf(0);
        if (Buffer.from(data.slice(0, z < 0 ? data.length : z)).toString("utf8") !== key) continue;
        const value = z < 0 ? [] : data.slice(z + 1);
        return value.length === 0 ? null : value;
      }
      throw new Error(`the VM's settings service did not answer get ${JSON.stringify(key)}`);
    };
    const p = this.settingsQueue.then(run, run);
    this.settingsQueue = p.catch(() => {});
    return p;
  }

  /**
   * Sends a key's Down event now. ButtonServer.down() only changes the reading, and the Down event
   * goes out on the next 50 ms refresh (so a down() then up() in a row sends nothing): this sends the
   * event at once, with the same state changes as ButtonServer's refresh handler.
   */
  async sendDown(key: number): Promise<void> {
    trace(`rig: key ${key} down`);
    const b = this.buttons[key] as unknown as ButtonInternals;
    await this.buttons[key].down();
    if (b._downTime !== undefined) return;
    b._downTime = this.bus.timestamp;
    b._nextHold = b._downTime + 500;
    await this.buttons[key].sendEvent(1);
  }

  /** Sends a key's Up event now (carrying the held time as ButtonServer does). */
  async sendUp(key: number): Promise<void> {
    trace(`rig: key ${key} up`);
    const b = this.buttons[key] as unknown as ButtonInternals;
    await this.buttons[key].up();
    if (b._downTime === undefined) return;
    const time = this.bus.timestamp - b._downTime;
    b._downTime = undefined;
    b._nextHold = undefined;
    await this.buttons[key].sendEvent(2, jd.jdpack("u32", [time]));
  }

  /**
   * Sends the key's current state again as an event (Down while pressed, else Up), for a program that
   * missed one: the program ignores a state it already has, so this never adds an edge.
   */
  async resendKey(key: number): Promise<void> {
    const b = this.buttons[key] as unknown as ButtonInternals;
    const down = b._downTime !== undefined;
    trace(`rig: key ${key} ${down ? "down" : "up"} again`);
    if (down) await this.buttons[key].sendEvent(1);
    else await this.buttons[key].sendEvent(2, jd.jdpack("u32", [0]));
  }

  /** True when a line matching `re` is printed after line `from` within `ms`. */
  seenWithin(re: RegExp, from: number, ms: number): Promise<boolean> {
    return this.waitLine(re, ms, from).then(
      () => true,
      () => false,
    );
  }

  /**
   * Waits until the program printed key `key`'s edge (its `KEY k down|up` line) after line `from`.
   * When it has not within a few seconds, the key's state is sent again. Under heavy load the VM
   * lost key events (a power-key release, an OK press: the program then held the key); jacdac-c,
   * which receives them, ignores the events that follow a missed one until its retransmission
   * arrives, and forgets a device it has not heard from.
   */
  async confirmKey(key: number, down: boolean, from: number, timeoutMs = 30_000): Promise<void> {
    const re = new RegExp(`^KEY ${key} ${down ? "down" : "up"} `);
    const t0 = Date.now();
    for (;;) {
      if (await this.seenWithin(re, from, 3000)) return;
      if (Date.now() - t0 > timeoutMs)
        throw new Error(
          `the VM did not see key ${key} ${down ? "pressed" : "released"} within ${timeoutMs} ms`,
        );
      await this.resendKey(key);
    }
  }

  /** The key's state as the program last printed it (up when not printed since it started). */
  heldInVm(key: number): boolean {
    const re = new RegExp(`^KEY ${key} (down|up) `);
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const t = this.lines[i].text;
      if (t.startsWith("READY ")) return false;
      const m = re.exec(t);
      if (m) return m[1] === "down";
    }
    return false;
  }

  /** Presses a key and waits until the program printed the Down (the event sent again if missed). */
  async keyDown(key: number): Promise<void> {
    const at = this.lines.length;
    const was = this.heldInVm(key);
    await this.sendDown(key);
    if (!was) await this.confirmKey(key, true, at);
  }

  /** Releases a key and waits until the program printed the Up (the event sent again if missed). */
  async keyUp(key: number): Promise<void> {
    const at = this.lines.length;
    const was = this.heldInVm(key);
    await this.sendUp(key);
    if (was) await this.confirmKey(key, false, at);
  }

  /**
   * A press of `ms` (0: Down and Up at once) timed here, so that the lag between the program's Down
   * and the Up arriving does not lengthen it; done once the program printed the Up. A press the
   * program missed whole is made again; a missed Up is sent again.
   */
  async press(key: number, ms = 0): Promise<void> {
    const at = this.lines.length;
    const send = async () => {
      await this.sendDown(key);
      if (ms > 0) await new Promise((r) => setTimeout(r, ms));
      await this.sendUp(key);
    };
    await send();
    const up = new RegExp(`^KEY ${key} up `);
    const down = new RegExp(`^KEY ${key} down `);
    const t0 = Date.now();
    while (!(await this.seenWithin(up, at, 3000))) {
      if (Date.now() - t0 > 30_000) throw new Error(`the VM did not see key ${key} pressed within 30 s`);
      if (this.lines.slice(at).some((l) => down.test(l.text))) await this.resendKey(key);
      else await send();
    }
  }

  /**
   * A long press: held `ms` from the moment the program printed its Down (a loaded machine cannot
   * make it short), then released; done once the program printed the Up.
   */
  async longPress(key: number, ms: number): Promise<void> {
    await this.keyDown(key);
    await new Promise((r) => setTimeout(r, ms));
    await this.keyUp(key);
  }

  /** Stops the VM (SIGKILL if it does not exit), the bus and the hub; removes the work folder. */
  async stop(): Promise<void> {
    await this.killVm("SIGTERM");
    try {
      await this.bus?.disconnect();
      this.bus?.stop();
    } catch {}
    if (this.hub) {
      await stopHub(this.hub);
      this.hub = null;
    }
    if (this.workdir && !this.keepWorkdir) rmSync(this.workdir, { recursive: true, force: true });
  }
}
