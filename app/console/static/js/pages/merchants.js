import { fmtInt, fmtTime, h, field, table, put } from "../dom.js";
import { pagedTable } from "../paging.js";
import { incentiveForm } from "./incentives.js";
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
  const editor = h("section", { id: "merchant-editor" });
  put(main,
    table(
      [t("merchants.name"), t("merchants.state"), t("merchants.created"), t("merchants.staff"), ""],
      merchants.items.map((m) => merchantRow(ctx, m, byMerchant.get(m.id) || [], editor)),
      { id: "merchants-table" },
    ),
    editor,
  );
  if (ctx.canChange && merchants.items.length) put(main, createStaff(ctx, merchants.items));
}

function openEditor(editor, form) {
  editor.replaceChildren(form);
  editor.scrollIntoView({ block: "start" });
  form.querySelector("input")?.focus();
}

function merchantRow(ctx, m, staff, editor) {
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
  const rename = ctx.canChange ? h("button", { type: "button", class: "rename", onclick: () => openEditor(editor, renameForm(ctx, m)) }, t("merchants.rename")) : null;
  const offer = ctx.canChange ? h("button", { type: "button", class: "offer" }, t("merchants.incentive")) : null;
  offer?.addEventListener("click", () =>
    act(offer, slot, async () => {
      const list = pagedTable({
        path: `/v1/merchant/incentives?merchant_id=${encodeURIComponent(m.id)}&limit=50`,
        id: "merchant-incentives",
        empty: t("merchants.incentives.none"),
        headers: [t("inc.title"), { num: t("inc.cost") }, { num: t("inc.stock") }, { num: t("inc.issued") }, t("merchants.state")],
        row: (i) =>
          h(
            "tr",
            { "data-incentive": i.id },
            h("td", {}, i.title),
            h("td", { class: "num" }, fmtInt(i.points_cost)),
            h("td", { class: "num" }, i.stock === null ? t("inc.unlimited") : fmtInt(i.stock)),
            h("td", { class: "num" }, fmtInt(i.issued)),
            h("td", {}, i.paused ? t("inc.state.paused") : i.active ? t("state.active") : t("state.inactive")),
          ),
      });
      await list.load();
      openEditor(editor, h("div", {}, incentiveForm(ctx, null, m), h("h3", {}, t("merchants.incentives", { name: m.name })), list.el));
    }),
  );
  return h(
    "tr",
    { "data-merchant": m.id },
    h("td", {}, m.name, h("br"), h("code", { class: "muted" }, m.id)),
    h("td", {}, h("span", { class: m.active ? "badge ok" : "badge bad" }, m.active ? t("state.active") : t("state.inactive"))),
    h("td", {}, fmtTime(m.created_at)),
    h("td", {}, staff.length ? h("ul", { class: "plain" }, staff.map((u) => staffItem(ctx, u, slot))) : "—"),
    h("td", {}, ctx.canChange ? h("div", { class: "row" }, rename, offer, toggle) : null, slot),
  );
}

function renameForm(ctx, m) {
  const name = h("input", { type: "text", id: "merchant-rename", maxlength: 200, required: true, value: m.name });
  const slot = h("div", { class: "slot" });
  const button = h("button", { type: "submit", class: "primary", id: "merchant-rename-save" }, t("merchants.rename.save"));
  return h(
    "form",
    {
      class: "row boxed",
      onsubmit: (e) => {
        e.preventDefault();
        act(button, slot, async () => {
          const done = await patch(`/v1/admin/merchants/${encodeURIComponent(m.id)}`, { name: name.value.trim() });
          ctx.navigate("merchants", t("merchants.renamed", { old: m.name, name: done.name }));
        });
      },
    },
    field(t("merchants.rename.title", { name: m.name }), name),
    button,
    slot,
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
