// The state chips, the MCU line and FlipCTL: the profile table with its per-row actions, create /
// clone, and the faults panel.
import { $, date, esc, page, setChip } from "./dom.js";
import { send } from "./link.js";

let prevPower = "off";
export function renderState(s) {
  page.state = s;
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
  const storeKind = s.store ? s.store.kind : "folder";
  const kind = $("store-kind");
  kind.textContent =
    storeKind === "guest" ? "guest's store" : storeKind === "btrfs" ? "btrfs store" : "folder store";
  kind.title =
    storeKind === "guest"
      ? s.store.why
      : storeKind === "btrfs"
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
        (storeKind !== "folder" ? '<button class="btn" data-act="reset">reset</button>' : "") +
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
      if (page.state) renderState(page.state);
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
  send({ type: "failNextBoot", clear: !!(page.state && page.state.failNext > 0) }),
);
$("uboot-at").addEventListener("change", () => send({ type: "ubootAt", at: $("uboot-at").value }));
$("btn-restart-mcu").addEventListener("click", () => send({ type: "restartMcu" }));
$("btn-mcu-absent").addEventListener("click", () =>
  send({ type: "mcuAbsent", absent: !(page.state && page.state.mcuAbsent) }),
);
$("btn-bridge").addEventListener("click", () =>
  send({ type: "bridge", run: !(page.state && page.state.bridge) }),
);
