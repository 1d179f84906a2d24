// Line and bar charts drawn as inline SVG: no chart library, nothing from another host.
// Colours come from the stylesheet (classes s0, s1 …), never from style attributes.
const NS = "http://www.w3.org/2000/svg";
const W = 720;
const H = 260;
const PAD = { left: 64, right: 16, top: 16, bottom: 44 };

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceMax(value, integer) {
  if (integer) return Math.max(4, Math.ceil(niceMax(value, false) / 4) * 4);
  if (value <= 0) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * exp >= value) return m * exp;
  return 10 * exp;
}

function frame(title, max, format) {
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title });
  svg.appendChild(s("title", {}, title));
  const plotH = H - PAD.top - PAD.bottom;
  for (let i = 0; i <= 4; i++) {
    const y = PAD.top + plotH - (plotH * i) / 4;
    svg.appendChild(s("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: "grid" }));
    svg.appendChild(s("text", { x: PAD.left - 6, y: y + 4, class: "tick", "text-anchor": "end" }, format((max * i) / 4)));
  }
  return svg;
}

function xLabels(svg, labels, xOf) {
  const every = Math.max(1, Math.ceil(labels.length / 8));
  const last = labels.length - 1;
  labels.forEach((label, i) => {
    // Every nth label and the last one, never two on top of each other.
    const shown = i === last || (i % every === 0 && last - i >= Math.ceil(every / 2));
    if (!shown) return;
    svg.appendChild(s("text", { x: xOf(i), y: H - PAD.bottom + 18, class: "tick", "text-anchor": "middle" }, label));
  });
}

function legend(series) {
  const box = document.createElement("div");
  box.className = "legend";
  series.forEach((one, i) => {
    const item = document.createElement("span");
    item.className = "legend-item";
    const swatch = document.createElement("span");
    swatch.className = `swatch s${one.colour ?? i}`;
    item.append(swatch, document.createTextNode(one.name));
    box.appendChild(item);
  });
  return box;
}

function wrap(svg, series, kind) {
  const figure = document.createElement("figure");
  figure.className = `chart-box ${kind}`;
  figure.append(svg, legend(series));
  return figure;
}

/** labels: x categories; series: [{name, values, colour?}]; integer: counts, whole ticks */
export function lineChart({ title, labels, series, format = String, integer = false }) {
  const max = niceMax(Math.max(0, ...series.flatMap((x) => x.values)), integer);
  const svg = frame(title, max, format);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const xOf = (i) => PAD.left + (labels.length <= 1 ? plotW / 2 : (plotW * i) / (labels.length - 1));
  const yOf = (v) => PAD.top + plotH - (plotH * v) / max;
  xLabels(svg, labels, xOf);
  series.forEach((one, k) => {
    const cls = `s${one.colour ?? k}`;
    const d = one.values.map((v, i) => `${i ? "L" : "M"}${xOf(i).toFixed(1)},${yOf(v).toFixed(1)}`).join(" ");
    svg.appendChild(s("path", { d, class: `line ${cls}` }));
    one.values.forEach((v, i) => {
      const dot = s("circle", { cx: xOf(i), cy: yOf(v), r: 3, class: `dot ${cls}` });
      dot.appendChild(s("title", {}, `${one.name} · ${labels[i]}: ${format(v)}`));
      svg.appendChild(dot);
    });
  });
  return wrap(svg, series, "line-chart");
}

/** Grouped bars: one group per label, one bar per series. */
export function barChart({ title, labels, series, format = String, integer = false }) {
  const max = niceMax(Math.max(0, ...series.flatMap((x) => x.values)), integer);
  const svg = frame(title, max, format);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const groupW = plotW / Math.max(1, labels.length);
  const barW = Math.max(2, (groupW * 0.7) / Math.max(1, series.length));
  const xOf = (i) => PAD.left + groupW * i + groupW / 2;
  xLabels(svg, labels, xOf);
  series.forEach((one, k) => {
    const cls = `s${one.colour ?? k}`;
    one.values.forEach((v, i) => {
      const height = (plotH * v) / max;
      const x = xOf(i) - (barW * series.length) / 2 + barW * k;
      const bar = s("rect", { x, y: PAD.top + plotH - height, width: barW, height: Math.max(0, height), class: `bar ${cls}` });
      bar.appendChild(s("title", {}, `${one.name} · ${labels[i]}: ${format(v)}`));
      svg.appendChild(bar);
    });
  });
  return wrap(svg, series, "bar-chart");
}
