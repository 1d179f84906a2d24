// The catalogue of carbon-labelled products. Administrators see it whole, retired products
// included, and may rename, correct or retire a product; a label's values can be corrected
// only until a record names the product (the API refuses afterwards, and says why).
import { fmtTime, h, field, toRfc3339, put } from "../dom.js";
import { act, patch, post } from "../api.js";
import { confirmedButton } from "../confirm.js";
import { pagedTable } from "../paging.js";
import { t } from "../i18n.js";
import { openEditor, retiredBadge } from "./organisations.js";

export async function productsPage(ctx) {
  const { main } = ctx;
  const admin = ctx.canChange;
  put(main, h("h1", {}, t("nav.products")));
  if (admin) put(main, createForm(ctx));
  const status = admin ? h("select", { id: "prod-status-filter" }, ["", "true", "false"].map((v) => h("option", { value: v }, t(`status.filter.${v || "all"}`)))) : null;
  const editor = h("section", { id: "prod-editor" });
  const out = h("div", {});
  const slot = h("div", { class: "slot" });
  const show = h("button", { type: "submit" }, t("audit.filter"));
  const load = async () => {
    const q = new URLSearchParams({ limit: "50" });
    if (status?.value) q.set("active", status.value);
    const list = pagedTable({
      path: `${admin ? "/v1/admin/products" : "/v1/products"}?${q}`,
      id: "products-table",
      empty: admin ? t("prod.none.admin") : t("prod.none"),
      headers: [t("prod.name"), t("prod.label"), t("prod.certifier"), { num: t("prod.grams") }, t("prod.source"), t("prod.valid"), admin ? t("merchants.state") : null, admin ? "" : null].filter((x) => x !== null),
      row: (p) => productRow(ctx, p, editor),
    });
    await list.load();
    editor.replaceChildren();
    out.replaceChildren(list.el);
  };
  put(main,
    h("p", { class: "muted" }, admin ? t("prod.intro.admin") : t("prod.intro")),
    admin ? h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); act(show, slot, load); } }, field(t("merchants.state"), status), show) : null,
    slot,
    editor,
    out,
  );
  await load();
}

function validity(p) {
  return p.valid_from || p.valid_until ? `${fmtTime(p.valid_from)} – ${fmtTime(p.valid_until)}` : t("prod.always");
}

function stateBadge(p) {
  if (!p.active) return retiredBadge(p);
  return p.in_force ? h("span", { class: "badge ok" }, t("prod.state.in_force")) : h("span", { class: "badge" }, t("prod.state.out_of_validity"));
}

function productRow(ctx, p, editor) {
  const admin = ctx.canChange;
  const slot = h("div", { class: "slot" });
  const actions = admin
    ? h(
        "td",
        {},
        h(
          "div",
          { class: "row actions" },
          h("button", { type: "button", class: "edit", onclick: () => openEditor(editor, editForm(ctx, p)) }, t("prod.edit")),
          confirmedButton({
            label: p.active ? t("prod.retire") : t("prod.reinstate"),
            confirmLabel: p.active ? t("prod.retire.confirm") : t("prod.reinstate.confirm"),
            className: p.active ? "retire" : "reinstate",
            question: p.active ? t("prod.retire.question", { name: p.name }) : t("prod.reinstate.question", { name: p.name }),
            slot,
            action: async () => {
              await patch(`/v1/admin/products/${encodeURIComponent(p.id)}`, { active: !p.active });
              ctx.navigate("products", p.active ? t("prod.retired", { name: p.name }) : t("prod.reinstated", { name: p.name }));
            },
          }),
        ),
        slot,
      )
    : null;
  return h(
    "tr",
    { "data-product": p.id, class: admin && !p.active ? "retired" : null },
    h("td", {}, p.name, h("br"), h("code", { class: "muted" }, p.id)),
    h("td", {}, h("code", {}, p.label_id)),
    h("td", {}, p.certifier),
    h("td", { class: "num" }, `${p.reduction_g_per_unit} g`),
    h("td", { class: "source" }, p.source),
    h("td", { class: p.valid_from || p.valid_until ? null : "nowrap" }, validity(p)),
    admin ? h("td", {}, stateBadge(p)) : null,
    actions,
  );
}

