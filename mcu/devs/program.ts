// The program's roles and start, shared by main.ts and its test, simulation and bench entries (which
// differ only in what they add). Roles bind in alphabetical order of their names, so the key roles
// are named k00..k12 in Key order (mcu/core/keys.ts).
import { Button, Serial } from "@devicescript/core";
import { type BandObserver, DevsMcu } from "./adapter";

const k00up = new Button("k00up");
const k01down = new Button("k01down");
const k02left = new Button("k02left");
const k03right = new Button("k03right");
const k04ok = new Button("k04ok");
const k05back = new Button("k05back");
const k06key1 = new Button("k06key1");
const k07key2 = new Button("k07key2");
const k08power = new Button("k08power");
const k09key4 = new Button("k09key4");
const k10key5 = new Button("k10key5");
const k11appswitch = new Button("k11appswitch");
const k12ptt = new Button("k12ptt");

/** The 13 keys in Key order. */
const keyButtons: Button[] = [
  k00up,
  k01down,
  k02left,
  k03right,
  k04ok,
  k05back,
  k06key1,
  k07key2,
  k08power,
  k09key4,
  k10key5,
  k11appswitch,
  k12ptt,
];
/** The PTT key (the bench's heap probe listens to it too). */
export const pttButton = k12ptt;
/** The UART link to the SoC (uart4 on the device). */
const uart = new Serial("uart");

/** Runs the boot picker forever; `bands` sees every drawn band (null in the real program). */
export async function runProgram(bands: BandObserver | null): Promise<void> {
  const mcu = new DevsMcu({
    buttons: keyButtons,
    uart: uart,
    logRegister: true,
    logFrames: true,
    logKeys: true,
    bands: bands,
  });
  await mcu.run();
}
