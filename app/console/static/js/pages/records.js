import { h, field, put } from "../dom.js";
import { act, get, post } from "../api.js";
import { t } from "../i18n.js";
import { recordDetail } from "./record-view.js";

export async function recordsPage(ctx) {
  const { main } = ctx;
  const id = h("input", { type: "search", id: "record-id", name: "record_id", value: ctx.args[0] || "", maxlength: 36, spellcheck: "false", autocomplete: "off" });
  const slot = h("div", { class: "slot" });
  const found = h("div", {});
  const lookup = h("button", { type: "submit", class: "primary", id: "lookup-record" }, t("records.lookup"));
  put(main, 
    h("h1", {}, t("nav.records")),
    h(
      "form",
      { class: "row", onsubmit: (e) => { e.preventDefault(); if (id.value.trim()) ctx.navigate(`records/${encodeURIComponent(id.value.trim())}`); } },
      field(t("rec.id"), id),
      lookup,
    ),
    slot,
    found,
  );
  if (!ctx.args[0]) return;
  const r = await act(lookup, slot, () => get(`/v1/admin/events/${encodeURIComponent(ctx.args[0])}`));
  if (!r) return;
  found.append(recordDetail(r));
  if (ctx.canChange && r.status === "credited" && !r.reversed_at) found.append(reverseForm(ctx, r));
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
