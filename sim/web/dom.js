// Small DOM helpers shared by the page's modules, and the page's shared state.

export const $ = (id) => document.getElementById(id);

/** The last state the server sent (null until the first). */
export const page = { state: null };

export function setChip(id, text, cls) {
  const c = $(id);
  c.textContent = text;
  c.className = "chip" + (cls ? " " + cls : "");
}
export function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}
export function date(sec) {
  if (!sec) return "never";
  const d = new Date(sec * 1000);
  return d.toISOString().slice(0, 16).replace("T", " ");
}

let toastTimer = null;
export function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove("show"), 4000);
}
