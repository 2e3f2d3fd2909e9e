// The log pane: the simulator's lines (bridge, MCU, U-Boot, Linux, sim), bridge-only or Linux-only
// on demand, and which Linux runs (the stand-in, or the real one whose console the "linux" lines are).
import { $, esc } from "./dom.js";
import { send } from "./link.js";

const logLines = [];

/** Replaces the lines (the server's hello). */
export function setLog(lines) {
  logLines.length = 0;
  for (const l of lines) logLines.push(l);
  renderLog();
}

/** Adds one line (the page keeps the last 1000). */
export function addLog(line) {
  logLines.push(line);
  if (logLines.length > 1000) logLines.splice(0, logLines.length - 1000);
  renderLog();
}

/** The tag beside the log's title: the stand-in, or the real Linux and its state. */
export function renderLinuxKind(s) {
  const el = $("linux-kind");
  const real = s.realLinux;
  el.textContent = real ? "real Linux: " + real.state : "stand-in Linux";
  el.title = real
    ? "the test image's Debian under QEMU; FlipCTL's actions run flipper-boot in it" +
      (real.booted && real.booted.profile ? " (booted " + real.booted.profile + ")" : "")
    : "a simulated Linux that marks boots good at once";
  const sw = $("linux-switch");
  sw.dataset.kind = real ? "standin" : "real";
  sw.textContent = real ? "use stand-in" : "use real Linux";
  sw.title =
    (real
      ? "the quick stand-in Linux"
      : "the test image's Debian under QEMU (built on first use, minutes; then tens of seconds per power-on)") +
    ": starts a new simulation (MCU, store and U-Boot environment afresh)";
}

$("linux-switch").addEventListener("click", async () => {
  const sw = $("linux-switch");
  sw.disabled = true;
  sw.textContent = "restarting…";
  await send({ type: "linux", kind: sw.dataset.kind });
  sw.disabled = false;
});

function renderLog() {
  const only = $("log-bridge-only").checked;
  const linuxOnly = $("log-linux-only").checked;
  const el = $("log");
  const atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - 20;
  el.innerHTML = logLines
    .filter((l) => (!only || l.source === "bridge") && (!linuxOnly || l.source === "linux"))
    .slice(-400)
    .map(
      (l) =>
        '<span class="t">' +
        (l.t / 1000).toFixed(1).padStart(6) +
        '</span><span class="src s-' +
        l.source +
        '">' +
        l.source +
        "</span>" +
        esc(l.line),
    )
    .join("\n");
  if (atEnd) el.scrollTop = el.scrollHeight;
}
$("log-bridge-only").addEventListener("change", renderLog);
$("log-linux-only").addEventListener("change", renderLog);
