// The bridge side of the UART link: one request in flight at a time, seq ids, a timeout per try,
// retries with the SAME seq (the MCU answers a repeated request from its cache), exponential
// backoff up to a cap, HELLO negotiation, and events emitted to listeners.
import { EventEmitter } from "node:events";
import { type Bytes, hexBytes, utf8Decode } from "../protocol/bytes";
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameKind,
  MAX_WIRE_FRAME,
  PAYLOAD_LIMIT,
} from "../protocol/frame";
import {
  CAPABILITIES_V1,
  decodeHelloResponse,
  type HelloResponse,
  MessageType,
  messageName,
  PROTOCOL_VERSION,
  PROTOCOL_VERSION_MIN,
  Result,
  resultName,
  encodeHelloRequest,
} from "../protocol/messages";
import { BridgeError } from "./errors";

/** A byte pipe to the MCU (a serial port in production, anything in tests). */
export interface Transport {
  write(data: Uint8Array): Promise<void>;
  /** Registers the receiver of incoming bytes (called once). */
  onData(cb: (chunk: Uint8Array) => void): void;
  /** Registers a callback for an unexpected close or a fatal error of the pipe. */
  onClose(cb: (why: string) => void): void;
  close(): Promise<void>;
}

export interface LinkOptions {
  /** First reply timeout in ms; doubles on each retry up to backoffMaxMs. */
  timeoutMs?: number;
  /** Sends per request (the first one included) before giving up. */
  tries?: number;
  backoffMaxMs?: number;
  verbose?: boolean;
  log?: (line: string) => void;
}

/** No reply after every try: the MCU is not responding (or the link is cut). */
export class LinkTimeoutError extends BridgeError {
  constructor(message: string) {
    super("timeout", message);
  }
}

/** The MCU answered with a Result other than OK. */
export class McuError extends BridgeError {
  constructor(
    message: string,
    readonly type: number,
    readonly result: number,
    readonly detail: string,
  ) {
    super("mcu", message);
  }
}

/** The MCU speaks no protocol version this bridge knows. */
export class VersionError extends BridgeError {
  constructor(message: string) {
    super("version", message);
  }
}

/** The link was closed while a request waited. */
export class LinkClosedError extends BridgeError {
  constructor(message: string) {
    super("closed", message);
  }
}

export interface LinkStats {
  bytesOut: number;
  bytesIn: number;
  framesOut: number;
  framesIn: number;
  badFrames: number;
  retries: number;
  timeouts: number;
}

interface Pending {
  type: number;
  seq: number;
  resolve: (f: Frame) => void;
  reject: (e: Error) => void;
}

