// The Node adapter with real parts: NodeMcu on one end of a socat pty pair, a `serialport` client on
// the other; FileFlash persistence and simulated power cuts in the file; the CLI on a pty.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import { SerialPort } from "serialport";
import { type Frame, FrameDecoder, FrameKind, MAX_WIRE_FRAME, encodeFrame } from "../protocol/frame";
import {
  decodeHelloResponse,
  decodeState,
  encodeListBegin,
  encodeListCommit,
  encodeListItem,
  listCrc,
  MessageType,
  Result,
} from "../protocol/messages";
import { BlockStatus, decodeBlock } from "../protocol/register-block";
import { FileFlash } from "../mcu/node/flash";
import { NodeMcu } from "../mcu/node/mcu";
import { profile } from "./helpers/mcu";
import { openPtyPair } from "./helpers/pty";

const LIST = [profile("alpha"), profile("bravo")];

function tmpDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "fb-mcu-node-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The bridge side on a real serial port: send requests, await frames. */
class PortClient {
  frames: Frame[] = [];
  private waiters: Array<() => void> = [];
  private dec = new FrameDecoder(MAX_WIRE_FRAME);
  private seq = 0;

  constructor(readonly port: SerialPort) {
    port.on("data", (chunk: Buffer) => {
      this.dec.push(
        [...chunk],
        (f) => {
          this.frames.push(f);
          for (const w of this.waiters.splice(0)) w();
        },
        () => {},
      );
    });
  }

  async waitFor(pred: (f: Frame) => boolean, what: string): Promise<Frame> {
    const deadline = Date.now() + 20000;
    for (;;) {
      const f = this.frames.find(pred);
      if (f) return f;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  async request(type: number, payload: number[]): Promise<Frame> {
    const seq = (this.seq = (this.seq + 1) & 0xff);
    this.port.write(Buffer.from(encodeFrame({ type, seq, kind: FrameKind.REQUEST, result: 0, payload })));
    return this.waitFor(
      (f) => f.kind === FrameKind.RESPONSE && f.seq === seq && f.type === type,
      `reply ${type}/${seq}`,
    );
  }
}

async function openPort(p: string): Promise<SerialPort> {
  const port = new SerialPort({ path: p, baudRate: 1500000, autoOpen: false });
  await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
  return port;
}

async function closePort(port: SerialPort): Promise<void> {
  if (port.isOpen) await new Promise<void>((res) => port.close(() => res()));
}

test("NodeMcu on a real pty: HELLO event, list sync, state, restart, flash file survives", async (t) => {
  const dir = tmpDir(t);
  const pty = await openPtyPair();
  t.teardown(() => pty.close());
  const flashFile = path.join(dir, "flash.json");
  // The client listens first, so it sees EVENT_HELLO.
  const port = await openPort(pty.b);
  t.teardown(() => closePort(port));
  const client = new PortClient(port);
  const mcu = new NodeMcu({ serialPath: pty.a, flashFile });
  t.teardown(() => mcu.stop());
  await mcu.start();
  const hello = await client.waitFor((f) => f.type === MessageType.EVENT_HELLO, "EVENT_HELLO");
  const instance = decodeHelloResponse(hello.payload).value!.instance;

  t.is(
    (await client.request(MessageType.LIST_BEGIN, encodeListBegin({ generation: 3, count: 2 }))).result,
    Result.OK,
  );
  for (let i = 0; i < 2; i++) {
    const r = await client.request(
      MessageType.LIST_ITEM,
      encodeListItem({ generation: 3, index: i, record: LIST[i] }),
    );
    t.is(r.result, Result.OK);
  }
  const c = await client.request(
    MessageType.LIST_COMMIT,
    encodeListCommit({ generation: 3, count: 2, listCrc: listCrc(LIST) }),
  );
  t.is(c.result, Result.OK);
  const st = decodeState((await client.request(MessageType.GET_STATE, [])).payload).value!;
  t.is(st.generation, 3);
  t.is(st.profileCount, 2);
  // The flash file holds the list.
  t.true(Object.keys(JSON.parse(readFileSync(flashFile, "utf8"))).includes("lsta"));

  // The owner boots; the EVENT_BOOT reaches the port.
  const finals: number[] = [];
  mcu.on("final", (s) => finals.push(s.sequence));
  mcu.powerOn([]);
  t.is(decodeBlock(mcu.registerBlock()).selection?.status, BlockStatus.FINAL);
  await client.waitFor((f) => f.type === MessageType.EVENT_BOOT, "EVENT_BOOT");
  t.is(finals.length, 1);

  // MCU reset: a new EVENT_HELLO with another instance; the list is still there.
  client.frames = [];
  await mcu.restart();
  const hello2 = await client.waitFor((f) => f.type === MessageType.EVENT_HELLO, "EVENT_HELLO after restart");
  t.not(decodeHelloResponse(hello2.payload).value!.instance, instance);
  t.deepEqual(mcu.profiles(), LIST);
  await mcu.stop();

  // A new process on the same file loads the same list.
  const again = new NodeMcu({ flashFile });
  t.deepEqual(again.profiles(), LIST);
  t.is(again.state().generation, 3);
});

test("FileFlash: a simulated power cut mid-write keeps the previous state in the file", (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, "flash.json");
  const a = new NodeMcu({ flashFile: file, clock: "manual" });
  const link = (type: number, seq: number, payload: number[]) =>
    a.uartReceive(encodeFrame({ type, seq, kind: FrameKind.REQUEST, result: 0, payload }));
  link(MessageType.LIST_BEGIN, 1, encodeListBegin({ generation: 1, count: 2 }));
  for (let index = 0; index < LIST.length; index++) {
    link(MessageType.LIST_ITEM, 2 + index, encodeListItem({ generation: 1, index, record: LIST[index] }));
  }
  link(MessageType.LIST_COMMIT, 9, encodeListCommit({ generation: 1, count: 2, listCrc: listCrc(LIST) }));
  const NEW = [profile("zulu")];
  (a.flash as FileFlash).cutAfter(0, true); // the next write is torn, the rest never happen
  link(MessageType.LIST_BEGIN, 10, encodeListBegin({ generation: 2, count: 1 }));
  link(MessageType.LIST_ITEM, 11, encodeListItem({ generation: 2, index: 0, record: NEW[0] }));
  link(MessageType.LIST_COMMIT, 12, encodeListCommit({ generation: 2, count: 1, listCrc: listCrc(NEW) }));
  t.true(a.flash.cut);
  t.deepEqual(a.profiles(), NEW, "RAM has the new list");
  const b = new NodeMcu({ flashFile: file, clock: "manual" });
  t.deepEqual(b.profiles(), LIST, "the file still has the old one");
  t.is(b.state().generation, 1);
});

test("FileFlash refuses a file that is not JSON, naming it", (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, "bad.json");
  writeFileSync(file, "not json");
  t.throws(() => new FileFlash(file), { message: /bad\.json is not valid JSON/ });
});

