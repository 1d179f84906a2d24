import { fmtGrams, fmtInt, fmtTime, h, field, put } from "../dom.js";
import { pagedTable } from "../paging.js";
import { act, get, post } from "../api.js";
import { t } from "../i18n.js";
import { reasonsText, recordDetail, statusBadge } from "./record-view.js";

const STATUSES = ["credited", "pending_review", "rejected"];

export async function recordsPage(ctx) {
  const { main } = ctx;
  const byCitizen = ctx.args[0] === "citizen";
  const recordId = byCitizen ? "" : ctx.args[0] || "";
  const id = h("input", { type: "search", id: "record-id", name: "record_id", value: recordId, maxlength: 36, spellcheck: "false", autocomplete: "off" });
  const slot = h("div", { class: "slot" });
  const found = h("div", {});
  const lookup = h("button", { type: "submit", class: "primary", id: "lookup-record" }, t("records.lookup"));
  const userId = h("input", { type: "search", id: "citizen-id", name: "user_id", value: byCitizen ? ctx.args[1] || "" : "", maxlength: 36, spellcheck: "false", autocomplete: "off" });
  const status = h(
    "select",
    { id: "citizen-status" },
    h("option", { value: "" }, t("records.status.any")),
    STATUSES.map((v) => h("option", { value: v, selected: byCitizen && ctx.args[2] === v }, t(`status.${v}`))),
  );
  const listRecords = h("button", { type: "submit", id: "lookup-citizen" }, t("records.lookup"));
  put(main,
    h("h1", {}, t("nav.records")),
    h(
      "form",
      { class: "row", onsubmit: (e) => { e.preventDefault(); if (id.value.trim()) ctx.navigate(`records/${encodeURIComponent(id.value.trim())}`); } },
      field(t("rec.id"), id),
      lookup,
    ),
    h(
      "form",
      {
        class: "row",
        id: "citizen-form",
        onsubmit: (e) => {
          e.preventDefault();
          const who = userId.value.trim();
          if (who) ctx.navigate(["records", "citizen", who, status.value].filter(Boolean).map(encodeURIComponent).join("/"));
        },
      },
      field(t("records.by_citizen"), userId),
      field(t("rec.status"), status),
      listRecords,
    ),
    slot,
    found,
  );
  if (byCitizen) {
    if (ctx.args[1]) await citizenRecords(ctx, found, ctx.args[1], ctx.args[2]);
    return;
  }
  if (!recordId) return;
  const r = await act(lookup, slot, () => get(`/v1/admin/events/${encodeURIComponent(recordId)}`));
  if (!r) return;
  found.append(recordDetail(r));
  if (ctx.canChange && r.status === "credited" && !r.reversed_at) found.append(reverseForm(ctx, r));
}

/** One citizen's records, newest first, paged. */
async function citizenRecords(ctx, found, userId, status) {
  const q = new URLSearchParams({ user_id: userId, limit: "50" });
  if (status) q.set("status", status);
  const list = pagedTable({
    path: `/v1/admin/events?${q}`,
    id: "citizen-records",
    empty: t("records.none"),
    headers: [t("rec.received"), t("rec.occurred"), t("rec.type"), t("rec.status"), { num: t("chart.reduction") }, { num: t("chart.points") }, t("rec.reasons"), ""],
    row: (r) =>
      h(
        "tr",
        { "data-record": r.id },
        h("td", {}, fmtTime(r.received_at)),
        h("td", {}, fmtTime(r.occurred_at)),
        h("td", {}, r.type),
        h("td", {}, statusBadge(r.status), r.reversed_at ? h("span", { class: "badge status-reversed" }, t("rec.reversed")) : null),
        h("td", { class: "num" }, fmtGrams(r.reduction_g)),
        h("td", { class: "num" }, fmtInt(r.points)),
        h("td", {}, reasonsText(r.reasons)),
        h("td", {}, h("a", { href: `#/records/${encodeURIComponent(r.id)}` }, t("review.view"))),
      ),
  });
  await list.load();
  found.append(h("h2", {}, t("records.of_citizen"), " ", h("code", {}, userId)), list.el);
}

function reverseForm(ctx, r) {
  const reason = h("textarea", { id: "reverse-reason", rows: 2, maxlength: 2000, required: true });
  const slot = h("div", { class: "slot" });
  const start = h("button", { type: "button", class: "danger", id: "reverse" }, t("records.reverse"));
  const confirm = h("button", { type: "button", class: "danger", id: "reverse-confirm", hidden: true }, t("records.reverse.confirm"));
  start.addEventListener("click", () => {
    start.hidden = true;
    confirm.hidden = false;
    confirm.focus();
  });
  confirm.addEventListener("click", () =>
    act(confirm, slot, async () => {
      await post(`/v1/admin/events/${encodeURIComponent(r.id)}/reverse`, { reason: reason.value.trim() });
      ctx.navigate(`records/${encodeURIComponent(r.id)}`, t("records.reversed"));
    }),
  );
  return h("section", { class: "danger-zone" }, h("h3", {}, t("records.reverse.title")), h("p", { class: "muted" }, t("records.reverse.intro")), field(t("records.reverse.reason"), reason), h("div", { class: "row" }, start, confirm), slot);
}
