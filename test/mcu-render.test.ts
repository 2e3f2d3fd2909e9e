// Golden screenshots: every menu state rendered by the core onto the Node framebuffer, written as
// PNG and compared pixel by pixel with test/golden/mcu-*.png. Regenerate with UPDATE_GOLDEN=1
// (then look at them: `npx tsx mcu/node/cli.ts` + `png FILE` renders the same frames, 3x).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { encodeMenuOptions, MessageType, ShowMenu } from "../protocol/messages";
import { ProfileFlag } from "../protocol/profile";
import { FontId, fitText, textWidth } from "../mcu/core/font";
import { Framebuffer } from "../mcu/node/framebuffer";
import type { NodeMcu } from "../mcu/node/mcu";
import { makeMcu, profile } from "./helpers/mcu";

const GOLDEN = join(import.meta.dirname, "golden");
const OUT = join(import.meta.dirname, "output");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

const DAY = 86400;
const NOW = 1764115200; // 2025-11-26
const LIST = [
  profile("daily", { name: "Daily driver", base: "1.4.2", created: NOW - 200 * DAY, lastUsed: NOW - DAY }),
  profile("pentest", {
    name: "Pentest lab",
    base: "1.4.2",
    created: NOW - 90 * DAY,
    lastUsed: NOW - 3 * DAY,
    origin: "daily",
  }),
  profile("sdr", { name: "Radio & SDR", base: "1.3.0", created: NOW - 150 * DAY, lastUsed: NOW - 40 * DAY }),
  profile("kiosk", { name: "Kiosk", base: "1.4.2", flags: ProfileFlag.PROTECTED, created: NOW - 10 * DAY }),
  profile("long", {
    name: "Experimental kernel with every debug option on",
    base: "1.5.0.12",
    created: NOW - 2 * DAY,
    lastUsed: NOW - 2 * DAY,
  }),
  profile("cafe", { name: "Caf\u00e9 \u2615 build", base: "1.4.2", created: NOW - 5 * DAY }),
  profile("secret", { name: "Hidden lab", flags: ProfileFlag.HIDDEN, base: "1.4.2" }),
  profile("work", { name: "Work", base: "1.4.1", created: NOW - 300 * DAY, lastUsed: NOW - 7 * DAY }),
  profile("media", { name: "Media center", base: "1.4.2", created: NOW - 30 * DAY }),
];

async function menuWith(list = LIST, held: string[] = ["ok"]) {
  const m = await makeMcu();
  m.link.pushList(list, 1);
  m.mcu.powerOn(held);
  for (const k of held) m.mcu.keyUp(k);
  return m;
}

const STATES: Record<string, () => Promise<NodeMcu>> = {
  list: async () => (await menuWith()).mcu,
  "list-scrolled": async () => {
    const { mcu } = await menuWith();
    for (let i = 0; i < 7; i++) await mcu.press("down");
    return mcu;
  },
  details: async () => {
    const { mcu } = await menuWith();
    await mcu.press("down");
    await mcu.press("right");
    return mcu;
  },
  actions: async () => {
    const { mcu } = await menuWith();
    await mcu.press("down");
    await mcu.press("ok", 350);
    await mcu.press("down");
    return mcu;
  },
  countdown: async () => {
    const m = await makeMcu();
    m.link.pushList(LIST, 1);
    m.link.send(
      MessageType.SET_OPTIONS,
      encodeMenuOptions({ timeoutSeconds: 5, showMenu: ShowMenu.ON_KEY, maxTries: 3 }),
    );
    m.mcu.powerOn([]);
    m.mcu.advance(1800);
    return m.mcu;
  },
  "failed-profile": async () => {
    const m = await makeMcu();
    m.link.pushList(LIST, 1);
    for (let i = 0; i < 3; i++) m.mcu.powerOn([]);
    m.mcu.powerOn(["back"]);
    m.mcu.keyUp("back");
    return m.mcu;
  },
  "empty-list": async () => (await menuWith([])).mcu,
  recovery: async () => {
    const { mcu } = await menuWith(LIST.slice(0, 3));
    await mcu.press("up");
    return mcu;
  },
  "reset-confirm": async () => {
    const { mcu } = await menuWith();
    await mcu.press("ok", 350);
    await mcu.press("down");
    await mcu.press("down");
    await mcu.press("ok");
    mcu.keyDown("ok");
    mcu.advance(600);
    return mcu;
  },
  "protected-popup": async () => {
    const { mcu } = await menuWith();
    for (let i = 0; i < 3; i++) await mcu.press("down");
    await mcu.press("ok", 350);
    await mcu.press("down");
    await mcu.press("down");
    await mcu.press("ok");
    return mcu;
  },
  hidden: async () => (await menuWith(LIST, ["left", "up"])).mcu,
  booting: async () => {
    const { mcu } = await menuWith();
    await mcu.press("down");
    await mcu.press("ok");
    return mcu;
  },
};

