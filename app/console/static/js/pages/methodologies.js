import { fmtGrams, fmtInt, fmtTime, h, field, isoDay, table, toRfc3339, put } from "../dom.js";
import { act, get, post } from "../api.js";
import { barChart, lineChart } from "../charts.js";
import { t } from "../i18n.js";

export async function methodologiesPage(ctx) {
  if (ctx.args[0]) return methodologyPage(ctx, ctx.args[0]);
  const { main } = ctx;
  put(main, h("h1", {}, t("nav.methodologies")));
  const list = await get("/v1/methodologies");
  put(main, 
    table(
      [t("meth.code"), t("meth.name"), t("meth.unit"), t("meth.version"), t("meth.effective")],
      list.items.map((m) =>
        h(
          "tr",
          {},
          h("td", {}, h("a", { href: `#/methodologies/${encodeURIComponent(m.code)}` }, m.code)),
          h("td", {}, m.name),
          h("td", {}, m.unit),
          h("td", { class: "num" }, m.version ?? "—"),
          h("td", {}, fmtTime(m.effective_from)),
        ),
      ),
    ),
  );
}

/** What the form needs to know of one parameter from the JSON Schema. */
function kindOf(spec) {
  const types = (spec.anyOf || [spec]).map((x) => x.type).filter(Boolean);
  if (types.includes("number")) return { kind: "number", nullable: types.includes("null"), bounds: spec.anyOf?.find((x) => x.type === "number") || spec };
  if (types.includes("integer")) return { kind: "integer", nullable: types.includes("null"), bounds: spec.anyOf?.find((x) => x.type === "integer") || spec };
  if (types.includes("boolean")) return { kind: "boolean" };
  if (types.length === 1 && types[0] === "string") return { kind: "string", nullable: false };
  return { kind: "json" };
}

function boundsHint(bounds) {
  const parts = [];
  if (bounds.minimum !== undefined) parts.push(`≥ ${bounds.minimum}`);
  if (bounds.exclusiveMinimum !== undefined) parts.push(`> ${bounds.exclusiveMinimum}`);
  if (bounds.maximum !== undefined) parts.push(`≤ ${bounds.maximum}`);
  return parts.join(", ");
}

/** A form generated from the parameter schema, filled with the values in force. */
function paramsForm(schema, values) {
  const inputs = [];
  const fields = Object.entries(schema.properties || {}).map(([name, spec]) => {
    const k = kindOf(spec);
    const value = values[name];
    let input;
    if (k.kind === "boolean") input = h("input", { type: "checkbox", name, checked: Boolean(value) });
    else if (k.kind === "json") input = h("textarea", { name, rows: 3, spellcheck: "false" }, JSON.stringify(value ?? {}, null, 1));
    else input = h("input", { type: "text", name, inputmode: k.kind === "string" ? "text" : "decimal", value: value === null || value === undefined ? "" : String(value) });
    input.id = `param-${name}`;
    inputs.push([name, k, input]);
    const hint = [spec.description, k.bounds ? boundsHint(k.bounds) : "", k.nullable ? t("meth.blank.none") : ""].filter(Boolean).join(" · ");
    return field(`${spec.title || name} (${name})`, input, hint);
  });
  const read = () => {
    const out = {};
    for (const [name, k, input] of inputs) {
      const raw = k.kind === "boolean" ? input.checked : input.value.trim();
      if (k.kind === "boolean") out[name] = raw;
      else if (k.kind === "json") {
        try {
          out[name] = JSON.parse(raw || "{}");
        } catch {
          throw new FormError(t("meth.json.bad", { name }));
        }
      } else if (raw === "" && k.nullable) out[name] = null;
      else if (k.kind === "integer" && /^-?\d+$/.test(raw)) out[name] = Number(raw);
      else out[name] = raw; // decimals travel as strings, exactly as typed
    }
    return out;
  };
  return { fields, read };
}

class FormError extends Error {
  constructor(message) {
    super(message);
    this.problem = { title: t("meth.form.bad"), detail: message };
  }
}

async function methodologyPage(ctx, code) {
  const { main } = ctx;
  const [m, versions] = await Promise.all([
    get(`/v1/methodologies/${encodeURIComponent(code)}`),
    get(`/v1/admin/methodologies/${encodeURIComponent(code)}/versions`),
  ]);
  put(main, 
    h("p", {}, h("a", { href: "#/methodologies" }, `← ${t("nav.methodologies")}`)),
    h("h1", {}, `${m.name} `, h("code", {}, m.code)),
    h("p", { class: "muted" }, t("meth.inforce", { v: m.version, when: fmtTime(m.effective_from) }), " · ", h("code", { class: "hash" }, m.params_hash)),
    h("h2", {}, t("meth.params")),
    table(
      [t("meth.param"), t("meth.value"), t("meth.source")],
      Object.entries(m.params_schema.properties || {}).map(([name, spec]) =>
        h("tr", {}, h("td", {}, spec.title || name, h("br"), h("code", { class: "muted" }, name)), h("td", { class: "num" }, typeof m.params[name] === "object" && m.params[name] !== null ? JSON.stringify(m.params[name]) : String(m.params[name] ?? "—")), h("td", { class: "source" }, spec.description || "—")),
      ),
    ),
    h("h2", {}, t("meth.versions")),
    table(
      [t("meth.version"), t("meth.effective"), t("meth.note"), t("meth.created")],
      versions.items.map((v) =>
        h("tr", { class: new Date(v.effective_from) > new Date() ? "scheduled" : null }, h("td", { class: "num" }, v.version), h("td", {}, fmtTime(v.effective_from), new Date(v.effective_from) > new Date() ? h("span", { class: "badge" }, t("meth.scheduled")) : null), h("td", {}, v.note || "—"), h("td", {}, fmtTime(v.created_at))),
      ),
      { id: "versions" },
    ),
  );
  if (!ctx.canChange) return;
  put(main, draftSection(ctx, m));
}

