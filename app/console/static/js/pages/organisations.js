// Organisations: administrators register them (the join code is shown to administrators),
// everyone who works here sees the list and an organisation's statistics.
import { card, fmtGrams, fmtInt, fmtTime, h, field, isoDay, table, put } from "../dom.js";
import { act, get, patch, post } from "../api.js";
import { confirmedButton } from "../confirm.js";
import { lineChart } from "../charts.js";
import { pagedTable } from "../paging.js";
import { t } from "../i18n.js";

export const KINDS = ["community", "park", "campus", "institution", "enterprise"];
const kindName = (kind) => t(`org.kind.${kind}`, {}, kind);

export async function organisationsPage(ctx) {
  if (ctx.args[0]) return organisationPage(ctx, ctx.args[0]);
  const { main } = ctx;
  put(main, h("h1", {}, t("nav.organisations")));
  if (ctx.canChange) put(main, createForm(ctx));
  // Administrators list every organisation, retired ones included; the others those that
  // accept members (the administrators' list carries join codes).
  const admin = ctx.canChange;
  const kind = h("select", { id: "org-kind-filter" }, h("option", { value: "" }, t("org.kind.any")), KINDS.map((k) => h("option", { value: k }, kindName(k))));
  const region = h("input", { type: "text", id: "org-region-filter", maxlength: 6, placeholder: "CN-SX", value: "" });
  const status = admin ? h("select", { id: "org-status-filter" }, ["", "true", "false"].map((v) => h("option", { value: v }, t(`status.filter.${v || "all"}`)))) : null;
  const out = h("div", {});
  const slot = h("div", { class: "slot" });
  const editor = h("section", { id: "org-editor" });
  const show = h("button", { type: "submit" }, t("audit.filter"));
  const load = async () => {
    const q = new URLSearchParams({ limit: "50" });
    if (kind.value) q.set("kind", kind.value);
    if (region.value.trim()) q.set("region", region.value.trim().toUpperCase());
    if (status?.value) q.set("active", status.value);
    const list = pagedTable({
      path: `${admin ? "/v1/admin/organisations" : "/v1/organisations"}?${q}`,
      id: "organisations-table",
      empty: t("org.none"),
      headers: [t("org.name"), t("org.kind"), t("rec.region"), { num: t("org.members") }, admin ? t("merchants.state") : null, t("merchants.created"), ""].filter((x) => x !== null),
      row: (o) => organisationRow(ctx, o, editor),
    });
    await list.load();
    editor.replaceChildren();
    out.replaceChildren(list.el);
  };
  put(main,
    h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); act(show, slot, load); } }, field(t("org.kind"), kind), field(t("rec.region"), region), status ? field(t("merchants.state"), status) : null, show),
    admin ? null : h("p", { class: "muted" }, t("org.list.active_only")),
    slot,
    editor,
    out,
  );
  await load();
}

/** A retired thing's badge: "retired" with the date; an active one's "active". */
export function retiredBadge(item) {
  return item.active
    ? h("span", { class: "badge ok" }, t("state.active"))
    : h("span", { class: "badge bad retired", title: fmtTime(item.retired_at) }, t("state.retired"));
}

function organisationRow(ctx, o, editor) {
  const slot = h("div", { class: "slot" });
  const admin = ctx.canChange;
  const actions = admin
    ? [
        h("button", { type: "button", class: "edit", onclick: () => openEditor(editor, renameForm(ctx, o)) }, t("org.rename")),
        confirmedButton({
          label: o.active ? t("org.retire") : t("org.reinstate"),
          confirmLabel: o.active ? t("org.retire.confirm") : t("org.reinstate.confirm"),
          className: o.active ? "retire" : "reinstate",
          question: o.active ? t("org.retire.question", { name: o.name }) : t("org.reinstate.question", { name: o.name }),
          slot,
          action: async () => {
            await patch(`/v1/admin/organisations/${encodeURIComponent(o.id)}`, { active: !o.active });
            ctx.navigate("organisations", o.active ? t("org.retired", { name: o.name }) : t("org.reinstated", { name: o.name }));
          },
        }),
      ]
    : null;
  return h(
    "tr",
    { "data-organisation": o.id, class: admin && !o.active ? "retired" : null },
    h("td", {}, o.name),
    h("td", {}, kindName(o.kind)),
    h("td", { class: "nowrap" }, o.region),
    h("td", { class: "num" }, fmtInt(o.member_count)),
    admin ? h("td", {}, retiredBadge(o)) : null,
    h("td", {}, fmtTime(o.created_at)),
    h("td", {}, h("div", { class: "row actions" }, h("a", { href: `#/organisations/${encodeURIComponent(o.id)}`, class: "open" }, t("org.open")), actions), slot),
  );
}

export function openEditor(editor, form) {
  editor.replaceChildren(form);
  editor.scrollIntoView({ block: "start" });
  form.querySelector("input")?.focus();
}

function renameForm(ctx, o) {
  const name = h("input", { type: "text", id: "org-rename", maxlength: 200, required: true, value: o.name });
  const slot = h("div", { class: "slot" });
  const button = h("button", { type: "submit", class: "primary", id: "org-rename-save" }, t("org.rename.save"));
  const cancel = h("button", { type: "button", class: "link", onclick: () => form.remove() }, t("confirm.cancel"));
  const form = h(
    "form",
    {
      class: "boxed",
      id: "org-rename-form",
      onsubmit: (e) => {
        e.preventDefault();
        act(button, slot, async () => {
          const done = await patch(`/v1/admin/organisations/${encodeURIComponent(o.id)}`, { name: name.value.trim() });
          ctx.navigate("organisations", t("org.renamed", { old: o.name, name: done.name }));
        });
      },
    },
    h("h2", {}, t("org.rename.title", { name: o.name })),
    h("div", { class: "row" }, field(t("org.name"), name), button, cancel),
    slot,
  );
  return form;
}

