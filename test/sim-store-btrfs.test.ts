// The simulator's FlipCTL panel on a real btrfs store: the page's websocket actions (create, clone,
// rename, reset, delete) run the lifecycle commands on a btrfs image in the simulation folder, and
// the MCU's menu follows each change through the real bridge.
import test from "ava";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import type { NodeMcu } from "../mcu/node/mcu";
import { startServer } from "../sim/server";
import { subvolumes } from "./helpers/btrfs";

/** A page stand-in: sends one request over the websocket and waits for its result. */
async function pageClient(url: string) {
  const ws = new WebSocket(url.replace(/^http/, "ws") + "ws");
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  let rid = 0;
  const waiting = new Map<number, (r: { ok: boolean; error?: string }) => void>();
  let hello: Record<string, unknown> | null = null;
  ws.on("message", (data, binary) => {
    if (binary) return;
    const m = JSON.parse(String(data));
    if (m.type === "hello") hello = m.state;
    if (m.type === "result" && waiting.has(m.rid)) {
      waiting.get(m.rid)!(m);
      waiting.delete(m.rid);
    }
  });
  return {
    hello: () => hello,
    send(msg: Record<string, unknown>): Promise<{ ok: boolean; error?: string }> {
      const id = ++rid;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        ws.send(JSON.stringify({ ...msg, rid: id }));
      });
    },
    close: () => ws.close(),
  };
}

test("FlipCTL on a btrfs store: create, clone, rename, reset and delete run the lifecycle; the menu follows", async (t) => {
  const srv = await startServer({ port: 0, storeKind: "btrfs", debounceMs: 50 });
  t.teardown(() => srv.close());
  const sim = srv.sim;
  const top = sim.storeDir;
  const page = await pageClient(srv.url);
  t.teardown(() => page.close());
  const menu = () => (sim.mcu as NodeMcu).profiles().map((r) => r.id);
  const isSubvol = (id: string) => statSync(path.join(top, "@profiles", id)).ino === 256;

  const st = (await sim.snapshot()) as { store: { kind: string } };
  t.is(st.store.kind, "btrfs");
  // The example profiles were made by `profile create`: subvolumes with upper/ and work/.
  t.true(isSubvol("desktop"));
  t.deepEqual(readdirSync(path.join(top, "@profiles", "desktop")).sort(), ["profile.json", "upper", "work"]);
  t.deepEqual(menu(), ["desktop", "pentest", "router", "kiosk"]);

  let r = await page.send({ type: "create", profile: { id: "work", name: "Work", base: "1.2" } });
  t.true(r.ok, r.error);
  await sim.settled();
  t.true(isSubvol("work"));
  t.true(menu().includes("work"));

  r = await page.send({ type: "clone", from: "desktop", id: "lab", name: "Lab" });
  t.true(r.ok, r.error);
  await sim.settled();
  t.true(isSubvol("lab"));
  const lab = JSON.parse(readFileSync(path.join(top, "@profiles/lab/profile.json"), "utf8"));
  t.like(lab, { id: "lab", name: "Lab", origin: "desktop", kernelOptions: "quiet splash" });
  t.true(menu().includes("lab"));

  r = await page.send({ type: "rename", id: "lab", name: "Lab bench" });
  t.true(r.ok, r.error);
  await sim.settled();
  t.is((sim.mcu as NodeMcu).profiles().find((p) => p.id === "lab")?.name, "Lab bench");

  // Reset: what the upper held is gone, a snapshot keeps it; the menu entry stays.
  writeFileSync(path.join(top, "@profiles/lab/upper/changed-by-owner"), "x\n");
  r = await page.send({ type: "reset", id: "lab" });
  t.true(r.ok, r.error);
  t.deepEqual(readdirSync(path.join(top, "@profiles/lab/upper")), []);
  const snaps = readdirSync(path.join(top, "@snapshots/lab"));
  t.is(snaps.length, 1);
  t.true(subvolumes(top).readonly.includes("@snapshots/lab/" + snaps[0]));
  await sim.settled();
  t.true(menu().includes("lab"));

  // Delete: gone from @profiles and from the menu, a final snapshot kept.
  r = await page.send({ type: "delete", id: "work" });
  t.true(r.ok, r.error);
  await sim.settled();
  t.false(readdirSync(path.join(top, "@profiles")).includes("work"));
  t.false(menu().includes("work"));
  t.is(readdirSync(path.join(top, "@snapshots/work")).length, 1);

  // Refusals come back to the page as one message naming the value and the rule.
  r = await page.send({ type: "create", profile: { id: "x", name: "X", base: "9.9" } });
  t.false(r.ok);
  t.regex(String(r.error), /no base "9\.9"/);
  r = await page.send({ type: "clone", from: "desktop", id: "../evil", name: "E" });
  t.false(r.ok);
  t.regex(String(r.error), /must be 1 to 31 characters/);
  r = await page.send({ type: "clone", from: "desktop", id: "lab" });
  t.false(r.ok);
  t.regex(String(r.error), /exists/);
  t.deepEqual(readdirSync(path.join(top, ".flipper-tmp")), []);
});

test("FlipCTL on the folder store says so and refuses reset with the reason", async (t) => {
  const srv = await startServer({ port: 0, storeKind: "folder" });
  t.teardown(() => srv.close());
  const page = await pageClient(srv.url);
  t.teardown(() => page.close());
  const st = (await srv.sim.snapshot()) as { store: { kind: string; why: string } };
  t.is(st.store.kind, "folder");
  t.regex(st.store.why, /folder store was chosen/);
  const r = await page.send({ type: "reset", id: "desktop" });
  t.false(r.ok);
  t.regex(String(r.error), /reset needs the btrfs store/);
});
