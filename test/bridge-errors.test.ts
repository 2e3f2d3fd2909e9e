// The bridge's one error type and its code table (soc-bridge/errors.ts) against the exit codes the
// documents promise (soc-bridge/README.md, protocol/STORE.md), and the daemon's link state machine
// (soc-bridge/link-state.ts): the transitions it allows, what a failure means for the link's health
// and where the retry starts, and that a transition is logged with --verbose.
import { readFileSync } from "node:fs";
import path from "node:path";
import test from "ava";
import { BridgeError, ERROR_EXITS, errorCode, exitFor } from "../soc-bridge/errors";
import { LinkClosedError, LinkTimeoutError, McuError, VersionError } from "../soc-bridge/link";
import { type LinkState, LinkStateMachine, type SyncState, TRANSITIONS } from "../soc-bridge/link-state";
import { STORE_ERRORS, StoreError } from "../soc-bridge/store/errors";

const ROOT = path.resolve(import.meta.dirname, "..");

/** `| exit | code | meaning |` rows of a markdown table: code -> exit. */
function codeTable(file: string): Map<string, number> {
  const rows = new Map<string, number>();
  for (const m of readFileSync(path.join(ROOT, file), "utf8").matchAll(/^\| (\d+) +\| `([a-z-]+)` +\|/gm)) {
    rows.set(m[2], Number(m[1]));
  }
  return rows;
}

test("every store code's exit code is the one soc-bridge/README.md and protocol/STORE.md document", (t) => {
  for (const doc of ["soc-bridge/README.md", "protocol/STORE.md"]) {
    const rows = codeTable(doc);
    t.is(rows.size, Object.keys(STORE_ERRORS).length, doc);
    for (const [code, exit] of rows)
      t.is(ERROR_EXITS[code as keyof typeof ERROR_EXITS] as number, exit, doc + ": " + code);
  }
});

test("the link's exit codes are the README's: 1 refused, 2 usage, 3 not responding, 4 denied, 5 store, 6 version", (t) => {
  const readme = readFileSync(path.join(ROOT, "soc-bridge/README.md"), "utf8");
  const rows = new Map<number, string>();
  for (const m of readme.matchAll(/^\| (\d) +\| ([^|`]+?) +\|$/gm)) rows.set(Number(m[1]), m[2]);
  t.regex(rows.get(1) ?? "", /MCU refused/);
  t.regex(rows.get(3) ?? "", /not responding/);
  t.regex(rows.get(4) ?? "", /permission denied/);
  t.regex(rows.get(6) ?? "", /protocol version/);
  t.is(new McuError("refused", 0, 0, "").exit, 1);
  t.is(new BridgeError("usage", "bad").exit, 2);
  t.is(new LinkTimeoutError("silent").exit, 3);
  t.is(new LinkClosedError("closed").exit, 3);
  t.is(ERROR_EXITS.denied, 4);
  t.is(new BridgeError("limit", "too many").exit, 5);
  t.is(new VersionError("old").exit, 6);
  // One class: the store's errors are BridgeErrors, and any code a socket reply carries maps back.
  t.true(new StoreError("busy", "locked") instanceof BridgeError);
  t.is(exitFor(errorCode(new StoreError("in-use", "used"))), 17);
  t.is(errorCode(new Error("plain")), "internal");
  t.is(exitFor("a-code-from-a-newer-daemon"), 1);
});

function machine(verbose = false) {
  const lines: string[] = [];
  const health: LinkState[] = [];
  const m = new LinkStateMachine(
    (l) => lines.push(l),
    (h) => health.push(h),
    verbose,
  );
  return { m, lines, health };
}

test("link states: a transition the table does not allow throws; stopped is final", (t) => {
  const { m } = machine();
  t.is(m.state, "disconnected");
  t.throws(() => m.to("in-sync"), { message: /no transition from disconnected to in-sync/ });
  m.to("handshaking");
  m.handshaken();
  t.is(m.state, "syncing");
  m.to("in-sync");
  m.stop();
  t.is(m.state, "stopped");
  t.is(m.link, "stopped");
  for (const s of Object.keys(TRANSITIONS) as SyncState[]) {
    if (s !== "stopped") t.true(TRANSITIONS[s].includes("stopped"), s + " can stop");
  }
  t.deepEqual(TRANSITIONS.stopped, []);
});

test("link states: a silent MCU is reported once, retried from HELLO, and its return is said", (t) => {
  const { m, lines, health } = machine();
  m.to("handshaking");
  m.failed({ kind: "timeout", message: "MCU not responding: no reply to HELLO (seq 1) after 4 tries" }, true);
  t.is(m.state, "backoff");
  t.is(m.link, "not-responding");
  m.resume();
  t.is(m.state, "handshaking");
  m.failed({ kind: "timeout", message: "MCU not responding: no reply to HELLO (seq 5) after 4 tries" }, true);
  m.resume();
  m.handshaken();
  t.is(m.link, "ok");
  t.deepEqual(health, ["not-responding", "ok"]);
  t.deepEqual(lines, [
    "MCU not responding: no reply to HELLO (seq 1) after 4 tries; will keep trying",
    "MCU is responding again",
  ]);
});

test("link states: a store error retries the sync alone; a lost port starts again from opening it", (t) => {
  const { m } = machine();
  m.to("handshaking");
  m.handshaken();
  m.failed({ kind: "other", message: "profile store /x/@profiles does not exist" }, true);
  t.is(m.link, "ok");
  m.resume();
  t.is(m.state, "syncing");
  m.to("in-sync");
  m.portLost("lost the serial port /dev/ttyS4: gone");
  t.is(m.state, "disconnected");
  t.is(m.link, "error");
  t.regex(m.linkError, /lost the serial port/);
  m.to("handshaking");
  m.failed({ kind: "closed", message: "the link is closed" }, false);
  m.resume();
  t.is(m.state, "disconnected");
});

test("link states: an MCU restart while in sync (or syncing) goes back to HELLO; transitions are logged with --verbose", (t) => {
  const { m, lines } = machine(true);
  m.to("handshaking", "port open");
  m.handshaken();
  m.to("in-sync", "the MCU holds the store's list");
  m.rehandshake("MCU restarted");
  t.is(m.state, "handshaking");
  t.deepEqual(lines, [
    "state disconnected -> handshaking (port open)",
    "state handshaking -> syncing (HELLO answered)",
    "state syncing -> in-sync (the MCU holds the store's list)",
    "state in-sync -> handshaking (MCU restarted)",
  ]);
});
