// sim/mcu-vm.ts (`--mcu vm`) against the real DeviceScript VM: power cycles with a "final" listener
// that reads the block again, as the simulator's engine does (its boot starts from that event).
// Regression: the listener re-entered VmMcu's line scan, which then skipped the next line (the FRAME
// saying "booting"); the next power cycle believed the SoC off, skipped the power-off and held the
// power key, which turned the SoC off instead: "the VM stopped responding after several power cycles".
// One VM per machine (port 8082, a lock shared with the other VM tests), so this may wait for it.
import test from "ava";
import { SerialPort } from "serialport";
import { encodeFrame, type Frame, FrameDecoder, FrameKind, MAX_WIRE_FRAME } from "../protocol/frame";
import {
  encodeListBegin,
  encodeListCommit,
  encodeListItem,
  listCrc,
  MessageType,
  Result,
} from "../protocol/messages";
import type { ProfileRecord } from "../protocol/profile";
import { BlockStatus, type BootSelection } from "../protocol/register-block";
import { VmMcu } from "../sim/mcu-vm";
import { openPtyPair } from "./helpers/pty";

const PROFILES: ProfileRecord[] = [
  { id: "desktop", name: "Desktop", base: "1.2", origin: "", flags: 0, created: 1760000000, lastUsed: 0 },
  { id: "pentest", name: "Pentest", base: "1.2", origin: "", flags: 0, created: 1761000000, lastUsed: 0 },
];

/** The bridge's end of the pty: sends requests, waits for the matching responses. */
class Peer {
  private frames: Frame[] = [];
  private seq = 0;
  private dec = new FrameDecoder(MAX_WIRE_FRAME);
  constructor(private port: SerialPort) {
    port.on("data", (d: Buffer) =>
      this.dec.push(
        [...d],
        (f) => this.frames.push(f),
        () => {},
      ),
    );
  }
  async request(type: number, payload: number[], timeoutMs = 60_000): Promise<Frame> {
    const seq = (this.seq = (this.seq + 1) & 0xff);
    this.port.write(Buffer.from(encodeFrame({ type, seq, kind: FrameKind.REQUEST, result: 0, payload })));
    const t0 = Date.now();
    for (;;) {
      const f = this.frames.find((x) => x.kind === FrameKind.RESPONSE && x.seq === seq && x.type === type);
      if (f) return f;
      if (Date.now() - t0 > timeoutMs) throw new Error(`no response to type ${type} seq ${seq}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

test("VmMcu: five power cycles in the VM, each FINAL with a new sequence, the booting screen, then off; its flash read back", async (t) => {
  // Generous: start() waits for the machine's one VM port (other VM tests may hold it).
  t.timeout(2_400_000);
  const pty = await openPtyPair();
  const mcu = new VmMcu({ serialPath: pty.a });
  const port = new SerialPort({ path: pty.b, baudRate: 1500000, autoOpen: false });
  const finals: BootSelection[] = [];
  // As sim/engine.ts does: the "final" event starts a boot, which reads the block at once.
  mcu.on("final", (sel: BootSelection) => {
    finals.push(sel);
    mcu.registerBlock();
  });
  t.teardown(async () => {
    if (port.isOpen) await new Promise<void>((res) => port.close(() => res()));
    await mcu.stop();
    await pty.close();
  });
  await mcu.start();
  await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
  const peer = new Peer(port);
  let r = await peer.request(MessageType.LIST_BEGIN, encodeListBegin({ generation: 5, count: 2 }));
  t.is(r.result, Result.OK);
  for (let i = 0; i < PROFILES.length; i++) {
    r = await peer.request(
      MessageType.LIST_ITEM,
      encodeListItem({ generation: 5, index: i, record: PROFILES[i] }),
    );
    t.is(r.result, Result.OK);
  }
  r = await peer.request(
    MessageType.LIST_COMMIT,
    encodeListCommit({ generation: 5, count: 2, listCrc: listCrc(PROFILES) }),
  );
  t.is(r.result, Result.OK);

  let lastSeq = -1;
  for (let cycle = 1; cycle <= 5; cycle++) {
    const sel = await mcu.powerOn([]);
    t.is(sel.status, BlockStatus.FINAL, `cycle ${cycle}: zero-wait boot`);
    // Desktop for three tries (never marked good), then the policy moves on: any listed profile.
    if (cycle <= 3) t.is(sel.profileId, "desktop", `cycle ${cycle}`);
    else t.true(["desktop", "pentest"].includes(sel.profileId), `cycle ${cycle}: ${sel.profileId}`);
    t.true(sel.sequence > lastSeq, `cycle ${cycle}: a new sequence (${sel.sequence} after ${lastSeq})`);
    lastSeq = sel.sequence;
    t.is(mcu.screenName(), "booting", `cycle ${cycle}: the screen after power-on`);
    // The program drew the booting frame (the line the scan used to skip) before the power-off.
    await mcu.waitFrameOf("booting");
    t.is(mcu.screenName(), "booting", `cycle ${cycle}: still booting`);
    await mcu.powerOff();
    t.is(mcu.screenName(), "off", `cycle ${cycle}`);
    const t0 = Date.now();
    while (mcu.selection().status !== BlockStatus.EMPTY && Date.now() - t0 < 30_000)
      await new Promise((res) => setTimeout(res, 50));
    t.is(mcu.selection().status, BlockStatus.EMPTY, `cycle ${cycle}: the block after power-off`);
  }
  t.is(finals.length, 5, "one final event per power cycle");
  // The program's flash read back over Jacdac (the VM's settings service): what a fresh MCU loads.
  const st = await mcu.stored();
  t.is(st.list.generation, 5);
  t.deepEqual(
    st.list.records.map((p) => p.id),
    ["desktop", "pentest"],
  );
  t.true(st.run.tries.length > 0, "the boot tries are in the run record");
});