/** Bytes as hex pairs with a space between (the --verbose frame log). */
function spacedHex(b: Bytes): string {
  return hexBytes(b).replace(/(..)(?!$)/g, "$1 ");
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Events: "event" (frame: Frame) for every EVENT frame from the MCU; "frame-error" (error: string)
 * for every frame the decoder dropped.
 */
export class McuLink extends EventEmitter {
  readonly stats: LinkStats = {
    bytesOut: 0,
    bytesIn: 0,
    framesOut: 0,
    framesIn: 0,
    badFrames: 0,
    retries: 0,
    timeouts: 0,
  };
  /** Set by hello(). */
  peer: HelloResponse | null = null;
  /** Largest payload the MCU accepts (MIN_MAX_PAYLOAD until HELLO says more). */
  maxPayload = 256;
  private decoder = new FrameDecoder(MAX_WIRE_FRAME);
  private seq: number;
  private pending: Pending | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly timeoutMs: number;
  private readonly tries: number;
  private readonly backoffMaxMs: number;
  private readonly verbose: boolean;
  private readonly log: (line: string) => void;

  constructor(
    readonly transport: Transport,
    options: LinkOptions = {},
  ) {
    super();
    this.timeoutMs = options.timeoutMs ?? 250;
    this.tries = options.tries ?? 4;
    this.backoffMaxMs = options.backoffMaxMs ?? 5000;
    this.verbose = options.verbose ?? false;
    this.log = options.log ?? ((line) => process.stderr.write(line + "\n"));
    // A random first seq: a fresh process must not collide with the MCU's cached last response.
    this.seq = 1 + Math.floor(Math.random() * 255);
    transport.onData((chunk) => this.receive(chunk));
  }

  private receive(chunk: Uint8Array): void {
    this.stats.bytesIn += chunk.length;
    this.decoder.push(
      chunk,
      (f) => {
        this.stats.framesIn++;
        if (this.verbose) this.logFrame("<-", f);
        if (f.kind === FrameKind.EVENT) {
          this.emit("event", f);
          return;
        }
        const p = this.pending;
        if (f.kind === FrameKind.RESPONSE && p && f.seq === p.seq && f.type === p.type) {
          this.pending = null;
          p.resolve(f);
        } else if (this.verbose) {
          this.log(
            "flipper-boot: dropped an unexpected frame (" + messageName(f.type) + " seq " + f.seq + ")",
          );
        }
      },
      (error) => {
        this.stats.badFrames++;
        if (this.verbose) this.log("flipper-boot: dropped a bad frame: " + error);
        this.emit("frame-error", error);
      },
    );
  }

  private logFrame(dir: string, f: Frame): void {
    const kind = ["REQ", "RSP", "EVT"][f.kind] ?? "?";
    const res = f.kind === FrameKind.RESPONSE ? " " + resultName(f.result) : "";
    this.log(
      "flipper-boot: " +
        dir +
        " " +
        kind +
        " " +
        messageName(f.type) +
        " seq " +
        f.seq +
        res +
        " [" +
        f.payload.length +
        " B] " +
        spacedHex(f.payload),
    );
  }

  private async send(f: Frame): Promise<void> {
    const wire = encodeFrame(f);
    this.stats.bytesOut += wire.length;
    this.stats.framesOut++;
    if (this.verbose) this.logFrame("->", f);
    await this.transport.write(Uint8Array.from(wire));
  }

  private nextSeq(): number {
    this.seq = this.seq >= 255 ? 1 : this.seq + 1;
    return this.seq;
  }

  /** Runs fn after every request queued before it (one request in flight at a time). */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Sends one request and returns the MCU's response frame (any Result). A lost request or reply
   * is retried with the same seq; BUSY is retried with a new seq after a backoff.
   */
  request(type: number, payload: Bytes): Promise<Frame> {
    return this.serialize(() => this.requestNow(type, payload));
  }

  private async requestNow(type: number, payload: Bytes): Promise<Frame> {
    if (payload.length > Math.min(this.maxPayload, PAYLOAD_LIMIT)) {
      throw new McuError(
        messageName(type) +
          " payload of " +
          payload.length +
          " bytes exceeds the negotiated maximum of " +
          this.maxPayload +
          " bytes",
        type,
        Result.TOO_LARGE,
        "",
      );
    }
    let seq = this.nextSeq();
    let wait = this.timeoutMs;
    for (let attempt = 1; attempt <= this.tries; attempt++) {
      if (this.closed) throw new LinkClosedError("the link is closed");
      if (attempt > 1) this.stats.retries++;
      const reply = await this.sendAndWait({ type, seq, kind: FrameKind.REQUEST, result: 0, payload }, wait);
      wait = Math.min(wait * 2, this.backoffMaxMs);
      if (reply === null) {
        this.stats.timeouts++;
        continue;
      }
      if (reply.result === Result.BUSY && attempt < this.tries) {
        await sleep(wait);
        seq = this.nextSeq();
        continue;
      }
      return reply;
    }
    throw new LinkTimeoutError(
      "MCU not responding: no reply to " +
        messageName(type) +
        " (seq " +
        seq +
        ") after " +
        this.tries +
        " tries",
    );
  }

  private sendAndWait(f: Frame, timeoutMs: number): Promise<Frame | null> {
    return new Promise<Frame | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending === p) this.pending = null;
        resolve(null);
      }, timeoutMs);
      const p: Pending = {
        type: f.type,
        seq: f.seq,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.pending = p;
      this.send(f).catch((e) => {
        clearTimeout(timer);
        if (this.pending === p) this.pending = null;
        reject(this.closed ? new LinkClosedError("the link is closed") : e);
      });
    });
  }

  /** A request that must succeed: returns the OK payload, throws McuError naming the MCU's reason. */
  async call(type: number, payload: Bytes): Promise<Bytes> {
    const r = await this.request(type, payload);
    if (r.result !== Result.OK) {
      const text = utf8Decode(r.payload, 0, r.payload.length) ?? "";
      const detail = text !== "" ? ": " + text : "";
      throw new McuError(
        "MCU refused " + messageName(type) + " with " + resultName(r.result) + detail,
        type,
        r.result,
        text,
      );
    }
    return r.payload;
  }

  /** HELLO: negotiates the version and the largest payload; clear errors for an MCU we cannot talk to. */
  async hello(): Promise<HelloResponse> {
    const r = await this.request(
      MessageType.HELLO,
      encodeHelloRequest({
        minVersion: PROTOCOL_VERSION_MIN,
        maxVersion: PROTOCOL_VERSION,
        maxPayload: PAYLOAD_LIMIT,
        capabilities: CAPABILITIES_V1,
      }),
    );
    const ours = "this bridge speaks protocol version " + PROTOCOL_VERSION_MIN + ".." + PROTOCOL_VERSION;
    if (r.result === Result.UNSUPPORTED) {
      const d = decodeHelloResponse(r.payload);
      const text = d.value
        ? "the MCU speaks " + d.value.minVersion + ".." + d.value.maxVersion
        : (utf8Decode(r.payload, 0, r.payload.length) ?? "");
      throw new VersionError(
        "MCU answered HELLO with UNSUPPORTED: " +
          ours +
          (text ? "; " + text : "") +
          " (update the MCU firmware)",
      );
    }
    if (r.result !== Result.OK) {
      const text = utf8Decode(r.payload, 0, r.payload.length) ?? "";
      throw new McuError(
        "MCU refused HELLO with " + resultName(r.result) + (text ? ": " + text : ""),
        MessageType.HELLO,
        r.result,
        text,
      );
    }
    const d = decodeHelloResponse(r.payload);
    if (!d.value)
      throw new VersionError("MCU sent a HELLO reply this bridge cannot read (" + d.error + "); " + ours);
    const h = d.value;
    if (h.version < PROTOCOL_VERSION_MIN || h.version > PROTOCOL_VERSION) {
      throw new VersionError(
        "MCU chose protocol version " +
          h.version +
          " (it supports " +
          h.minVersion +
          ".." +
          h.maxVersion +
          "); " +
          ours,
      );
    }
    this.peer = h;
    this.maxPayload = Math.min(h.maxPayload, PAYLOAD_LIMIT);
    return h;
  }

  /** Answers an MCU event with an empty OK (optional per the link semantics). */
  async ackEvent(f: Frame): Promise<void> {
    await this.send({ type: f.type, seq: f.seq, kind: FrameKind.RESPONSE, result: Result.OK, payload: [] });
  }

  async close(): Promise<void> {
    this.closed = true;
    const p = this.pending;
    this.pending = null;
    if (p) p.reject(new LinkClosedError("the link is closed"));
    await this.transport.close();
  }
}