function runCli(args: string[]): {
  child: ChildProcess;
  out: () => string;
  waitFor: (s: string) => Promise<void>;
} {
  const child = spawn(process.execPath, ["--import", "tsx", "mcu/node/cli.ts", ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  return {
    child,
    out: () => out,
    waitFor: async (s: string) => {
      const deadline = Date.now() + 30000;
      while (!out.includes(s)) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`CLI never printed ${s}; got:\n${out}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    },
  };
}

test("the CLI runs an MCU on a pty: keys on stdin, screen and block printed, the link answers", async (t) => {
  const dir = tmpDir(t);
  const pty = await openPtyPair();
  t.teardown(() => pty.close());
  const port = await openPort(pty.b);
  t.teardown(() => closePort(port));
  const client = new PortClient(port);
  const cli = runCli(["--port", pty.a, "--flash", path.join(dir, "f.json"), "--power-on", "ok"]);
  t.teardown(() => {
    if (cli.child.exitCode === null) cli.child.kill("SIGKILL");
  });
  await cli.waitFor("MCU running on");
  await cli.waitFor("block: pending");
  await client.waitFor((f) => f.type === MessageType.EVENT_HELLO, "EVENT_HELLO from the CLI");
  const r = await client.request(MessageType.GET_STATE, []);
  t.is(r.result, Result.OK);
  cli.child.stdin!.write("ok\n");
  await cli.waitFor("FINAL: (base) action=2");
  cli.child.stdin!.write("quit\n");
  const code = await new Promise<number | null>((res) => cli.child.once("exit", res));
  t.is(code, 0);
});

test("the CLI refuses unknown options and bad values with a clear message", async (t) => {
  const cli = runCli(["--speed", "9"]);
  const code = await new Promise<number | null>((res) => cli.child.once("exit", res));
  t.is(code, 2);
  t.regex(cli.out(), /option --speed is unknown/);
  const cli2 = runCli(["--baud", "fast"]);
  const code2 = await new Promise<number | null>((res) => cli2.child.once("exit", res));
  t.is(code2, 2);
  t.regex(cli2.out(), /--baud fast is invalid: must be a positive integer/);
  const cli3 = runCli(["--port", "/nonexistent/tty"]);
  const code3 = await new Promise<number | null>((res) => cli3.child.once("exit", res));
  t.is(code3, 1);
  t.regex(cli3.out(), /cannot open \/nonexistent\/tty: /);
});
