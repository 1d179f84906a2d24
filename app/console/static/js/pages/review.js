import { fmtGrams, fmtTime, h, field, replace, put } from "../dom.js";
import { pagedTable } from "../paging.js";
import { act, get, post } from "../api.js";
import { t } from "../i18n.js";
import { reasonsText, recordDetail } from "./record-view.js";

export async function reviewPage(ctx) {
  const { main } = ctx;
  put(main, h("h1", {}, t("nav.review")));
  const panel = h("section", { class: "panel", id: "review-panel" });
  const intro = h("p", { class: "muted", id: "review-count" });
  const list = pagedTable({
    path: "/v1/admin/review?limit=50",
    id: "review-table",
    headers: [t("rec.received"), t("rec.type"), t("rec.region"), { num: t("chart.reduction") }, t("rec.reasons"), ""],
    row: (r) =>
      h(
        "tr",
        { "data-record": r.id },
        h("td", {}, fmtTime(r.received_at)),
        h("td", {}, r.type),
        h("td", {}, r.region || "—"),
        h("td", { class: "num" }, fmtGrams(r.reduction_g)),
        h("td", {}, reasonsText(r.reasons)),
        h("td", {}, h("button", { type: "button", class: "open", onclick: () => open(ctx, panel, r.id) }, ctx.canChange ? t("review.open") : t("review.view"))),
      ),
    onPage: ({ shown, more }) => intro.replaceChildren(more ? t("review.intro.more", { n: shown }) : t("review.intro", { n: shown })),
  });
  const first = await list.load();
  if (!first.items.length) {
    put(main, h("p", { class: "empty", id: "review-empty" }, t("review.empty")));
    return;
  }
  put(main, intro, list.el, panel);
}

async function open(ctx, panel, id) {
  const r = await get(`/v1/admin/events/${encodeURIComponent(id)}`);
  const slot = h("div", { class: "slot" });
  const note = h("textarea", { id: "decision-note", rows: 2, maxlength: 2000 });
  const approve = h("button", { type: "button", class: "primary", id: "approve" }, t("review.approve"));
  const reject = h("button", { type: "button", class: "danger", id: "reject" }, t("review.reject"));
  approve.addEventListener("click", () =>
    act(approve, slot, async () => {
      const done = await post(`/v1/admin/events/${encodeURIComponent(id)}/approve`, { note: note.value.trim() || null });
      ctx.navigate("review", t("review.approved", { points: done.points }));
    }),
  );
  reject.addEventListener("click", () =>
    act(reject, slot, async () => {
      await post(`/v1/admin/events/${encodeURIComponent(id)}/reject`, { reason: note.value.trim() });
      ctx.navigate("review", t("review.rejected"));
    }),
  );
  replace(panel,
    h("h2", {}, t("review.record")),
    recordDetail(r),
    ctx.canChange && r.status === "pending_review"
      ? h("div", { class: "decide" }, field(t("review.note"), note, t("review.note.hint")), h("div", { class: "row" }, approve, reject), slot)
      : null,
  );
  panel.scrollIntoView({ block: "start" });
}
