import { fmtTime, h, field, table, put } from "../dom.js";
import { act, get, patch, post } from "../api.js";
import { t } from "../i18n.js";

export async function partnersPage(ctx) {
  const { main } = ctx;
  put(main, h("h1", {}, t("nav.partners")));
  const [partners, methodologies] = await Promise.all([get("/v1/admin/partners"), get("/v1/methodologies")]);
  if (ctx.canChange) put(main, createPartner(ctx, methodologies.items));
  put(main, 
    table(
      [t("partners.name"), t("partners.key"), t("partners.types"), t("merchants.state"), t("partners.rotated"), ""],
      partners.items.map((p) => partnerRow(ctx, p)),
      { id: "partners-table" },
    ),
  );
}

/** The secret, shown once at the top of the refreshed list. */
function secretNotice(p, rotated) {
  return h(
      "div",
      { class: "notice secret", role: "alert" },
      h("strong", {}, t("partners.secret.title", { name: p.name })),
      h("p", {}, t("partners.secret.once"), rotated ? ` ${t("partners.secret.old")}` : null),
      h("dl", { class: "kv" }, h("dt", {}, t("partners.key")), h("dd", {}, h("code", {}, p.key_id)), h("dt", {}, t("partners.secret")), h("dd", {}, h("code", { id: "partner-secret", class: "secret-value" }, p.secret))),
  );
}

function partnerRow(ctx, p) {
  const slot = h("div", { class: "slot" });
  let buttons = null;
  if (ctx.canChange) {
    const toggle = h("button", { type: "button", class: p.is_active ? "danger" : "" }, p.is_active ? t("partners.deactivate") : t("partners.activate"));
    const rotate = h("button", { type: "button" }, t("partners.rotate"));
    toggle.addEventListener("click", () =>
      act(toggle, slot, async () => {
        await patch(`/v1/admin/partners/${encodeURIComponent(p.id)}`, { active: !p.is_active });
        ctx.navigate("partners", p.is_active ? t("partners.deactivated", { name: p.name }) : t("partners.activated", { name: p.name }));
      }),
    );
    rotate.addEventListener("click", () =>
      act(rotate, slot, async () => {
        ctx.navigate("partners", secretNotice(await post(`/v1/admin/partners/${encodeURIComponent(p.id)}/rotate`), true));
      }),
    );
    buttons = h("div", { class: "row" }, toggle, rotate);
  }
  return h(
    "tr",
    { "data-partner": p.id },
    h("td", {}, p.name),
    h("td", {}, h("code", {}, p.key_id)),
    h("td", {}, p.allowed_types.join(", ")),
    h("td", {}, h("span", { class: p.is_active ? "badge ok" : "badge bad" }, p.is_active ? t("state.active") : t("state.inactive"))),
    h("td", {}, fmtTime(p.secret_rotated_at || p.created_at)),
    h("td", {}, buttons, slot),
  );
}

function createPartner(ctx, methodologies) {
  const name = h("input", { type: "text", id: "partner-name", maxlength: 200, required: true });
  const boxes = methodologies.map((m) => h("label", { class: "check" }, h("input", { type: "checkbox", value: m.code }), ` ${m.name} (${m.code})`));
  const confirmation = h("select", { id: "partner-link" }, ["partner", "none"].map((v) => h("option", { value: v }, t(`partners.link.${v}`))));
  const slot = h("div", { class: "slot" });
  const button = h("button", { type: "submit", class: "primary", id: "partner-create" }, t("partners.create"));
  return h(
    "form",
    {
      class: "boxed",
      onsubmit: (e) => {
        e.preventDefault();
        act(button, slot, async () => {
          const types = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
          const p = await post("/v1/admin/partners", { name: name.value.trim(), allowed_types: types, link_confirmation: confirmation.value });
          ctx.navigate("partners", secretNotice(p, false));
        });
      },
    },
    h("h2", {}, t("partners.new")),
    field(t("partners.name"), name),
    h("fieldset", {}, h("legend", {}, t("partners.types")), boxes),
    field(t("partners.link"), confirmation),
    button,
    slot,
  );
}