/** The local date (YYYY-MM-DD) of an instant, as a date input shows it; "" for none. */
function localDay(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (v) => String(v).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** A product's inputs (ids `${prefix}-name` …), filled from `p` when one is edited, and
 * their labelled layout: the create and edit forms show the same fields. */
function productFields(prefix, p = null) {
  const shown = (value) => (p ? { value } : {});
  const inputs = {
    name: h("input", { type: "text", id: `${prefix}-name`, maxlength: 200, required: true, ...shown(p?.name) }),
    label: h("input", { type: "text", id: `${prefix}-label`, maxlength: 100, required: true, spellcheck: "false", ...shown(p?.label_id) }),
    certifier: h("input", { type: "text", id: `${prefix}-certifier`, maxlength: 200, required: true, ...shown(p?.certifier) }),
    grams: h("input", {
      type: "text", id: `${prefix}-grams`, inputmode: "decimal", maxlength: 13, required: true,
      ...(p ? { value: p.reduction_g_per_unit } : { placeholder: "350" }),
    }),
    source: h("textarea", { id: `${prefix}-source`, rows: 2, maxlength: 500, required: true }),
    from: h("input", { type: "date", id: `${prefix}-from`, ...shown(localDay(p?.valid_from)) }),
    until: h("input", { type: "date", id: `${prefix}-until`, ...shown(localDay(p?.valid_until)) }),
  };
  if (p) inputs.source.value = p.source;
  const { name, label, certifier, grams, source, from, until } = inputs;
  const layout = [
    h(
      "div",
      { class: "form-grid" },
      field(t("prod.name"), name),
      field(t("prod.label"), label),
      field(t("prod.certifier"), certifier),
      field(t("prod.grams"), grams, t("prod.grams.hint")),
      field(t("prod.from"), from),
      field(t("prod.until"), until, t("prod.until.hint")),
    ),
    field(t("prod.source"), source, t("prod.source.hint")),
  ];
  return { inputs, layout };
}

/** Edit a product: only the fields that differ from what is shown are sent. */
function editForm(ctx, p) {
  const fields = productFields("prod-edit", p);
  const { name, label, certifier, grams, source, from, until } = fields.inputs;
  const slot = h("div", { class: "slot" });
  const button = h("button", { type: "submit", class: "primary", id: "prod-edit-save" }, t("prod.edit.save"));
  const cancel = h("button", { type: "button", class: "link", onclick: () => form.remove() }, t("confirm.cancel"));
  const changes = () => {
    const body = {};
    const text = (key, input) => {
      if (input.value.trim() !== (p[key] || "").trim()) body[key] = input.value.trim();
    };
    text("name", name);
    text("label_id", label);
    text("certifier", certifier);
    text("source", source);
    const g = grams.value.trim();
    if (g !== p.reduction_g_per_unit && !(g !== "" && Number(g) === Number(p.reduction_g_per_unit))) body.reduction_g_per_unit = g;
    for (const [key, input] of [["valid_from", from], ["valid_until", until]]) {
      if (input.value !== localDay(p[key])) body[key] = input.value ? toRfc3339(input.value) : null;
    }
    return body;
  };
  const form = h(
    "form",
    {
      class: "boxed",
      id: "prod-edit-form",
      onsubmit: (e) => {
        e.preventDefault();
        act(button, slot, async () => {
          const body = changes();
          if (!Object.keys(body).length) {
            slot.replaceChildren(h("div", { class: "notice", role: "status" }, t("prod.edit.nothing")));
            return;
          }
          const done = await patch(`/v1/admin/products/${encodeURIComponent(p.id)}`, body);
          ctx.navigate("products", t("prod.edited", { name: done.name, label: done.label_id }));
        });
      },
    },
    h("h2", {}, t("prod.edit.title", { name: p.name })),
    h("p", { class: "muted" }, t("prod.edit.intro")),
    ...fields.layout,
    h("div", { class: "row" }, button, cancel),
    slot,
  );
  return form;
}

function createForm(ctx) {
  const fields = productFields("prod");
  const { name, label, certifier, grams, source, from, until } = fields.inputs;
  const slot = h("div", { class: "slot" });
  const button = h("button", { type: "submit", class: "primary", id: "prod-create" }, t("prod.create"));
  return h(
    "form",
    {
      class: "boxed",
      id: "prod-form",
      onsubmit: (e) => {
        e.preventDefault();
        act(button, slot, async () => {
          const p = await post("/v1/admin/products", {
            name: name.value.trim(),
            label_id: label.value.trim(),
            certifier: certifier.value.trim(),
            reduction_g_per_unit: grams.value.trim(),
            source: source.value.trim(),
            valid_from: from.value ? toRfc3339(from.value) : null,
            valid_until: until.value ? toRfc3339(until.value) : null,
          });
          ctx.navigate("products", t("prod.created", { name: p.name, label: p.label_id }));
        });
      },
    },
    h("h2", {}, t("prod.new")),
    h("p", { class: "muted" }, t("prod.new.intro")),
    ...fields.layout,
    button,
    slot,
  );
}
