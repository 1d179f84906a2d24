// Verified-reduction batches: administrators issue one over a range (one serial per whole
// tonne), then retire it for a beneficiary or transfer it to a holder, once. Everyone here
// can read a batch and download its export for a registry.
import { fmtGrams, fmtInt, fmtTime, h, field, isoDay, table, toRfc3339, put } from "../dom.js";
import { act, download, get, post } from "../api.js";
import { pagedTable } from "../paging.js";
import { t } from "../i18n.js";

const STATUSES = ["issued", "retired", "transferred"];

function statusBadge(status) {
  return h("span", { class: `badge batch-${status}` }, t(`batch.status.${status}`, {}, status));
}

export async function batchesPage(ctx) {
  if (ctx.args[0]) return batchPage(ctx, ctx.args[0]);
  const { main } = ctx;
  put(main, h("h1", {}, t("nav.batches")));
  if (ctx.canChange) put(main, issueForm(ctx, (await get("/v1/methodologies")).items));
  const status = h("select", { id: "batch-status-filter" }, h("option", { value: "" }, t("records.status.any")), STATUSES.map((s) => h("option", { value: s }, t(`batch.status.${s}`))));
  const show = h("button", { type: "submit" }, t("audit.filter"));
  const slot = h("div", { class: "slot" });
  const out = h("div", {});
  const load = async () => {
    const q = new URLSearchParams({ limit: "50" });
    if (status.value) q.set("status", status.value);
    const list = pagedTable({
      path: `/v1/admin/batches?${q}`,
      id: "batches-table",
      empty: t("batch.none"),
      headers: [t("batch.serials"), { num: t("batch.tonnes") }, { num: t("chart.records") }, t("batch.scope"), t("rec.status"), t("batch.issued_at"), ""],
      row: (b) =>
        h(
          "tr",
          { "data-batch": b.id },
          h("td", {}, serials(b)),
          h("td", { class: "num" }, fmtInt(b.tonnes)),
          h("td", { class: "num" }, fmtInt(b.records)),
          h("td", {}, scope(b)),
          h("td", {}, statusBadge(b.status), b.beneficiary || b.holder ? h("div", { class: "muted" }, b.beneficiary || b.holder) : null),
          h("td", {}, fmtTime(b.issued_at)),
          h("td", {}, h("a", { href: `#/batches/${encodeURIComponent(b.id)}`, class: "open" }, t("org.open"))),
        ),
    });
    await list.load();
    out.replaceChildren(list.el);
  };
  put(main, h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); act(show, slot, load); } }, field(t("rec.status"), status), show), slot, out);
  await load();
}

/** The batch's serials: one, or the first and the last. */
function serials(b) {
  const one = (serial) => h("code", { class: "serial" }, serial);
  return h("span", {}, one(b.serial_from), b.serial_to !== b.serial_from ? [" – ", one(b.serial_to)] : null);
}

function scope(b) {
  return [b.methodology || t("batch.all_methodologies"), b.region || t("batch.all_regions"), `${fmtTime(b.from)} – ${fmtTime(b.to)}`].join(" · ");
}

function issueForm(ctx, methodologies) {
  const year = new Date().getFullYear();
  const from = h("input", { type: "date", id: "batch-from", required: true, value: `${year}-01-01` });
  const to = h("input", { type: "date", id: "batch-to", required: true, value: isoDay(1) });
  const methodology = h("select", { id: "batch-methodology" }, h("option", { value: "" }, t("batch.all_methodologies")), methodologies.map((m) => h("option", { value: m.code }, `${m.name} (${m.code})`)));
  const region = h("input", { type: "text", id: "batch-region", maxlength: 6, placeholder: "CN-GD", spellcheck: "false" });
  const note = h("textarea", { id: "batch-note", rows: 2, maxlength: 2000, required: true });
  const slot = h("div", { class: "slot" });
  const button = h("button", { type: "submit", class: "primary", id: "batch-issue" }, t("batch.issue"));
  return h(
    "form",
    {
      class: "boxed",
      id: "batch-form",
      onsubmit: (e) => {
        e.preventDefault();
        act(button, slot, async () => {
          const b = await post("/v1/admin/batches", {
            from: toRfc3339(from.value),
            to: toRfc3339(to.value),
            methodology: methodology.value || null,
            region: region.value.trim().toUpperCase() || null,
            note: note.value.trim(),
          });
          ctx.navigate(`batches/${encodeURIComponent(b.id)}`, t("batch.issued", { tonnes: fmtInt(b.tonnes), from: b.serial_from, to: b.serial_to }));
        });
      },
    },
    h("h2", {}, t("batch.new")),
    h("p", { class: "muted" }, t("batch.new.intro")),
    h("div", { class: "row" }, field(t("range.from"), from), field(t("range.to"), to), field(t("rec.type"), methodology), field(t("rec.region"), region, t("batch.region.hint"))),
    field(t("batch.note"), note),
    button,
    slot,
  );
}

