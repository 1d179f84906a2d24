// The catalogue of carbon-labelled products. A label's values never change: a corrected label
// is a new product, so there is no editing here.
import { fmtTime, h, field, toRfc3339, put } from "../dom.js";
import { act, post } from "../api.js";
import { pagedTable } from "../paging.js";
import { t } from "../i18n.js";

export async function productsPage(ctx) {
  const { main } = ctx;
  put(main, h("h1", {}, t("nav.products")));
  if (ctx.canChange) put(main, createForm(ctx));
  const list = pagedTable({
    path: "/v1/products?limit=50",
    id: "products-table",
    empty: t("prod.none"),
    headers: [t("prod.name"), t("prod.label"), t("prod.certifier"), { num: t("prod.grams") }, t("prod.source"), t("prod.valid")],
    row: (p) =>
      h(
        "tr",
        { "data-product": p.id },
        h("td", {}, p.name, h("br"), h("code", { class: "muted" }, p.id)),
        h("td", {}, h("code", {}, p.label_id)),
        h("td", {}, p.certifier),
        h("td", { class: "num" }, `${p.reduction_g_per_unit} g`),
        h("td", { class: "source" }, p.source),
        h("td", {}, p.valid_from || p.valid_until ? `${fmtTime(p.valid_from)} – ${fmtTime(p.valid_until)}` : t("prod.always")),
      ),
  });
  await list.load();
  put(main, h("p", { class: "muted" }, t("prod.intro")), list.el);
}

function createForm(ctx) {
  const name = h("input", { type: "text", id: "prod-name", maxlength: 200, required: true });
  const label = h("input", { type: "text", id: "prod-label", maxlength: 100, required: true, spellcheck: "false" });
  const certifier = h("input", { type: "text", id: "prod-certifier", maxlength: 200, required: true });
  const grams = h("input", { type: "text", id: "prod-grams", inputmode: "decimal", maxlength: 13, required: true, placeholder: "350" });
  const source = h("textarea", { id: "prod-source", rows: 2, maxlength: 500, required: true });
  const from = h("input", { type: "date", id: "prod-from" });
  const until = h("input", { type: "date", id: "prod-until" });
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
    button,
    slot,
  );
}
