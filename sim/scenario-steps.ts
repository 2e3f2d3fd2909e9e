// The scenario step runner: each step kind (sim/README.md's table) as what it does to the
// Simulation; expectations are retried until they hold or their time is up.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { MessageType } from "../protocol/messages";
import type { Simulation } from "./engine";
import type { ProfileJson } from "./example";
import type { FlipCtl } from "./flipctl";
import { VmMcu } from "./mcu-vm";
import { checkExpectations, ExpectationError, realLinux } from "./scenario-check";
import { asList, BOOT_EXPECTATIONS, type Step, show, stepKind } from "./scenario-schema";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `flipctl: "profile snapshots work"` or a list of words -> the flipper-boot arguments. */
function flipctlWords(v: unknown): string[] {
  const words = Array.isArray(v)
    ? v.map(String)
    : String(v)
        .split(/\s+/)
        .filter((w) => w !== "");
  if (words.length === 0) throw new Error('flipctl needs a flipper-boot command, e.g. "status"');
  return words;
}

/** How long an expectation is retried by default (`within`), with NodeMcu and with the VM. */
export const EXPECT_WITHIN_MS = 15000;
export const EXPECT_WITHIN_VM_MS = 30000;
/** How often a failing store expectation on the real Linux reads the guest's store again. */
const GUEST_STORE_REREAD_MS = 3000;

/** Steps that change the store through FlipCTL; the bridge then syncs the change to the MCU. */
const STORE_STEPS: Record<string, (f: FlipCtl, v: never) => Promise<void>> = {
  writeProfile: (f, v: ProfileJson) => f.writeProfile(v),
  writeRaw: (f, v: { folder: string; text: string }) => f.writeProfileText(v.folder, v.text),
  editProfile: (f, v: ProfileJson) => f.editProfile(v.id, v),
  deleteProfile: (f, v: unknown) => f.deleteProfile(String(v)),
  cloneProfile: (f, v: { from: string; id: string; name?: string }) => f.cloneProfile(v.from, v.id, v.name),
  renameProfile: (f, v: { id: string; name: string }) => f.renameProfile(v.id, v.name),
  hideProfile: (f, v: string | { id: string; hidden?: boolean }) =>
    typeof v === "string" ? f.hideProfile(v, true) : f.hideProfile(v.id, v.hidden ?? true),
};

export class Runner {
  constructor(
    private sim: Simulation,
    private baseDir: string,
    private logStart: number,
  ) {}

  /** After a store change: let the bridge notice (debounce) and sync. */
  private async settle(): Promise<void> {
    if (!this.sim.bridge || !this.sim.mcu) return;
    await this.sim.settled(30000);
  }

  async step(s: Step): Promise<void> {
    const k = stepKind(s)!;
    const v = s[k] as never;
    const sim = this.sim;
    const storeStep = STORE_STEPS[k];
    if (storeStep) {
      await storeStep(sim.flipctl, v);
      await this.settle();
      return;
    }
    switch (k) {
      case "powerOn": {
        const hold =
          v === null || v === true ? [] : Array.isArray(v) ? v : asList((v as { hold?: unknown }).hold ?? []);
        await sim.powerOn(hold);
        return;
      }
      case "powerOff":
        await sim.powerOff();
        return;
      case "press": {
        const items: unknown[] = Array.isArray(v) ? v : [v];
        for (const it of items) {
          if (typeof it === "string") await sim.press(it);
          else {
            const o = it as { key: string; ms?: number; times?: number };
            for (let i = 0; i < (o.times ?? 1); i++) await sim.press(o.key, o.ms ?? 60);
          }
        }
        return;
      }
      case "hold":
        for (const key of asList(v)) sim.keyDown(key);
        return;
      case "release":
        for (const key of asList(v)) sim.keyUp(key);
        return;
      case "wait":
        await sleep(Number(v));
        return;
      case "waitBoot":
        await sim.waitBoot();
        return;
      case "setDefault":
        await sim.setDefault(String(v));
        await this.settle();
        return;
      case "setNext": {
        const o =
          typeof v === "string"
            ? { id: v as string, action: "boot" }
            : (v as { id: string; action?: string });
        await sim.setNext(o.id, o.action ?? "boot");
        return;
      }
      case "clearNext":
        await sim.setNext("");
        return;
      case "setOptions":
        await sim.setOptions(v as { timeoutSeconds?: number });
        await this.settle();
        return;
      case "failBoot":
        sim.failNextBoot(v === true ? 1 : Number(v));
        return;
      case "fwSetenv":
        await sim.fwSetenv(v as Record<string, string>);
        return;
      case "failProfile":
        sim.failingProfiles.add(String(v));
        return;
      case "restartMcu": {
        if (v === true || v === null) {
          await sim.restartMcu();
          return;
        }
        // Armed: restart when the MCU receives the nth frame of a message type (the step returns at once).
        const o = v as { on: string; nth?: number };
        const type = (MessageType as Record<string, number>)[o.on];
        if (type === undefined)
          throw new Error("restartMcu.on " + show(o.on) + " is not a message type name");
        void sim.armMcuRestart(type, o.nth ?? 1);
        return;
      }
      case "killBridge":
        await sim.killBridge();
        return;
      case "startBridge":
        await sim.startBridge();
        return;
      case "mcuAbsent":
        await sim.setMcuAbsent(v !== false);
        return;
      case "sync":
        await sim.waitSynced(typeof v === "number" ? v : 30000);
        return;
      case "screenshot": {
        const f = this.path(String(v));
        mkdirSync(dirname(f), { recursive: true });
        writeFileSync(f, sim.screenPng());
        return;
      }
      case "flipctl":
        await realLinux(sim).runOk(flipctlWords(v));
        return;
      case "expect":
        await this.expect(v as Record<string, unknown>);
        return;
    }
  }

  private path(p: string): string {
    return isAbsolute(p) ? p : join(this.baseDir, p);
  }

  private async expect(e: Record<string, unknown>): Promise<void> {
    const sim = this.sim;
    // Generous by default (a loaded machine; a passing expectation returns at once), and more for
    // the DeviceScript VM, which is much slower than Node.
    const within =
      typeof e.within === "number"
        ? e.within
        : sim.mcu instanceof VmMcu
          ? EXPECT_WITHIN_VM_MS
          : EXPECT_WITHIN_MS;
    if (BOOT_EXPECTATIONS.some((k) => k in e)) {
      // A pick made just before becomes a boot once the MCU publishes its FINAL block: wait for it.
      if (sim.power === "menu" && !(await sim.waitBootStart(within))) {
        throw new ExpectationError([
          "no boot within " +
            within +
            " ms: the menu is still open (screen: " +
            sim.screenText().join(" | ") +
            ")",
        ]);
      }
      if (sim.bootStarted()) await sim.waitBoot();
    }
    const deadline = Date.now() + within;
    // The real Linux's store is read from the guest after each command; a read that failed or came
    // early on a loaded machine is repeated while a store expectation is retried (every few seconds).
    const rereadsGuestStore = sim.real !== null && ("store" in e || "storeMissing" in e);
    let lastReread = Date.now();
    // Retry until everything matches or the time is up (screens, the MCU and the bridge move on their own).
    for (;;) {
      const fails = await checkExpectations(sim, e, (p) => this.path(p), this.logStart);
      if (fails.length === 0) return;
      if (Date.now() >= deadline) throw new ExpectationError(fails);
      if (rereadsGuestStore && Date.now() - lastReread >= GUEST_STORE_REREAD_MS) {
        await sim.real?.refreshStore();
        lastReread = Date.now();
      }
      await sleep(50);
    }
  }
}
