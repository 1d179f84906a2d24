import { fmtInt, fmtTime, h, field, table, toRfc3339, put } from "../dom.js";
import { act, get, patch, post } from "../api.js";
import { t } from "../i18n.js";

const intOrNull = (input) => (input.value.trim() === "" ? null : Number(input.value));
const timeOrNull = (input) => (input.value ? toRfc3339(input.value) : null);
const localInput = (iso) => {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (v) => String(v).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

export async function incentivesPage(ctx) {
  const { main } = ctx;
  put(main, h("h1", {}, t("nav.incentives")));
  const page = await get("/v1/merchant/incentives?limit=200");
  const editor = h("section", { id: "incentive-editor" });
  if (ctx.canChange) editor.append(incentiveForm(ctx, null));
  put(main, 
    table(
      [t("inc.title"), t("inc.cost"), t("inc.stock"), t("inc.issued"), t("inc.valid"), t("merchants.state"), ""],
      page.items.map((i) => row(ctx, editor, i)),
      { id: "incentives-table" },
    ),
    editor,
  );
}

function row(ctx, editor, i) {
  const slot = h("div", { class: "slot" });
  let buttons = null;
  if (ctx.canChange) {
    const pause = h("button", { type: "button" }, i.paused ? t("inc.resume") : t("inc.pause"));
    pause.addEventListener("click", () =>
      act(pause, slot, async () => {
        await patch(`/v1/merchant/incentives/${encodeURIComponent(i.id)}`, { paused: !i.paused });
        ctx.navigate("incentives", i.paused ? t("inc.resumed", { title: i.title }) : t("inc.paused", { title: i.title }));
      }),
    );
    const edit = h("button", { type: "button", onclick: () => { editor.replaceChildren(incentiveForm(ctx, i)); editor.scrollIntoView({ block: "start" }); } }, t("inc.edit"));
    buttons = h("div", { class: "row" }, edit, pause);
  }
  const state = i.paused ? t("inc.state.paused") : i.active ? t("state.active") : t("state.inactive");
  return h(
    "tr",
    { "data-incentive": i.id },
    h("td", {}, i.title, i.description ? h("div", { class: "muted" }, i.description) : null),
    h("td", { class: "num" }, fmtInt(i.points_cost)),
    h("td", { class: "num" }, i.stock === null ? t("inc.unlimited") : fmtInt(i.stock)),
    h("td", { class: "num" }, fmtInt(i.issued)),
    h("td", {}, `${fmtTime(i.valid_from)} – ${fmtTime(i.valid_until)}`),
    h("td", {}, h("span", { class: i.active && !i.paused ? "badge ok" : "badge" }, state)),
    h("td", {}, buttons, slot),
  );
}

/** Create (existing = null) or edit an incentive: the merchant's own, or, with `merchant`,
 *  one an administrator publishes in that merchant's name. */
export function incentiveForm(ctx, existing, merchant = null) {
  const e = existing || {};
  const title = h("input", { type: "text", id: "inc-title", maxlength: 200, required: true, value: e.title || "" });
  const description = h("textarea", { id: "inc-description", rows: 2, maxlength: 4000 }, e.description || "");
  const cost = h("input", { type: "number", id: "inc-cost", min: 1, step: 1, required: !existing, disabled: Boolean(existing), value: e.points_cost ?? "" });
  const stock = h("input", { type: "number", id: "inc-stock", min: 0, step: 1, value: e.stock ?? "" });
  const limit = h("input", { type: "number", id: "inc-limit", min: 1, step: 1, value: e.per_user_limit ?? "" });
  const from = h("input", { type: "datetime-local", id: "inc-from", value: localInput(e.valid_from) });
  const until = h("input", { type: "datetime-local", id: "inc-until", value: localInput(e.valid_until) });
  const ttl = h("input", { type: "number", id: "inc-ttl", min: 1, max: 365, step: 1, disabled: Boolean(existing), value: e.code_ttl_days ?? 30 });
  const slot = h("div", { class: "slot" });
  const button = h("button", { type: "submit", class: "primary", id: "inc-save" }, existing ? t("inc.save") : t("inc.create"));
  return h(
    "form",
    {
      class: "boxed",
      id: merchant ? "merchant-incentive" : null,
      onsubmit: (ev) => {
        ev.preventDefault();
        act(button, slot, async () => {
          const common = { title: title.value.trim(), description: description.value.trim() || null, stock: intOrNull(stock), per_user_limit: intOrNull(limit), valid_from: timeOrNull(from), valid_until: timeOrNull(until) };
          if (existing) {
            await patch(`/v1/merchant/incentives/${encodeURIComponent(existing.id)}`, common);
            ctx.navigate("incentives", t("inc.saved", { title: common.title }));
          } else if (merchant) {
            await post(`/v1/admin/merchants/${encodeURIComponent(merchant.id)}/incentives`, { ...common, points_cost: intOrNull(cost), code_ttl_days: intOrNull(ttl) ?? 30 });
            ctx.navigate("merchants", t("merchants.incentive.created", { title: common.title, name: merchant.name }));
          } else {
            await post("/v1/merchant/incentives", { ...common, points_cost: intOrNull(cost), code_ttl_days: intOrNull(ttl) ?? 30 });
            ctx.navigate("incentives", t("inc.created", { title: common.title }));
          }
        });
      },
    },
    h("h2", {}, existing ? t("inc.editing", { title: existing.title }) : merchant ? t("merchants.incentive.title", { name: merchant.name }) : t("inc.new")),
    h(
      "div",
      { class: "form-grid" },
      field(t("inc.title"), title),
      field(t("inc.description"), description),
      field(t("inc.cost"), cost),
      field(t("inc.stock"), stock, t("inc.stock.hint")),
      field(t("inc.limit"), limit, t("inc.limit.hint")),
      field(t("inc.from"), from),
      field(t("inc.until"), until),
      field(t("inc.ttl"), ttl),
    ),
    button,
    slot,
  );
}
