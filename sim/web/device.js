// The device: the screen canvas, its keys (keyboard, on-page buttons) and the power buttons.
import { $ } from "./dom.js";
import { send } from "./link.js";

const canvas = $("screen");
const ctx = canvas.getContext("2d");
const image = ctx.createImageData(256, 144);

export function drawScreen(px) {
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
