#!/usr/bin/env -S npx tsx
// Runs a simulated MCU on a serial device (e.g. one end of a socat pty pair), so a person or the
// Linux bridge can talk to it:   npx tsx mcu/node/cli.ts --port /dev/pts/7 --flash /tmp/mcu-flash.json
// Then type commands on stdin: power [keys...], off, up, down, left, right, ok, back, long ok,
// hold KEY MS, screen, png FILE, block, state, restart, quit.
import { writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { decodeBlock, STATUS_NAMES } from "../../protocol/register-block";
import { NodeMcu } from "./mcu";
import { UART_BAUD } from "../../protocol/frame";

function usage(msg: string): never {
  console.error(msg);
  console.error("usage: cli.ts [--port DEVICE] [--baud N] [--flash FILE.json] [--power-on [KEY,...]]");
  process.exit(2);
}

const args = process.argv.slice(2);
const opt: Record<string, string> = {};
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (!a.startsWith("--")) usage(`argument ${JSON.stringify(a)} is invalid: options start with --`);
  const name = a.slice(2);
  if (!["port", "baud", "flash", "power-on"].includes(name)) usage(`option --${name} is unknown`);
  const next = args[i + 1];
  opt[name] = next !== undefined && !next.startsWith("--") ? args[++i] : "";
}
const baud = opt.baud ? Number(opt.baud) : UART_BAUD;
if (!(baud > 0 && Number.isInteger(baud))) usage(`--baud ${opt.baud} is invalid: must be a positive integer`);

let mcu: NodeMcu;
try {
  mcu = new NodeMcu({
    serialPath: opt.port || undefined,
    baudRate: baud,
    flashFile: opt.flash || undefined,
  });
} catch (e) {
  console.error(`cannot start: ${(e as Error).message}`);
  process.exit(1);
}

function printBlock(): void {
  const d = decodeBlock(mcu.registerBlock());
  if (!d.ok || !d.selection) console.log(`block: ${d.error} ${d.detail}`);
  else {
    const s = d.selection;
    console.log(
      `block: ${STATUS_NAMES[s.status]} action=${s.action} reason=${s.reason} id=${s.profileId || '""'} base=${s.base} try=${s.tryNumber}/${s.maxTries} seq=${s.sequence}`,
    );
  }
}

function printScreen(): void {
  console.log(`[${mcu.screenName()}]`);
  for (const line of mcu.screenText()) console.log("  " + line);
}

mcu.on("final", (sel) => {
  console.log(
    `FINAL: ${sel.profileId || "(base)"} action=${sel.action} reason=${sel.reason} seq=${sel.sequence}`,
  );
});
mcu.on("restart", (instance) => console.log(`restarted, instance 0x${instance.toString(16)}`));

try {
  await mcu.start();
} catch (e) {
  console.error(`cannot open ${opt.port}: ${(e as Error).message}`);
  process.exit(1);
}
console.log(
  `MCU running${opt.port ? " on " + opt.port : " without a UART"}; flash ${opt.flash || "in memory"}; ` +
    `${mcu.profiles().length} profiles (${mcu.core.loadReport()})`,
);
/** Power-on with keys held, then let go of them (as a person does once the menu shows). */
function powerOn(held: string[]): void {
  mcu.powerOn(held);
  for (const k of held) mcu.keyUp(k);
}

if (opt["power-on"] !== undefined) {
  powerOn(opt["power-on"] ? opt["power-on"].split(",") : []);
  printBlock();
  printScreen();
}

const rl = createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  const w = line.trim().split(/\s+/).filter(Boolean);
  if (w.length === 0) return;
  try {
    const cmd = w[0].toLowerCase();
    if (cmd === "quit" || cmd === "exit") {
      await mcu.stop();
      process.exit(0);
    } else if (cmd === "power") {
      powerOn(w.slice(1));
      printBlock();
    } else if (cmd === "off") {
      mcu.powerOff();
    } else if (cmd === "long") {
      await mcu.press(w[1] ?? "ok", 600);
    } else if (cmd === "hold") {
      await mcu.press(w[1] ?? "ok", Number(w[2] ?? 1600));
    } else if (cmd === "screen") {
      printScreen();
    } else if (cmd === "png") {
      writeFileSync(w[1] ?? "screen.png", mcu.screenPng(3));
      console.log(`wrote ${w[1] ?? "screen.png"}`);
    } else if (cmd === "block") {
      printBlock();
    } else if (cmd === "state") {
      console.log(JSON.stringify(mcu.state(), null, 1));
    } else if (cmd === "restart") {
      await mcu.restart();
    } else {
      await mcu.press(cmd);
    }
    if (!["screen", "block", "state", "png"].includes(cmd)) printScreen();
  } catch (e) {
    console.log(`error: ${(e as Error).message}`);
  }
});
rl.on("close", async () => {
  await mcu.stop();
  process.exit(0);
});
process.on("SIGINT", async () => {
  await mcu.stop();
  process.exit(0);
});
