import { card, fmtInt, fmtTime, h, table, put } from "../dom.js";
import { act, get } from "../api.js";
import { t } from "../i18n.js";

export async function redemptionsPage({ main }) {
  put(main, h("h1", {}, t("nav.redemptions")));
  const first = await get("/v1/merchant/redemptions?limit=50");
  const totals = first.totals || {};
  const body = h("tbody", {});
  const more = h("button", { type: "button", hidden: !first.next_cursor }, t("audit.more"));
  const slot = h("div", { class: "slot" });
  let cursor = first.next_cursor;
  const add = (items) =>
    body.append(
      ...items.map((r) =>
        h("tr", {}, h("td", {}, fmtTime(r.created_at)), h("td", {}, r.incentive_title), h("td", {}, h("code", {}, r.code_hint)), h("td", { class: "num" }, fmtInt(r.points)), h("td", {}, h("span", { class: `badge status-${r.status}` }, t(`redemption.${r.status}`))), h("td", {}, fmtTime(r.resolved_at))),
      ),
    );
  add(first.items);
  more.addEventListener("click", () =>
    act(more, slot, async () => {
      const page = await get(`/v1/merchant/redemptions?limit=50&cursor=${encodeURIComponent(cursor)}`);
      add(page.items);
      cursor = page.next_cursor;
      more.hidden = !cursor;
    }),
  );
  put(main, 
    h(
      "section",
      { class: "cards" },
      ["issued", "fulfilled", "cancelled", "expired"].map((s) => card(t(`redemption.${s}`), fmtInt(totals[s] ?? 0))),
      card(t("redemptions.settled"), fmtInt(totals.points_settled ?? 0)),
    ),
    first.items.length ? null : h("p", { class: "empty" }, t("redemptions.empty")),
    table([t("redemptions.when"), t("inc.title"), t("till.code.hint"), t("till.points"), t("till.status"), t("till.resolved")], [], { id: "redemptions-table" }),
    more,
    slot,
  );
  main.querySelector("#redemptions-table tbody").replaceWith(body);
}