function draftSection(ctx, m) {
  const form = paramsForm(m.params_schema, m.params);
  const from = h("input", { type: "date", name: "from", value: isoDay(-30) });
  const to = h("input", { type: "date", name: "to", value: isoDay(1) });
  const result = h("div", { id: "simulation" });
  const slot = h("div", { class: "slot" });
  const simulate = h("button", { type: "button", class: "primary", id: "simulate" }, t("meth.simulate"));
  const effective = h("input", { type: "datetime-local", name: "effective_from", id: "effective-from", value: `${isoDay(1)}T00:00` });
  const note = h("input", { type: "text", name: "note", id: "version-note", maxlength: 2000 });
  const schedule = h("button", { type: "button", class: "primary", id: "schedule" }, t("meth.schedule"));
  const scheduleSlot = h("div", { class: "slot" });

  simulate.addEventListener("click", () =>
    act(simulate, slot, async () => {
      const params = form.read();
      const sim = await post(`/v1/admin/methodologies/${encodeURIComponent(m.code)}/simulate`, { params, from: toRfc3339(from.value), to: toRfc3339(to.value) });
      result.replaceChildren(simulation(sim));
    }),
  );
  schedule.addEventListener("click", () =>
    act(schedule, scheduleSlot, async () => {
      const params = form.read();
      const v = await post(`/v1/admin/methodologies/${encodeURIComponent(m.code)}/versions`, { params, effective_from: toRfc3339(effective.value), note: note.value.trim() || null });
      ctx.navigate(`methodologies/${encodeURIComponent(m.code)}`, t("meth.scheduled.ok", { v: v.version, when: fmtTime(v.effective_from) }));
    }),
  );
  return h(
    "section",
    { class: "draft" },
    h("h2", {}, t("meth.draft")),
    h("p", { class: "muted" }, t("meth.draft.intro")),
    h("div", { class: "form-grid", id: "params-form" }, form.fields),
    h("h3", {}, t("meth.simulate.title")),
    h("div", { class: "row" }, field(t("range.from"), from), field(t("range.to"), to), simulate),
    slot,
    result,
    h("h3", {}, t("meth.schedule.title")),
    h("div", { class: "row" }, field(t("meth.effective"), effective), field(t("meth.note"), note), schedule),
    scheduleSlot,
  );
}

function simulation(sim) {
  const row = (label, key, fmt) =>
    h("tr", {}, h("th", { scope: "row" }, label), h("td", { class: "num" }, fmt(sim.current[key])), h("td", { class: "num" }, fmt(sim.proposed[key])), h("td", { class: "num delta" }, fmt(sim.proposed[key] - sim.current[key])));
  const days = sim.by_day || [];
  const regions = sim.by_region || [];
  return h(
    "div",
    { class: "sim" },
    h("p", {}, t("meth.sim.records", { n: fmtInt(sim.records) })),
    table([" ", t("sim.current"), t("sim.proposed"), t("sim.delta")], [
      row(t("chart.reduction"), "reduction_g", fmtGrams),
      row(t("chart.points"), "points", fmtInt),
      row(t("status.credited"), "credited", fmtInt),
      row(t("status.rejected"), "rejected", fmtInt),
      row(t("status.pending_review"), "pending_review", fmtInt),
      row(t("sim.cap_hits"), "cap_hits", fmtInt),
    ], { id: "sim-totals" }),
    h("h4", {}, t("sim.by_day")),
    lineChart({
      title: t("sim.by_day"),
      labels: days.map((d) => d.day.slice(5)),
      series: [
        { name: t("sim.current"), values: days.map((d) => d.current.points) },
        { name: t("sim.proposed"), values: days.map((d) => d.proposed.points) },
      ],
      format: fmtInt,
    }),
    h("h4", {}, t("sim.by_region")),
    barChart({
      title: t("sim.by_region"),
      labels: regions.map((r) => r.region || t("sim.no_region")),
      series: [
        { name: t("sim.current"), values: regions.map((r) => r.current.points) },
        { name: t("sim.proposed"), values: regions.map((r) => r.proposed.points) },
      ],
      format: fmtInt,
    }),
    h("h4", {}, t("sim.top")),
    sim.top_changes.length
      ? table(
          [t("rec.id"), t("rec.occurred"), t("sim.current"), t("sim.proposed")],
          sim.top_changes.map((c) =>
            h("tr", {}, h("td", {}, h("a", { href: `#/records/${c.record_id}` }, c.record_id.slice(0, 8))), h("td", {}, fmtTime(c.occurred_at)), h("td", { class: "num" }, `${fmtInt(c.current_points)} · ${fmtGrams(c.current_reduction_g)}`), h("td", { class: "num" }, `${fmtInt(c.proposed_points)} · ${fmtGrams(c.proposed_reduction_g)}`)),
          ),
        )
      : h("p", { class: "muted" }, t("sim.no_changes")),
  );
}
