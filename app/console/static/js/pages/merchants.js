import { fmtTime, h, field, table, put } from "../dom.js";
import { act, get, patch, post } from "../api.js";
import { t } from "../i18n.js";

export async function merchantsPage(ctx) {
  const { main } = ctx;
  put(main, h("h1", {}, t("nav.merchants")));
  const [merchants, staff] = await Promise.all([get("/v1/admin/merchants?limit=200"), get("/v1/admin/users?role=merchant&limit=200")]);
  const byMerchant = new Map();
  for (const u of staff.items) {
    if (!byMerchant.has(u.merchant_id)) byMerchant.set(u.merchant_id, []);
    byMerchant.get(u.merchant_id).push(u);
  }
  if (ctx.canChange) put(main, createMerchant(ctx));
  put(main, 
    table(
      [t("merchants.name"), t("merchants.state"), t("merchants.created"), t("merchants.staff"), ""],
      merchants.items.map((m) => merchantRow(ctx, m, byMerchant.get(m.id) || [])),
      { id: "merchants-table" },
    ),
  );
  if (ctx.canChange && merchants.items.length) put(main, createStaff(ctx, merchants.items));
}

function merchantRow(ctx, m, staff) {
  const slot = h("div", { class: "slot" });
  const toggle = ctx.canChange
    ? h("button", { type: "button", class: m.active ? "danger" : "" }, m.active ? t("merchants.deactivate") : t("merchants.activate"))
    : null;
  toggle?.addEventListener("click", () =>
    act(toggle, slot, async () => {
      await patch(`/v1/admin/merchants/${encodeURIComponent(m.id)}`, { active: !m.active });
      ctx.navigate("merchants", m.active ? t("merchants.deactivated", { name: m.name }) : t("merchants.activated", { name: m.name }));
    }),
  );
  return h(
    "tr",
    { "data-merchant": m.id },
    h("td", {}, m.name, h("br"), h("code", { class: "muted" }, m.id)),
    h("td", {}, h("span", { class: m.active ? "badge ok" : "badge bad" }, m.active ? t("state.active") : t("state.inactive"))),
    h("td", {}, fmtTime(m.created_at)),
    h("td", {}, staff.length ? h("ul", { class: "plain" }, staff.map((u) => staffItem(ctx, u, slot))) : "—"),
    h("td", {}, toggle, slot),
  );
}

/** A staff account; administrators can disable it (its sessions end) or enable it again. */
function staffItem(ctx, u, slot) {
  let toggle = null;
  if (ctx.canChange) {
    toggle = h("button", { type: "button", class: "link" }, u.is_active ? t("staff.disable") : t("staff.enable"));
    toggle.addEventListener("click", () =>
      act(toggle, slot, async () => {
        await patch(`/v1/admin/users/${encodeURIComponent(u.id)}`, { is_active: !u.is_active });
        ctx.navigate("merchants", u.is_active ? t("staff.disabled", { email: u.email }) : t("staff.enabled", { email: u.email }));
      }),
    );
  }
  return h("li", {}, u.email, u.is_active ? null : ` (${t("state.inactive")})`, " ", toggle);
}

function createMerchant(ctx) {
  const name = h("input", { type: "text", id: "merchant-name", maxlength: 200, required: true });
  const slot = h("div", { class: "slot" });
  const button = h("button", { type: "submit", class: "primary" }, t("merchants.create"));
  return h(
    "form",
    {
      class: "row boxed",
      onsubmit: (e) => {
        e.preventDefault();
        act(button, slot, async () => {
          const m = await post("/v1/admin/merchants", { name: name.value.trim() });
          ctx.navigate("merchants", t("merchants.created.ok", { name: m.name }));
        });
      },
    },
    field(t("merchants.new"), name),
    button,
    slot,
  );
}

function createStaff(ctx, merchants) {
  const merchant = h("select", { id: "staff-merchant" }, merchants.filter((m) => m.active).map((m) => h("option", { value: m.id }, m.name)));
  const email = h("input", { type: "email", id: "staff-email", required: true, autocomplete: "off" });
  const password = h("input", { type: "password", id: "staff-password", required: true, autocomplete: "new-password" });
  const name = h("input", { type: "text", id: "staff-name", maxlength: 100 });
  const slot = h("div", { class: "slot" });
  const button = h("button", { type: "submit", class: "primary" }, t("staff.create"));
  return h(
    "form",
    {
      class: "boxed",
      onsubmit: (e) => {
        e.preventDefault();
        act(button, slot, async () => {
          const u = await post(`/v1/admin/merchants/${encodeURIComponent(merchant.value)}/staff`, { email: email.value.trim(), password: password.value, display_name: name.value.trim() || null });
          ctx.navigate("merchants", t("staff.created.ok", { email: u.email }));
        });
      },
    },
    h("h2", {}, t("staff.new")),
    h("div", { class: "form-grid" }, field(t("staff.merchant"), merchant), field(t("signin.email"), email), field(t("signin.password"), password, t("staff.password.hint")), field(t("staff.name"), name)),
    button,
    slot,
  );
}
