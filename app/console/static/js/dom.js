// Small DOM helpers: elements are built with h(), never from HTML strings, so nothing the
// API returns is ever parsed as markup.
import { lang } from "./i18n.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Element.append, but null, undefined and false add nothing (and arrays are flattened). */
export function put(el, ...children) {
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

export function fmtInt(n) {
  if (n === null || n === undefined) return "—";
  return new Intl.NumberFormat(lang()).format(n);
}

/** Grams of CO2e in the largest readable unit. */
export function fmtGrams(g) {
  if (g === null || g === undefined) return "—";
  const abs = Math.abs(g);
  const nf = (v, d) => new Intl.NumberFormat(lang(), { maximumFractionDigits: d }).format(v);
  if (abs >= 1e6) return `${nf(g / 1e6, 2)} t`;
  if (abs >= 1e3) return `${nf(g / 1e3, 2)} kg`;
  return `${nf(g, 0)} g`;
}

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(lang(), { dateStyle: "medium", timeStyle: "short" }).format(d);
}

/** A local date (YYYY-MM-DD) n days from today. */
export function isoDay(offsetDays = 0) {
  const d = new Date();
  d.setDate(d.getDate() + offsetDays);
  const pad = (v) => String(v).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** A local date or datetime-local value as RFC 3339 with the browser's offset. */
export function toRfc3339(value) {
  const d = new Date(value.length === 10 ? `${value}T00:00:00` : value);
  const pad = (v) => String(Math.abs(v)).padStart(2, "0");
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    `${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`
  );
}

/** A column heading: text, or { num: text } for a column of numbers (aligned right). */
export function headerCell(x) {
  if (x && typeof x === "object" && !(x instanceof Node) && "num" in x) return h("th", { scope: "col", class: "num" }, x.num);
  return h("th", { scope: "col" }, x);
}

export function table(headers, rows, attrs = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      attrs,
      h("thead", {}, h("tr", {}, headers.map(headerCell))),
      h("tbody", {}, rows),
    ),
  );
}

export function field(label, input, hint) {
  return h("label", { class: "field" }, h("span", { class: "label" }, label), input, hint ? h("small", { class: "hint" }, hint) : null);
}

export function card(label, value, extra) {
  return h("div", { class: "card" }, h("div", { class: "card-label" }, label), h("div", { class: "card-value" }, value), extra ? h("div", { class: "card-extra" }, extra) : null);
}

export function jsonBlock(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}
