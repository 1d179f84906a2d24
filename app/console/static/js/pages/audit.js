import { fmtTime, h, field, jsonBlock, table, toRfc3339, put } from "../dom.js";
import { act, get } from "../api.js";
import { t } from "../i18n.js";

export async function auditPage({ main }) {
  put(main, h("h1", {}, t("nav.audit")));
  const action = h("input", { type: "text", id: "audit-action", maxlength: 64, placeholder: "partner.rotated" });
  const target = h("input", { type: "text", id: "audit-target", maxlength: 80 });
  const from = h("input", { type: "date", id: "audit-from" });
  const to = h("input", { type: "date", id: "audit-to" });
  const show = h("button", { type: "submit", class: "primary" }, t("audit.filter"));
  const slot = h("div", { class: "slot" });
  const body = h("tbody", {});
  const more = h("button", { type: "button", hidden: true }, t("audit.more"));
  let cursor = null;
  const params = () => {
    const q = new URLSearchParams({ limit: "50" });
    if (action.value.trim()) q.set("action", action.value.trim());
    if (target.value.trim()) q.set("target_id", target.value.trim());
    if (from.value) q.set("from", toRfc3339(from.value));
    if (to.value) q.set("to", toRfc3339(to.value));
    if (cursor) q.set("cursor", cursor);
    return q;
  };
  const load = (button, reset) =>
    act(button, slot, async () => {
      if (reset) {
        cursor = null;
        body.replaceChildren();
      }
      const page = await get(`/v1/admin/audit?${params()}`);
      for (const e of page.items) {
        body.append(
          h(
            "tr",
            {},
            h("td", { class: "num" }, e.seq),
            h("td", {}, fmtTime(e.created_at)),
            h("td", {}, e.actor_role ? t(`role.${e.actor_role}`) : "—", h("br"), h("code", { class: "muted" }, e.actor_id || "")),
            h("td", {}, h("code", {}, e.action)),
            h("td", {}, e.target_type, h("br"), h("code", { class: "muted" }, e.target_id || "")),
            h("td", {}, e.before || e.after ? h("details", {}, h("summary", {}, t("audit.changes")), e.before ? [h("h4", {}, t("audit.before")), jsonBlock(e.before)] : null, e.after ? [h("h4", {}, t("audit.after")), jsonBlock(e.after)] : null) : "—"),
          ),
        );
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "empty" }, t("audit.empty"))));
    });
  more.addEventListener("click", () => load(more, false));
  put(main, 
    h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); load(show, true); } }, field(t("audit.action"), action), field(t("audit.target"), target), field(t("range.from"), from), field(t("range.to"), to), show),
    slot,
    h("div", { class: "table-wrap" }, h("table", { id: "audit-table" }, h("thead", {}, h("tr", {}, [t("audit.seq"), t("audit.when"), t("audit.actor"), t("audit.act"), t("audit.target"), ""].map((x) => h("th", { scope: "col" }, x)))), body)),
    more,
  );
  await load(show, true);
}
