// The simulator page: ES modules served as files by sim/server.ts (no build step); one websocket.
import { renderBoot } from "./boot.js";
import { drawScreen } from "./device.js";
import { renderState } from "./flipctl.js";
import { connect } from "./link.js";
import { addLog, renderLinuxKind, setLog } from "./log.js";

function onMessage(m) {
  if (m.type === "hello") {
    setLog(m.logs);
    renderState(m.state);
    renderLinuxKind(m.state);
    if (m.boot) renderBoot(m.boot);
  } else if (m.type === "state") {
    renderState(m.state);
    renderLinuxKind(m.state);
  } else if (m.type === "log") addLog(m.log);
  else if (m.type === "boot") renderBoot(m.boot);
}

drawScreen(new Uint8Array(256 * 144));
connect({ frame: drawScreen, message: onMessage });
