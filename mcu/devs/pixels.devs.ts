// Test entry (test/mcu-devs-vm.test.ts): mcu/devs/main.ts with FRAMEHASH lines, so the VM's pixels
// can be compared with the Node Framebuffer's. Keep the roles and options identical to main.ts.
import { Button, Serial } from "@devicescript/core";
import { DevsMcu } from "./adapter";

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
const uart = new Serial("uart");

const mcu = new DevsMcu({
  buttons: [
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
  ],
  uart: uart,
  logRegister: true,
  logFrames: true,
  logKeys: true,
  hashFrames: true,
});
await mcu.run();
