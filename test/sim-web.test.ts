// The simulator's page in a real headless browser (Debian's chromium via puppeteer-core): load it,
// power on holding OK, move with the keyboard and the on-page buttons (the canvas pixels change),
// boot, and see the bootargs; FlipCTL buttons reach the MCU. Also `npm start`'s server binary.
// SIM_SCREENSHOT=path saves a screenshot of the page (the README's sim/screenshot.png).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import test from "ava";
import type { Page } from "puppeteer-core";
import type { NodeMcu } from "../mcu/node/mcu";
import { launchChromium } from "../sim/browser";
import { startServer } from "../sim/server";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function canvasHash(page: Page): Promise<string> {
  const data = await page.evaluate(() => {
    const c = document.getElementById("screen") as HTMLCanvasElement;
    const px = c.getContext("2d")!.getImageData(0, 0, 256, 144).data;
    let s = "";
    for (let i = 0; i < px.length; i += 4) s += String.fromCharCode(px[i]);
    return s;
  });
  return createHash("sha1").update(data, "latin1").digest("hex");
}

/** Waits until `ok()` holds (polled; 60 s). */
async function until(what: string, ok: () => boolean | Promise<boolean>): Promise<void> {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > 60000) throw new Error("timed out waiting for " + what);
    await sleep(50);
  }
}

async function waitCanvasChange(page: Page, from: string, timeoutMs = 60000): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const h = await canvasHash(page);
    if (h !== from) return h;
    if (Date.now() - t0 > timeoutMs)
      throw new Error("the screen canvas did not change in " + timeoutMs + " ms");
    await sleep(50);
  }
}

async function litPixels(page: Page): Promise<number> {
  return page.evaluate(() => {
    const c = document.getElementById("screen") as HTMLCanvasElement;
    const px = c.getContext("2d")!.getImageData(0, 0, 256, 144).data;
    let n = 0;
    for (let i = 0; i < px.length; i += 4) if (px[i] > 128) n++;
    return n;
  });
}

