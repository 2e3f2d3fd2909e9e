// The MCU behind the pty, chosen by `--mcu`: mcu/node's NodeMcu ("node", the default) or the
// compiled DeviceScript program in the VM (VmMcu, "vm"). Everything that differs between the two
// lives here, so the simulation itself does not ask which one it has.
import { join } from "node:path";
import { PNG } from "pngjs";
import { LONG_PRESS_MS } from "../mcu/core/keys";
import { NodeMcu } from "../mcu/node/mcu";
import { type ProfileRecord, sameProfile } from "../protocol/profile";
import { DefaultMode, showMenuName } from "../protocol/messages";
import { actionName } from "../protocol/register-block";
import type { Daemon } from "../soc-bridge/daemon";
import { describeState } from "../soc-bridge/ops";
import { readStore, records } from "../soc-bridge/profile-store";
import { VM_SCREEN_BITS, VmMcu } from "./mcu-vm";
import { UART_BAUD } from "../protocol/frame";

/** The MCU behind the pty: the Node adapter, or the DeviceScript program in the VM. */
export type SimMcu = NodeMcu | VmMcu;

export type McuKind = "node" | "vm";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A new (not yet started) MCU on `serialPath`, keeping its flash in the simulation folder `dir`. */
export function makeMcu(kind: McuKind, serialPath: string, dir: string): SimMcu {
  return kind === "vm"
    ? new VmMcu({ serialPath, baudRate: UART_BAUD, workdir: join(dir, "mcu-vm") })
    : new NodeMcu({ serialPath, baudRate: UART_BAUD, flashFile: join(dir, "mcu-flash.json") });
}

/** Bits a pixel the MCU draws: 6 (NodeMcu, gray 0..63) or 4 (the DeviceScript program's Image). */
export function screenBits(kind: McuKind): number {
  return kind === "vm" ? VM_SCREEN_BITS : 6;
}

/**
 * Presses a key. Under the core's LONG_PRESS_MS `ms` only says "short": down and up go at once, so
 * a stalled event loop cannot stretch the press into a long one (a 60 ms Back held 300 ms does
 * nothing); from LONG_PRESS_MS on the key is held `ms`.
 */
export async function pressKey(mcu: SimMcu, key: string, ms: number): Promise<void> {
  if (mcu instanceof VmMcu) {
    // Timed against the program's own key lines (see VmMcu.press).
    await mcu.press(key, ms);
    return;
  }
  mcu.keyDown(key);
  if (ms >= LONG_PRESS_MS) await sleep(ms);
  mcu.keyUp(key);
}

/**
 * The MCU's profile list: NodeMcu's directly; the VM's read back over the link (GET_PROFILE through
 * the bridge) once the bridge is idle.
 */
async function mcuProfiles(mcu: SimMcu | null, bridge: Daemon, timeoutMs: number): Promise<ProfileRecord[]> {
  if (mcu instanceof VmMcu) {
    await bridge.whenSynced(timeoutMs);
    return (await bridge.listMcu()).records;
  }
  return mcu ? mcu.profiles() : [];
}

/** The MCU's state (GET_STATE's answer): from the Node MCU directly, from the VM through the bridge. */
export async function mcuState(
  mcu: SimMcu | null,
  bridge: Daemon | null,
): Promise<ReturnType<typeof describeState> | null> {
  if (!mcu) return null;
  try {
    if (mcu instanceof NodeMcu) return describeState(mcu.state());
    return bridge ? describeState(await bridge.mcuState()) : null;
  } catch {
    return null;
  }
}

/**
 * What a fresh MCU would load from its flash now (the stored state, not the RAM state): NodeMcu's
 * flash file, or the VM program's settings read over Jacdac.
 */
export async function mcuStored(mcu: SimMcu | null) {
  if (!mcu) return null;
  const l = mcu instanceof NodeMcu ? mcu.stored() : await mcu.stored();
  const c = l.config;
  return {
    generation: l.list.generation,
    profiles: l.list.records.map((r) => r.id),
    default: c.defaultMode === DefaultMode.LAST_USED ? "last-used" : c.defaultId,
    next: c.nextId === "" ? null : { id: c.nextId, action: actionName(c.nextAction) },
    options: {
      timeoutSeconds: c.timeoutSeconds,
      show: showMenuName(c.showMenu),
      maxTries: c.maxTries,
    },
    lastGood: l.run.lastGoodId === "" ? null : l.run.lastGoodId,
    failed: l.run.tries.filter((t) => t.failed).length,
    report: l.report,
  };
}

let blank: Buffer | null = null;
/** A black 256x144 grayscale PNG (the screen of an absent MCU). */
export function blankPng(): Buffer {
  if (!blank) {
    const png = new PNG({ width: 256, height: 144, colorType: 0, inputColorType: 0 });
    blank = PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  }
  return blank;
}

/**
 * After a store change: waits until the MCU holds exactly the store's valid profiles (the bridge
 * noticed the change and synced it), then until the bridge is idle.
 */
export async function mcuHoldsStore(
  mcu: () => SimMcu | null,
  bridge: Daemon,
  storeDir: string,
  timeoutMs: number,
): Promise<void> {
  const t0 = Date.now();
  const left = () => Math.max(1000, timeoutMs - (Date.now() - t0));
  for (;;) {
    const want = records((await readStore(storeDir)).profiles);
    const have = await mcuProfiles(mcu(), bridge, left());
    if (want.length === have.length && want.every((r, i) => sameProfile(r, have[i]))) break;
    if (Date.now() - t0 > timeoutMs) {
      throw new Error(
        "the MCU does not hold the store's profiles after " +
          timeoutMs +
          " ms: store " +
          JSON.stringify(want.map((r) => r.id)) +
          ", MCU " +
          JSON.stringify(have.map((r) => r.id)),
      );
    }
    // The VM's list is read over the link: look less often.
    await sleep(mcu() instanceof VmMcu ? 250 : 25);
  }
  await bridge.whenSynced(left());
}
