// The one websocket to sim/server.ts: binary messages are screen frames, JSON ones state, logs,
// boots and the results of requests (matched by rid).
import { setChip, toast } from "./dom.js";

let ws = null;
let nextId = 1;
const pending = new Map();

/** Connects (and reconnects after a second when the link drops); `on` takes what arrives. */
export function connect(on) {
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.binaryType = "arraybuffer";
  ws.onopen = () => setChip("chip-ws", "connected", "ok");
  ws.onclose = () => {
    setChip("chip-ws", "disconnected", "bad");
    setTimeout(() => connect(on), 1000);
  };
  ws.onmessage = (ev) => {
    if (ev.data instanceof ArrayBuffer) {
      on.frame(new Uint8Array(ev.data));
      return;
    }
    const m = JSON.parse(ev.data);
    if (m.type === "result") {
      const p = pending.get(m.rid);
      pending.delete(m.rid);
      if (!m.ok) toast(m.error);
      if (p) p(m);
    } else on.message(m);
  };
}

export function send(msg) {
  return new Promise((resolve) => {
    if (!ws || ws.readyState !== 1) {
      toast("not connected to the simulator");
      resolve({ ok: false });
      return;
    }
    msg.rid = nextId++;
    pending.set(msg.rid, resolve);
    ws.send(JSON.stringify(msg));
  });
}