test("the page shows the screen, takes keys and buttons, boots and shows the bootargs", async (t) => {
  t.timeout(600_000); // generous: a loaded machine (QEMU cold start)
  const srv = await startServer({ port: 0 });
  t.teardown(() => srv.close());
  const lb = await launchChromium();
  t.teardown(() => lb.close());
  t.regex(srv.url, /^http:\/\/127\.0\.0\.1:\d+\/$/, "binds to loopback by default");
  const page = await lb.browser.newPage();
  // A loaded machine: puppeteer's waits get the same generous time as the rest.
  page.setDefaultTimeout(90_000);
  await page.setViewport({ width: 1480, height: 1040 });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(srv.url);
  await page.waitForFunction(() => document.getElementById("chip-ws")!.textContent === "connected");
  await page.waitForFunction(() => document.querySelectorAll("#profiles tr").length === 4);
  const names = await page.$$eval("#profiles .pname", (els) => els.map((e) => e.textContent));
  t.deepEqual(names, ["Desktop", "Pentest", "Router", "Kiosk"], "the example store is listed in FlipCTL");

  // Power on holding OK (Enter + P): the menu opens on the canvas.
  const off = await canvasHash(page);
  await page.keyboard.down("Enter");
  await page.keyboard.press("p");
  await sleep(200);
  await page.keyboard.up("Enter");
  const menu = await waitCanvasChange(page, off);
  t.true((await litPixels(page)) > 2000, "the menu is drawn (white list on the canvas)");
  await page.waitForFunction(() => document.getElementById("chip-power")!.textContent!.includes("list"));
  t.deepEqual(srv.sim.screenText().slice(0, 2), ["Boot profile", "Desktop 1.2 2026-11-20"]);

  // Down with the keyboard: the selection moves (pixels change). The MCU's own state says when
  // each key was handled (a frame may also change for another reason, e.g. OK let go).
  const selected = () => (srv.sim.mcu as NodeMcu).core.menuCursor();
  await page.keyboard.press("ArrowDown");
  await until("the first Down handled", () => selected() === 1);
  const second = await waitCanvasChange(page, menu);
  t.not(second, menu);
  // Down with the on-page D-pad button.
  await page.click('.key[data-key="down"]');
  await until("the second Down handled", () => selected() === 2);
  await waitCanvasChange(page, second);
  t.is(selected(), 2, "two downs select the third entry (Router)");

  // OK boots it: U-Boot runs boot.scr, the page shows the bootargs with flipper.profile=.
  await page.keyboard.press("Enter");
  await page.waitForFunction(
    () => document.getElementById("bootargs")!.textContent!.includes("flipper.profile="),
    {
      timeout: 180000,
    },
  );
  const bootargs = await page.$eval("#bootargs", (e) => e.textContent);
  t.is(bootargs, "bootargs=flipper.profile=router flipper.base=1.1 quiet net.ifnames=0");
  const highlighted = await page.$eval("#console .ba", (e) => e.textContent);
  t.is(highlighted, "bootargs=flipper.profile=router flipper.base=1.1 quiet net.ifnames=0");
  const flLines = await page.$$eval("#console .fl", (els) => els.map((e) => e.textContent));
  t.true(flLines.includes("flipper: booting profile router base 1.1 (reason user)"), flLines.join("\n"));
  await page.waitForFunction(() =>
    document.getElementById("boot-summary")!.textContent!.includes("mark-good"),
  );

  // FlipCTL: make Kiosk the default; the MCU's state on the page follows.
  await click(page, '#profiles tr[data-id="kiosk"] button[data-act="default"]');
  await page.waitForFunction(() =>
    document.getElementById("mcu-line")!.textContent!.includes("default kiosk"),
  );
  t.is((await srv.sim.mcuState())!.default, "kiosk");
  // The bridge log reached the page.
  await page.waitForFunction(() =>
    document.getElementById("log")!.textContent!.includes("default set to kiosk"),
  );

  // Power-cycle with the button, no key: zero-wait boot of the new default.
  await page.click("#btn-power");
  await page.waitForFunction(
    () => document.getElementById("bootargs")!.textContent!.includes("flipper.profile=kiosk"),
    {
      timeout: 60000,
    },
  );
  // Leave the menu open on the screen for the screenshot.
  await page.keyboard.down("Enter");
  await page.keyboard.press("p");
  await sleep(200);
  await page.keyboard.up("Enter");
  await page.waitForFunction(() => document.getElementById("chip-power")!.textContent!.includes("list"));
  await page.keyboard.press("ArrowUp");
  await sleep(300);
  if (process.env.SIM_SCREENSHOT) await page.screenshot({ path: process.env.SIM_SCREENSHOT });
  t.deepEqual(errors, [], "no script errors on the page");
});