async function batchPage(ctx, id) {
  const { main } = ctx;
  const b = await get(`/v1/admin/batches/${encodeURIComponent(id)}`);
  const slot = h("div", { class: "slot" });
  const json = h("button", { type: "button", id: "batch-export-json" }, t("batch.export.json"));
  const csv = h("button", { type: "button", id: "batch-export-csv" }, t("reports.csv"));
  json.addEventListener("click", () => act(json, slot, () => download(`/v1/admin/batches/${encodeURIComponent(b.id)}/export`, "application/json", `batch-${b.id}.json`)));
  csv.addEventListener("click", () => act(csv, slot, () => download(`/v1/admin/batches/${encodeURIComponent(b.id)}/export`, "text/csv", `batch-${b.id}.csv`)));
  const rows = [
    [t("rec.status"), h("span", { id: "batch-status" }, statusBadge(b.status))],
    [t("batch.serials"), serials(b)],
    [t("batch.tonnes"), fmtInt(b.tonnes)],
    [t("chart.reduction"), fmtGrams(b.reduction_g)],
    [t("chart.records"), fmtInt(b.records)],
    [t("batch.carried_in"), fmtGrams(b.carried_in_g)],
    [t("batch.carried_out"), fmtGrams(b.carried_out_g)],
    [t("batch.buffer"), fmtGrams(b.buffer_deduction_g)],
    [t("batch.scope"), scope(b)],
    [t("batch.vintage"), String(b.vintage)],
    [t("batch.note"), b.note || "—"],
    [t("batch.issued_at"), fmtTime(b.issued_at)],
    b.beneficiary ? [t("batch.beneficiary"), b.beneficiary] : null,
    b.holder ? [t("batch.holder"), b.holder] : null,
    b.final_at ? [t("batch.final_at"), fmtTime(b.final_at)] : null,
    [t("batch.hash"), h("code", { class: "hash" }, b.hash)],
    [t("batch.public"), h("a", { href: `/v1/public/batches/${encodeURIComponent(b.serial_from)}`, target: "_blank", rel: "noopener" }, t("batch.public.link"))],
  ].filter(Boolean);
  put(main,
    h("p", {}, h("a", { href: "#/batches" }, `← ${t("nav.batches")}`)),
    h("h1", {}, t("batch.title", { from: b.serial_from })),
    h("dl", { class: "kv", id: "batch-detail" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("h3", {}, t("batch.versions")),
    table(
      [t("rec.type"), { num: t("meth.version") }, t("rec.params_hash"), { num: t("chart.records") }],
      b.versions.map((v) => h("tr", {}, h("td", {}, v.methodology), h("td", { class: "num" }, v.version), h("td", {}, h("code", { class: "hash" }, v.params_hash)), h("td", { class: "num" }, fmtInt(v.records)))),
    ),
    h("div", { class: "row" }, json, csv),
    slot,
  );
  if (ctx.canChange && b.status === "issued") put(main, finalForms(ctx, b));
}

/** Retire (claimed as an offset) or transfer (sold): either, once. */
function finalForms(ctx, b) {
  const form = (kind, partyLabel, partyField) => {
    const party = h("input", { type: "text", id: `${kind}-party`, maxlength: 200, required: true });
    const note = h("textarea", { id: `${kind}-note`, rows: 2, maxlength: 2000, required: true });
    const slot = h("div", { class: "slot" });
    const button = h("button", { type: "submit", class: "danger", id: `batch-${kind}` }, t(`batch.${kind}`));
    return h(
      "form",
      {
        class: "danger-zone",
        id: `${kind}-form`,
        onsubmit: (e) => {
          e.preventDefault();
          act(button, slot, async () => {
            await post(`/v1/admin/batches/${encodeURIComponent(b.id)}/${kind}`, { [partyField]: party.value.trim(), note: note.value.trim() });
            ctx.navigate(`batches/${encodeURIComponent(b.id)}`, t(`batch.${kind}.done`, { party: party.value.trim() }));
          });
        },
      },
      h("h3", {}, t(`batch.${kind}.title`)),
      h("p", { class: "muted" }, t(`batch.${kind}.intro`)),
      field(partyLabel, party),
      field(t("batch.note"), note),
      button,
      slot,
    );
  };
  return h("div", { class: "form-grid", id: "batch-final" }, form("retire", t("batch.beneficiary"), "beneficiary"), form("transfer", t("batch.holder"), "to"));
}