function createForm(ctx) {
  const name = h("input", { type: "text", id: "org-name", maxlength: 200, required: true });
  const kind = h("select", { id: "org-kind" }, KINDS.map((k) => h("option", { value: k }, kindName(k))));
  const region = h("input", { type: "text", id: "org-region", maxlength: 6, required: true, placeholder: "CN-SX", spellcheck: "false" });
  const slot = h("div", { class: "slot" });
  const button = h("button", { type: "submit", class: "primary", id: "org-create" }, t("org.create"));
  return h(
    "form",
    {
      class: "boxed",
      id: "org-form",
      onsubmit: (e) => {
        e.preventDefault();
        act(button, slot, async () => {
          const o = await post("/v1/admin/organisations", { name: name.value.trim(), kind: kind.value, region: region.value.trim().toUpperCase() });
          ctx.navigate(`organisations/${encodeURIComponent(o.id)}`, t("org.created", { name: o.name, code: o.join_code }));
        });
      },
    },
    h("h2", {}, t("org.new")),
    h("div", { class: "row" }, field(t("org.name"), name), field(t("org.kind"), kind), field(t("rec.region"), region, t("org.region.hint")), button),
    slot,
  );
}

/** One organisation: who it is, its join code (administrators), and its statistics. */
async function organisationPage(ctx, id) {
  const { main } = ctx;
  const from = h("input", { type: "date", id: "org-from", value: isoDay(-29) });
  const to = h("input", { type: "date", id: "org-to", value: isoDay(0) });
  const group = h("select", { id: "org-group" }, ["day", "month"].map((g) => h("option", { value: g }, t(`org.by.${g}`))));
  const show = h("button", { type: "submit", class: "primary", id: "org-stats-show" }, t("reports.show"));
  const slot = h("div", { class: "slot" });
  const out = h("div", { id: "org-stats" });
  const head = h("div", {});
  const stats = () => get(`/v1/organisations/${encodeURIComponent(id)}/stats?from=${from.value}&to=${to.value}&group_by=${group.value}`);
  const draw = (s) =>
    out.replaceChildren(
      h(
        "section",
        { class: "cards" },
        card(t("org.members"), fmtInt(s.member_count)),
        card(t("chart.records"), fmtInt(s.totals.records)),
        card(t("chart.reduction"), fmtGrams(s.totals.reduction_g)),
        card(t("chart.points"), fmtInt(s.totals.points)),
      ),
      s.totals.records
        ? lineChart({
            title: t("chart.reduction"),
            labels: s.periods.map((p) => (s.group_by === "day" ? p.period.slice(5) : p.period)),
            series: [{ name: t("chart.reduction"), values: s.periods.map((p) => p.reduction_g) }],
            format: fmtGrams,
          })
        : h("p", { class: "empty" }, t("org.stats.none")),
      table(
        [t("org.period"), { num: t("org.members") }, { num: t("chart.records") }, { num: t("chart.reduction") }, { num: t("chart.points") }, t("rec.type")],
        s.periods.filter((p) => p.records).map((p) =>
          h(
            "tr",
            {},
            h("td", {}, p.period),
            h("td", { class: "num" }, fmtInt(p.members)),
            h("td", { class: "num" }, fmtInt(p.records)),
            h("td", { class: "num" }, fmtGrams(p.reduction_g)),
            h("td", { class: "num" }, fmtInt(p.points)),
            h("td", {}, p.by_methodology.map((m) => `${m.code}: ${fmtGrams(m.reduction_g)}`).join(", ")),
          ),
        ),
        { id: "org-periods" },
      ),
    );
  // Administrators read the organisation with its join code; auditors its statistics only.
  const [org, first] = await Promise.all([ctx.canChange ? get(`/v1/admin/organisations/${encodeURIComponent(id)}`) : null, stats()]);
  const o = org || first.organisation;
  put(head,
    h("p", {}, h("a", { href: "#/organisations" }, `← ${t("nav.organisations")}`)),
    h("h1", {}, o.name),
    h(
      "dl",
      { class: "kv", id: "org-detail" },
      h("dt", {}, t("org.kind")), h("dd", {}, kindName(o.kind)),
      h("dt", {}, t("rec.region")), h("dd", {}, o.region),
      org ? [h("dt", {}, t("merchants.state")), h("dd", { id: "org-state" }, retiredBadge(org), org.retired_at ? ` ${fmtTime(org.retired_at)}` : null)] : null,
      org ? [h("dt", {}, t("org.join_code")), h("dd", {}, h("code", { id: "org-join-code", class: "secret-value" }, org.join_code), " ", h("span", { class: "muted" }, t("org.join_code.hint")))] : null,
      org ? [h("dt", {}, t("merchants.created")), h("dd", {}, fmtTime(org.created_at))] : null,
      h("dt", {}, t("org.id")), h("dd", {}, h("code", {}, o.id)),
    ),
  );
  put(main,
    head,
    h("h2", {}, t("org.stats")),
    h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); act(show, slot, async () => draw(await stats())); } }, field(t("range.from"), from), field(t("org.to"), to), field(t("reports.group"), group), show),
    slot,
    out,
  );
  draw(first);
}