test("`npm start`'s server prints its loopback URL and serves the page and the state", async (t) => {
  t.timeout(120000);
  const p = spawn(process.execPath, ["--import", "tsx", "sim/server.ts", "--port", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  p.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  p.stderr.on("data", (c: Buffer) => {
    out += c.toString();
  });
  // A failed check above must not leave the server behind.
  t.teardown(() => {
    if (p.exitCode === null) p.kill("SIGKILL");
  });
  const t0 = Date.now();
  let m: RegExpExecArray | null = null;
  while (!(m = /simulator: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out))) {
    if (p.exitCode !== null) throw new Error("server exited: " + out);
    if (Date.now() - t0 > 90000) throw new Error("no URL printed: " + out);
    await sleep(100);
  }
  const url = m[1];
  const html = await (await fetch(url)).text();
  t.true(html.includes('<canvas id="screen"'));
  const st = (await (await fetch(url + "api/state")).json()) as {
    profiles: Array<{ id: string }>;
    power: string;
  };
  t.deepEqual(
    st.profiles.map((x) => x.id),
    ["desktop", "pentest", "router", "kiosk"],
  );
  t.is(st.power, "off");
  const missing = await fetch(url + "../etc/passwd");
  t.is(missing.status, 404);
  p.kill("SIGTERM");
  const stop0 = Date.now();
  while (p.exitCode === null && Date.now() - stop0 < 20000) await sleep(100);
  t.is(p.exitCode, 0, "exits cleanly on SIGTERM: " + out.slice(-500));
});

/**
 * A real mouse click on `sel`, checked: the page notes whether the click reached an element matching
 * `sel`. A table re-rendered between puppeteer's reading of the position and the click (state
 * pushes arrive all the time) moves the button away; the click then landed elsewhere and is repeated.
 */
async function click(page: Page, sel: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await page.evaluate((s) => {
        const w = window as unknown as { clickLanded?: boolean };
        w.clickLanded = false;
        document.addEventListener(
          "click",
          (e) => {
            if (e.target instanceof Element && e.target.closest(s)) w.clickLanded = true;
          },
          { capture: true, once: true },
        );
      }, sel);
      await page.click(sel);
      if (await page.evaluate(() => (window as unknown as { clickLanded?: boolean }).clickLanded)) return;
    } catch (e) {
      if (i >= 10 || !/detached|not clickable|No element/.test((e as Error).message)) throw e;
    }
    if (i >= 10) throw new Error(`the click on ${sel} kept landing elsewhere`);
    await sleep(100);
  }
}

test("the FlipCTL panel creates, clones, renames, hides and deletes profiles; the MCU follows", async (t) => {
  t.timeout(180000);
  const srv = await startServer({ port: 0 });
  t.teardown(() => srv.close());
  const lb = await launchChromium();
  t.teardown(() => lb.close());
  const sim = srv.sim;
  const mcu = () => sim.mcu as NodeMcu;
  const mcuIds = () =>
    mcu()
      .profiles()
      .map((p) => p.id);
  const page = await lb.browser.newPage();
  page.setDefaultTimeout(90_000);
  await page.goto(srv.url);
  await page.waitForFunction(() => document.querySelectorAll("#profiles tr").length === 4);

  // Create.
  await page.type("#new-id", "work");
  await page.type("#new-name", "Work");
  await click(page, '#create-form button[type="submit"]');
  await page.waitForSelector('#profiles tr[data-id="work"]');
  await until("work on the MCU", () => mcuIds().includes("work"));
  t.is((await sim.flipctl.readProfile("work")).name, "Work");

  // Clone Desktop as lab.
  await page.type("#new-id", "lab");
  await page.type("#new-name", "Lab");
  await page.select("#new-from", "desktop");
  await click(page, '#create-form button[type="submit"]');
  await page.waitForSelector('#profiles tr[data-id="lab"]').catch(async (e) => {
    t.log(await page.$eval("#toast", (x) => x.textContent), sim.logs.slice(-5));
    throw e;
  });
  t.is((await sim.flipctl.readProfile("lab")).origin, "desktop");

  // Rename lab inline.
  await click(page, '#profiles tr[data-id="lab"] button[data-act="rename"]');
  await page.waitForSelector('#profiles tr[data-id="lab"] input');
  await page.keyboard.down("Control");
  await page.keyboard.press("a");
  await page.keyboard.up("Control");
  await page.keyboard.type("Lab Two");
  await page.keyboard.press("Enter");
  await until("the new name on the MCU", () =>
    mcu()
      .profiles()
      .some((p) => p.name === "Lab Two"),
  ).catch(async (e) => {
    t.log(
      await page.$eval("#toast", (x) => x.textContent),
      sim.logs.slice(-4),
      mcu()
        .profiles()
        .map((p) => p.name),
    );
    throw e;
  });
  t.is((await sim.flipctl.readProfile("lab")).name, "Lab Two");

  // Hide kiosk.
  await click(page, '#profiles tr[data-id="kiosk"] button[data-act="hide"]');
  await until("kiosk hidden on the MCU", () =>
    mcu()
      .profiles()
      .some((p) => p.id === "kiosk" && (p.flags & 1) === 1),
  );
  await page.waitForFunction(() =>
    document.querySelector('#profiles tr[data-id="kiosk"]')!.textContent!.includes("hidden"),
  );

  // Delete router: the first click only arms the button.
  await click(page, '#profiles tr[data-id="router"] button[data-act="delete"]');
  await page.waitForFunction(
    () =>
      document.querySelector('#profiles tr[data-id="router"] button[data-act="delete"]')!.textContent ===
      "sure?",
  );
  t.true(mcuIds().includes("router"), "one click does not delete");
  await click(page, '#profiles tr[data-id="router"] button[data-act="delete"]');
  await until("router gone from the MCU", () => !mcuIds().includes("router"));
  await page.waitForFunction(() => !document.querySelector('#profiles tr[data-id="router"]'));

  // Next boot, default, fail next boot.
  await click(page, '#profiles tr[data-id="pentest"] button[data-act="next"]');
  await until("next boot pentest", async () => (await sim.mcuState())?.next?.id === "pentest");
  await click(page, '#profiles tr[data-id="work"] button[data-act="default"]');
  await until("default work", async () => (await sim.mcuState())?.default === "work");
  await click(page, "#btn-last-used");
  await until("default last-used", async () => (await sim.mcuState())?.default === "last-used");
  await click(page, "#btn-fail");
  await until("a failing boot armed", () => sim.failNext === 1);
  await page.waitForFunction(() => document.getElementById("btn-fail")!.textContent!.includes("fails (1)"));
  t.deepEqual(mcuIds(), ["desktop", "lab", "pentest", "kiosk", "work"]);
});

