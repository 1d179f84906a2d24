// The till, made for a phone: type or paste the code, check what it is for, settle it.
import { fmtInt, fmtTime, h, put } from "../dom.js";
import { act, post } from "../api.js";
import { t } from "../i18n.js";

/** XXXX-XXXX-XXXX as typed: letters upper-cased, separators the API accepts kept. */
function tidy(value) {
  return value.toUpperCase().replace(/\s+/g, "");
}

export async function tillPage(ctx) {
  const { main } = ctx;
  const code = h("input", { type: "text", id: "till-code", name: "code", inputmode: "text", autocapitalize: "characters", autocomplete: "off", spellcheck: "false", maxlength: 32, placeholder: "XXXX-XXXX-XXXX", required: true, "aria-label": t("till.code") });
  const lookup = h("button", { type: "submit", class: "primary big", id: "till-lookup" }, t("till.lookup"));
  const slot = h("div", { class: "slot", id: "till-message" });
  const result = h("div", { id: "till-result" });
  put(main, 
    h("h1", {}, t("nav.till")),
    h(
      "form",
      {
        class: "till",
        onsubmit: (e) => {
          e.preventDefault();
          result.replaceChildren();
          act(lookup, slot, async () => {
            const r = await post("/v1/merchant/redemptions/lookup", { code: tidy(code.value) });
            result.replaceChildren(found(ctx, r, tidy(code.value), slot));
          });
        },
      },
      h("label", { class: "field" }, h("span", { class: "label" }, t("till.code")), code),
      lookup,
    ),
    slot,
    result,
  );
  code.focus();
}

function found(ctx, r, code, slot) {
  const settle = h("button", { type: "button", class: "primary big", id: "till-settle" }, t("till.settle", { points: fmtInt(r.points) }));
  settle.addEventListener("click", () =>
    act(settle, slot, async () => {
      const done = await post("/v1/merchant/redemptions/verify", { code });
      settle.remove();
      slot.replaceChildren(h("div", { class: "notice ok big", role: "status", id: "till-settled" }, t("till.settled", { title: done.incentive_title || r.incentive_title, points: fmtInt(done.points ?? r.points) })));
    }),
  );
  return h(
    "article",
    { class: `till-card ${r.usable ? "usable" : "unusable"}` },
    h("h2", {}, r.incentive_title),
    h(
      "dl",
      { class: "kv" },
      h("dt", {}, t("till.points")),
      h("dd", { class: "big-number" }, fmtInt(r.points)),
      h("dt", {}, t("till.status")),
      h("dd", {}, h("span", { class: `badge status-${r.status}` }, t(`redemption.${r.status}`))),
      h("dt", {}, t("till.code.hint")),
      h("dd", {}, h("code", {}, r.code_hint)),
      h("dt", {}, t("till.expires")),
      h("dd", {}, fmtTime(r.expires_at)),
      r.resolved_at ? [h("dt", {}, t("till.resolved")), h("dd", {}, fmtTime(r.resolved_at))] : null,
    ),
    r.usable && ctx.canChange ? settle : h("p", { class: "notice warn" }, t("till.unusable")),
  );
}