function compare(name: string, fb: Framebuffer): { diff: number; first: string } {
  const file = join(GOLDEN, `mcu-${name}.png`);
  const png = fb.toPng();
  if (UPDATE || !existsSync(file)) {
    if (!UPDATE) throw new Error(`golden ${file} is missing: run with UPDATE_GOLDEN=1 and look at it`);
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, png);
  }
  const golden = Framebuffer.fromPng(readFileSync(file));
  let diff = 0;
  let first = "";
  for (let y = 0; y < fb.height; y++) {
    for (let x = 0; x < fb.width; x++) {
      if (golden.get(x, y) !== fb.get(x, y)) {
        if (diff === 0) first = `(${x},${y}) golden ${golden.get(x, y)} now ${fb.get(x, y)}`;
        diff++;
      }
    }
  }
  if (diff > 0) {
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, `mcu-${name}.png`), fb.toPng(3));
  }
  return { diff, first };
}

for (const [name, build] of Object.entries(STATES)) {
  test(`golden: ${name}`, async (t) => {
    const mcu = await build();
    const fb = mcu.frame();
    t.is(fb.width, 256);
    t.is(fb.height, 144);
    const { diff, first } = compare(name, fb);
    t.is(
      diff,
      0,
      `${diff} pixels differ from test/golden/mcu-${name}.png, first at ${first}; see test/output/`,
    );
    // The frame uses the gray levels it should (never out of 0..63).
    t.true(fb.pixels.every((g) => g <= 63));
  });
}

test("every state renders a different frame", async (t) => {
  const seen = new Map<string, string>();
  for (const [name, build] of Object.entries(STATES)) {
    const key = Buffer.from((await build()).frame().pixels).toString("base64");
    t.false(seen.has(key), `${name} looks like ${seen.get(key)}`);
    seen.set(key, name);
  }
});

test("rendering is deterministic and the same through renderPart as through render", async (t) => {
  const { mcu } = await menuWith();
  const a = new Framebuffer();
  const b = new Framebuffer();
  mcu.core.render(a);
  let part = 0;
  while (mcu.core.renderPart(b, part++));
  t.deepEqual(a.pixels, b.pixels);
  t.true(part >= 2);
});

test("long names are cut with an ellipsis; non-ASCII characters get a placeholder glyph", async (t) => {
  const { mcu } = await menuWith();
  const text = mcu.screenText();
  const long = text.find((l) => l.startsWith("Experimenta"))!;
  t.truthy(long);
  t.regex(long, /^Experimenta\.\.\. 1\.5\.0\.12 /);
  t.true(textWidth(fitText(LIST[4].name, FontId.BOLD, 100), FontId.BOLD) <= 100);
  t.true(text.some((l) => l.startsWith("Caf\u00e9 \u2615 build")));
  // The placeholder: a box, the same for every character the font lacks.
  const a = new Framebuffer(12, 8);
  const b = new Framebuffer(12, 8);
  const { drawText } = await import("../mcu/core/font");
  drawText(a, 0, 0, "\u00e9", FontId.SMALL, 0);
  drawText(b, 0, 0, "\u2615", FontId.SMALL, 0);
  t.deepEqual(a.pixels, b.pixels);
  t.true(a.pixels.some((g) => g === 0));
});

test("a full frame is a bounded number of fillRect calls (the VM's step budget)", async (t) => {
  const { mcu } = await menuWith();
  const fb = new Framebuffer();
  mcu.core.render(fb);
  t.true(fb.fillCalls < 3000, `${fb.fillCalls} fillRect calls`);
});

/** A framebuffer band like the DeviceScript adapter's: rows top .. top+h-1 of the screen. */
class Band extends Framebuffer {
  clipTop: number;
  clipBottom: number;
  constructor(
    readonly top: number,
    h: number,
  ) {
    super(256, h);
    this.clipTop = top;
    this.clipBottom = top + h;
  }
  override fillRect(x: number, y: number, w: number, h: number, gray: number): void {
    const y0 = Math.max(y, this.clipTop);
    const y1 = Math.min(y + h, this.clipBottom);
    if (y1 > y0) super.fillRect(x, y0 - this.top, w, y1 - y0, gray);
  }
}

test("drawn in 16-row bands, each state is pixel for pixel the full frame, with far fewer fills", async (t) => {
  for (const [name, build] of Object.entries(STATES)) {
    const mcu = await build();
    const full = new Framebuffer();
    mcu.core.render(full);
    let fills = 0;
    for (let top = 0; top < 144; top += 16) {
      const band = new Band(top, 16);
      mcu.core.render(band);
      fills += band.fillCalls;
      for (let y = 0; y < 16; y++) {
        for (let x = 0; x < 256; x++) {
          if (band.get(x, y) !== full.get(x, top + y)) {
            t.fail(
              `${name}: band at ${top} differs at (${x},${top + y}): band ${band.get(x, y)} frame ${full.get(x, top + y)}`,
            );
            return;
          }
        }
      }
    }
    t.true(
      fills < full.fillCalls * 2.5,
      `${name}: ${fills} fills in bands vs ${full.fillCalls} for the frame`,
    );
  }
});
