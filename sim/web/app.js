// The simulator page: plain JS, no build step. Talks to sim/server.ts over one websocket.

const $ = (id) => document.getElementById(id);
const canvas = $("screen");
const ctx = canvas.getContext("2d");
const image = ctx.createImageData(256, 144);
let state = null;
let ws = null;
let nextId = 1;
const pending = new Map();
const logLines = [];

// ---- websocket ------------------------------------------------------------------------------
function connect() {
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.binaryType = "arraybuffer";
  ws.onopen = () => setChip("chip-ws", "connected", "ok");
  ws.onclose = () => {
    setChip("chip-ws", "disconnected", "bad");
    setTimeout(connect, 1000);
  };
  ws.onmessage = (ev) => {
    if (ev.data instanceof ArrayBuffer) {
      drawScreen(new Uint8Array(ev.data));
      return;
    }
    const m = JSON.parse(ev.data);
    if (m.type === "hello") {
      logLines.length = 0;
      for (const l of m.logs) logLines.push(l);
      renderLog();
      renderState(m.state);
      if (m.boot) renderBoot(m.boot);
    } else if (m.type === "state") renderState(m.state);
    else if (m.type === "log") {
      logLines.push(m.log);
      if (logLines.length > 1000) logLines.splice(0, logLines.length - 1000);
      renderLog();
    } else if (m.type === "boot") renderBoot(m.boot);
    else if (m.type === "result") {
      const p = pending.get(m.rid);
      pending.delete(m.rid);
      if (!m.ok) toast(m.error);
      if (p) p(m);
    }
  };
}