test("the page's Linux switch starts a new simulation with the real Linux, and back with the stand-in", async (t) => {
  t.timeout(25 * 60_000, "the way back waits for the real Linux's image when it is still being built");
  const srv = await startServer({ port: 0 });
  t.teardown(() => srv.close());
  const lb = await launchChromium();
  t.teardown(() => lb.close());
  const page = await lb.browser.newPage();
  page.setDefaultTimeout(20 * 60_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(srv.url);
  await page.waitForFunction(() => document.getElementById("chip-ws")!.textContent === "connected");
  const tag = () => page.$eval("#linux-kind", (e) => e.textContent);
  const names = () => page.$$eval("#profiles .pname", (els) => els.map((e) => e.textContent));
  // "connected" comes with the socket's opening; the tag with the server's first message after it.
  await page.waitForFunction(() => document.getElementById("linux-kind")!.textContent !== "");
  t.is(await tag(), "stand-in Linux");
  t.is(await page.$eval("#linux-switch", (e) => e.textContent), "use real Linux");
  const first = srv.sim;

  await click(page, "#linux-switch");
  await page.waitForFunction(() =>
    document.getElementById("linux-kind")!.textContent!.startsWith("real Linux: "),
  );
  t.not(srv.sim, first, "a new simulation");
  t.truthy(srv.sim.real);
  t.true(first.logs.some((l) => l.line.includes("this one closes")));
  await page.waitForFunction(() => document.querySelectorAll("#profiles tr").length === 4);
  t.deepEqual(await names(), ["Main", "Work", "Lab", "Broken"], "the test image's profiles");
  t.is(await page.$eval("#linux-switch", (e) => e.textContent), "use stand-in");
  t.true(srv.sim.logs.some((l) => l.line.includes("a new simulation with the real Linux")));

  await click(page, "#linux-switch");
  await page.waitForFunction(() => document.getElementById("linux-kind")!.textContent === "stand-in Linux");
  t.is(srv.sim.real, null);
  await page.waitForFunction(() => document.querySelector("#profiles .pname")?.textContent === "Desktop");
  t.deepEqual(await names(), ["Desktop", "Pentest", "Router", "Kiosk"]);
  t.deepEqual(errors, []);
});
