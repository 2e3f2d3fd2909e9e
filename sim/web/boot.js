// The last boot: bootargs, U-Boot's console, the summary with its stage bar, the register block.
// The code-to-name tables come from protocol/ (names.js is made by sim/server.ts).
import { $, esc } from "./dom.js";
import { ACTION_NAMES, REASON_NAMES, STATUS_NAMES } from "./names.js";

/** FINAL, as the block's status byte says it. */
const FINAL = STATUS_NAMES.indexOf("final");

export function renderBoot(b) {
  const args = b.bootargs;
  $("bootargs").innerHTML =
    args === null
      ? '<span class="dim">bootargs unset: U-Boot did not choose a system</span>'
      : "bootargs=" +
        args
          .split(" ")
          .map((t) => (t.startsWith("flipper.") ? '<span class="k">' + esc(t) + "</span>" : esc(t)))
          .join(" ");
  const out = [];
  for (const line of b.console.split("\n")) {
    if (line.startsWith("=> ")) out.push('<span class="cmd">' + esc(line) + "</span>");
    else if (line.startsWith("bootargs=")) out.push('<span class="ba">' + esc(line) + "</span>");
    else if (line.startsWith("flipper:")) out.push('<span class="fl">' + esc(line) + "</span>");
    else out.push(esc(line));
  }
  const con = $("console");
  con.innerHTML = out.join("\n");
  const ba = con.querySelector(".ba");
  if (ba) ba.scrollIntoView({ block: "nearest" });
  else con.scrollTop = con.scrollHeight;
  const s = b.selection;
  const who = b.profile ? b.profile : "recovery";
  const cls = b.linux === "good" ? "good" : b.linux === "failed" ? "failed" : "";
  $("boot-summary").classList.remove("dim");
  $("boot-summary").innerHTML =
    "#" +
    b.n +
    "  " +
    esc(who) +
    (b.action && b.action !== "boot" ? " (" + esc(b.action) + ")" : "") +
    (s && s.status === FINAL
      ? "  seq " + s.sequence + ", try " + s.tryNumber + "/" + s.maxTries
      : b.blockHex === null
        ? "  MCU absent"
        : "") +
    "\n" +
    b.flipperLines.map(esc).join("\n") +
    '\nLinux: <span class="' +
    cls +
    '">' +
    esc(b.linuxMessage) +
    "</span>";
  const st = b.stages;
  const total = Math.max(1, st.decisionMs + st.ubootMs + st.linuxMs + st.syncMs);
  const part = (cls2, ms, label) =>
    '<div class="' +
    cls2 +
    '" style="flex:' +
    Math.max(ms, total / 100) +
    '" title="' +
    label +
    " " +
    ms +
    ' ms">' +
    (ms / total > 0.12 ? label + " " + ms + " ms" : "") +
    "</div>";
  $("stages").innerHTML =
    part("st-decision", st.decisionMs, "menu") +
    part("st-uboot", st.ubootMs, "U-Boot") +
    part("st-linux", st.linuxMs, "Linux") +
    part("st-sync", st.syncMs, "sync");
  renderBlock(b);
  let legend = $("legend");
  if (!legend) {
    legend = document.createElement("div");
    legend.id = "legend";
    legend.className = "legend";
    $("stages").after(legend);
  }
  legend.innerHTML =
    '<span><i class="st-decision"></i>menu ' +
    st.decisionMs +
    " ms</span>" +
    '<span><i class="st-uboot"></i>U-Boot ' +
    st.ubootMs +
    " ms" +
    (b.uboot.coldStartMs ? " (cold start " + b.uboot.coldStartMs + " ms)" : "") +
    (b.uboot.polls ? ", " + b.uboot.polls + " PENDING polls" : "") +
    "</span>" +
    '<span><i class="st-linux"></i>Linux ' +
    st.linuxMs +
    " ms</span>" +
    '<span><i class="st-sync"></i>sync ' +
    st.syncMs +
    " ms</span>";
}

function renderBlock(b) {
  const el = $("block");
  const env = Object.keys(b.savedEnv)
    .map((k) => esc(k + "=" + b.savedEnv[k]))
    .join(" ");
  if (b.blockHex === null) {
    el.innerHTML =
      '<div class="h">I2C 0x69: no MCU answered (the block was not there)</div><div class="dec">saved env: ' +
      (env || "(empty)") +
      "</div>";
    return;
  }
  const bytes = b.blockHex.match(/../g);
  const cls = (i) => (i < 4 ? "magic" : i < 12 ? "hdr" : i < 16 ? "seq" : i < 60 ? "id" : "crc");
  const rows = [];
  for (let r = 0; r < 4; r++) {
    let line = '<span class="off">' + (0x600 + r * 16).toString(16).padStart(4, "0") + "</span>";
    for (let i = r * 16; i < r * 16 + 16; i++)
      line += '<span class="' + cls(i) + '">' + bytes[i] + "</span>" + (i % 16 === 7 ? "  " : " ");
    rows.push(line);
  }
  const s = b.selection;
  const dec = s
    ? STATUS_NAMES[s.status].toUpperCase() +
      (s.status === FINAL
        ? " · " +
          ACTION_NAMES[s.action] +
          " · reason " +
          REASON_NAMES[s.reason] +
          " · flags 0x" +
          s.flags.toString(16) +
          " · try " +
          s.tryNumber +
          "/" +
          s.maxTries +
          " · seq " +
          s.sequence +
          " · id " +
          (s.profileId || "-") +
          " · base " +
          (s.base || "-")
        : "")
    : "invalid block";
  el.innerHTML =
    '<div class="h">register block, I2C 0x69 @ 0x0600 (64 bytes)</div>' +
    rows.join("\n").replace(/\n/g, "<br>") +
    '<div class="dec">' +
    esc(dec) +
    "</div>" +
    '<div class="dec">saved env: ' +
    (env || "(empty)") +
    "</div>";
}