function send(msg) {
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

// ---- screen ---------------------------------------------------------------------------------
function drawScreen(px) {
  const d = image.data;
  for (let i = 0; i < px.length && i < 256 * 144; i++) {
    const g = Math.round((px[i] * 255) / 63);
    d[i * 4] = g;
    d[i * 4 + 1] = g;
    d[i * 4 + 2] = g;
    d[i * 4 + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

// ---- keys -----------------------------------------------------------------------------------
const KEYMAP = {
  ArrowUp: "up",
  ArrowDown: "down",
  ArrowLeft: "left",
  ArrowRight: "right",
  Enter: "ok",
  Backspace: "back",
  Escape: "back",
};
const down = new Set();

function keyDown(key) {
  if (down.has(key)) return;
  down.add(key);
  const b = document.querySelector('.key[data-key="' + key + '"]');
  if (b) b.classList.add("down");
  send({ type: "key", key, down: true });
}
function keyUp(key) {
  if (!down.has(key)) return;
  down.delete(key);
  const b = document.querySelector('.key[data-key="' + key + '"]');
  if (b) b.classList.remove("down");
  send({ type: "key", key, down: false });
}
function typing(ev) {
  const t = ev.target;
  return t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA");
}
document.addEventListener("keydown", (ev) => {
  if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const k = KEYMAP[ev.key];
  if (k) {
    ev.preventDefault();
    keyDown(k);
  } else if (ev.key === "p" || ev.key === "P") {
    ev.preventDefault();
    if (!ev.repeat) power();
  } else if (ev.key === "o" || ev.key === "O") {
    ev.preventDefault();
    if (!ev.repeat) send({ type: "power", on: false });
  }
});
document.addEventListener("keyup", (ev) => {
  const k = KEYMAP[ev.key];
  if (k) {
    ev.preventDefault();
    keyUp(k);
  }
});
window.addEventListener("blur", () => {
  for (const k of [...down]) keyUp(k);
});
for (const b of document.querySelectorAll(".key[data-key]")) {
  const key = b.dataset.key;
  b.addEventListener("pointerdown", (ev) => {
    ev.preventDefault();
    b.setPointerCapture(ev.pointerId);
    keyDown(key);
  });
  b.addEventListener("pointerup", () => keyUp(key));
  b.addEventListener("pointercancel", () => keyUp(key));
}
function power() {
  const b = $("btn-power");
  b.classList.add("down");
  setTimeout(() => b.classList.remove("down"), 120);
  return send({ type: "power", on: true });
}
$("btn-power").addEventListener("click", power);
$("btn-off").addEventListener("click", () => send({ type: "power", on: false }));

// ---- state ----------------------------------------------------------------------------------
function setChip(id, text, cls) {
  const c = $(id);
  c.textContent = text;
  c.className = "chip" + (cls ? " " + cls : "");
}
function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}
function date(sec) {
  if (!sec) return "never";
  const d = new Date(sec * 1000);
  return d.toISOString().slice(0, 16).replace("T", " ");
}

let prevPower = "off";
function renderState(s) {
  state = s;
  if (s.power === "booting" && prevPower !== "booting") {
    $("bootargs").innerHTML =
      '<span class="dim">U-Boot is running boot.scr… (the first boot starts QEMU: ~8 s)</span>';
  }
  prevPower = s.power;
  const powerCls = { off: "", menu: "on", booting: "warn", running: "ok", failed: "bad" }[s.power];
  setChip(
    "chip-power",
    "power: " + s.power + (s.screen && s.power !== "off" ? " · " + s.screen : ""),
    powerCls,
  );
  $("led").classList.toggle("on", s.power !== "off");
  if (s.mcuAbsent) setChip("chip-mcu", "MCU: absent", "bad");
  else if (s.mcu)
    setChip(
      "chip-mcu",
      (s.mcuKind === "vm" ? "MCU (VM)" : "MCU") +
        ": gen " +
        s.mcu.generation +
        " · " +
        s.mcu.profileCount +
        " profiles",
      "ok",
    );
  else setChip("chip-mcu", "MCU: -", "");
  const b = s.bridge;
  if (!b) setChip("chip-bridge", "bridge: stopped", "bad");
  else
    setChip(
      "chip-bridge",
      "bridge: " + b.link + (b.inSync ? " · in sync" : " · syncing"),
      b.link === "ok" ? (b.inSync ? "ok" : "warn") : "bad",
    );
  if (document.activeElement !== $("uboot-at")) $("uboot-at").value = s.ubootAt;
  $("btn-mcu-absent").textContent = s.mcuAbsent ? "insert MCU" : "remove MCU";
  $("btn-bridge").textContent = b ? "stop bridge" : "start bridge";
  const fail = $("btn-fail");
  fail.textContent = s.failNext > 0 ? "next boot fails (" + s.failNext + ") ✕" : "fail next boot";
  fail.classList.toggle("active", s.failNext > 0);

  const m = s.mcu;
  const line = $("mcu-line");
  if (m) {
    line.innerHTML =
      "MCU: default <b>" +
      esc(m.default || "-") +
      "</b> · next <b>" +
      esc(m.next ? m.next.id + (m.next.action !== "boot" ? " (" + m.next.action + ")" : "") : "-") +
      "</b> · last good <b>" +
      esc(m.lastGood || "-") +
      "</b> · menu <b>" +
      (m.options.show === "always" ? "always" : "on key") +
      ", " +
      m.options.timeoutSeconds +
      " s</b>";
    if (document.activeElement !== $("opt-timeout")) $("opt-timeout").value = m.options.timeoutSeconds;
    $("opt-always").checked = m.options.show === "always";
  } else line.textContent = s.mcuAbsent ? "MCU absent" : "";

  const tries = new Map();
  if (m) for (const t of m.tries) tries.set(t.id, t);
  const tbody = $("profiles");
  const rows = [];
  const btrfs = !!(s.store && s.store.kind === "btrfs");
  const kind = $("store-kind");
  kind.textContent = btrfs ? "btrfs store" : "folder store";
  kind.title = btrfs
    ? "a real btrfs image: create, clone, reset and delete run the lifecycle commands"
    : "plain folders of profile.json: " + ((s.store && s.store.why) || "");
  for (const p of s.profiles) {
    const tags = [];
    if (m && m.default === p.id) tags.push('<span class="tag default">default</span>');
    if (m && m.default === "last-used" && m.lastBoot && m.lastBoot.id === p.id)
      tags.push('<span class="tag default">last used</span>');
    if (m && m.next && m.next.id === p.id)
      tags.push('<span class="tag next">next: ' + esc(m.next.action) + "</span>");
    if (m && m.lastGood === p.id) tags.push('<span class="tag good">last good</span>');
    const t = tries.get(p.id);
    if (t && t.failed) tags.push('<span class="tag failed">FAILED</span>');
    else if (t && t.tries > 0) tags.push('<span class="tag failed">tries ' + t.tries + "</span>");
    if (p.hidden) tags.push('<span class="tag">hidden</span>');
    if (p.protected) tags.push('<span class="tag">protected</span>');
    rows.push(
      '<tr data-id="' +
        esc(p.id) +
        '">' +
        '<td><span class="pname">' +
        esc(p.name) +
        '</span><span class="pid">' +
        esc(p.id) +
        "</span></td>" +
        '<td class="mono">' +
        esc(p.base) +
        "</td>" +
        '<td class="mono">' +
        esc(date(p.lastUsed)) +
        "</td>" +
        "<td>" +
        tags.join("") +
        "</td>" +
        '<td><div class="actions">' +
        '<button class="btn" data-act="default">default</button>' +
        '<button class="btn" data-act="next">next boot</button>' +
        '<button class="btn" data-act="rename">rename</button>' +
        '<button class="btn" data-act="hide">' +
        (p.hidden ? "show" : "hide") +
        "</button>" +
        (btrfs ? '<button class="btn" data-act="reset">reset</button>' : "") +
        '<button class="btn danger" data-act="delete">delete</button>' +
        "</div></td></tr>",
    );
  }
  const html = rows.join("");
  if (tbody.dataset.html !== html && !tbody.querySelector("input")) {
    tbody.innerHTML = html;
    tbody.dataset.html = html;
  }
  const sk = $("skipped");
  sk.innerHTML = s.skipped.map((x) => "<div>skipped: " + esc(x) + "</div>").join("");
  const from = $("new-from");
  const opts =
    '<option value="">new profile</option>' +
    s.profiles.map((p) => '<option value="' + esc(p.id) + '">clone of ' + esc(p.name) + "</option>").join("");
  if (from.dataset.html !== opts) {
    const v = from.value;
    from.innerHTML = opts;
    from.dataset.html = opts;
    from.value = v;
  }
}

$("profiles").addEventListener("click", async (ev) => {
  const b = ev.target.closest("button[data-act]");
  if (!b) return;
  const id = b.closest("tr").dataset.id;
  const act = b.dataset.act;
  if (act === "default") send({ type: "setDefault", target: id });
  else if (act === "next") send({ type: "setNext", id });
  else if (act === "hide") send({ type: "hide", id, hidden: b.textContent === "hide" });
  else if (act === "reset") send({ type: "reset", id });
  else if (act === "delete") {
    if (!b.classList.contains("armed")) {
      b.classList.add("armed");
      b.textContent = "sure?";
      setTimeout(() => {
        b.classList.remove("armed");
        b.textContent = "delete";
      }, 2500);
      return;
    }
    send({ type: "delete", id });
  } else if (act === "rename") {
    const cell = b.closest("tr").querySelector(".pname");
    const input = document.createElement("input");
    input.value = cell.textContent;
    input.size = 14;
    cell.replaceWith(input);
    input.focus();
    input.select();
    let finished = false;
    const done = (save) => {
      if (finished) return;
      finished = true;
      if (save && input.value !== "") send({ type: "rename", id, name: input.value });
      $("profiles").dataset.html = "";
      input.remove();
      if (state) renderState(state);
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") done(true);
      if (e.key === "Escape") done(false);
    });
    input.addEventListener("blur", () => done(true));
  }
});

$("create-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const id = $("new-id").value.trim();
  const name = $("new-name").value.trim();
  const from = $("new-from").value;
  const r = from
    ? await send({ type: "clone", from, id, name })
    : await send({
        type: "create",
        profile: { id, name, base: $("new-base").value.trim(), created: Math.floor(Date.now() / 1000) },
      });
  if (r.ok) {
    $("new-id").value = "";
    $("new-name").value = "";
  }
});
$("btn-last-used").addEventListener("click", () => send({ type: "setDefault", target: "last-used" }));
$("btn-clear-next").addEventListener("click", () => send({ type: "setNext", id: "" }));
$("btn-options").addEventListener("click", () =>
  send({
    type: "setOptions",
    options: { timeoutSeconds: Number($("opt-timeout").value), showMenu: $("opt-always").checked ? 1 : 0 },
  }),
);
$("btn-fail").addEventListener("click", () =>
  send({ type: "failNextBoot", clear: !!(state && state.failNext > 0) }),
);
$("uboot-at").addEventListener("change", () => send({ type: "ubootAt", at: $("uboot-at").value }));
$("btn-restart-mcu").addEventListener("click", () => send({ type: "restartMcu" }));
$("btn-mcu-absent").addEventListener("click", () =>
  send({ type: "mcuAbsent", absent: !(state && state.mcuAbsent) }),
);
$("btn-bridge").addEventListener("click", () => send({ type: "bridge", run: !(state && state.bridge) }));

// ---- boot, console, log ----------------------------------------------------------------------
function renderBoot(b) {
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
    (s && s.status === 2
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

const STATUS = ["EMPTY", "PENDING", "FINAL"];
const ACTIONS = ["", "boot", "recovery", "reset"];
const REASONS = ["", "default", "last-used", "user", "one-shot", "fallback"];

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
    ? STATUS[s.status] +
      (s.status === 2
        ? " · " +
          ACTIONS[s.action] +
          " · reason " +
          REASONS[s.reason] +
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

function renderLog() {
  const only = $("log-bridge-only").checked;
  const el = $("log");
  const atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - 20;
  el.innerHTML = logLines
    .filter((l) => !only || l.source === "bridge")
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

let toastTimer = null;
function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove("show"), 4000);
}

drawScreen(new Uint8Array(256 * 144));
connect();
