// Public-good projects citizens donate points to: published by administrators, opened and
// closed for donations; everyone here sees their progress.
import { fmtInt, fmtTime, h, field, put } from "../dom.js";
import { act, patch, post } from "../api.js";
import { pagedTable } from "../paging.js";
import { t } from "../i18n.js";

export async function projectsPage(ctx) {
  const { main } = ctx;
  put(main, h("h1", {}, t("nav.projects")));
  if (ctx.canChange) put(main, createForm(ctx));
  const list = pagedTable({
    path: "/v1/projects?limit=50",
    id: "projects-table",
    empty: t("proj.none"),
    headers: [t("proj.name"), { num: t("proj.price") }, t("proj.progress"), { num: t("proj.donated") }, t("merchants.state"), t("merchants.created"), ""],
    row: (p) => projectRow(ctx, p),
  });
  await list.load();
  put(main, list.el);
}

function projectRow(ctx, p) {
  const slot = h("div", { class: "slot" });
  let toggle = null;
  if (ctx.canChange) {
    toggle = h("button", { type: "button", class: p.active ? "danger" : "" }, p.active ? t("proj.close") : t("proj.open"));
    toggle.addEventListener("click", () =>
      act(toggle, slot, async () => {
        await patch(`/v1/admin/projects/${encodeURIComponent(p.id)}`, { active: !p.active });
        ctx.navigate("projects", p.active ? t("proj.closed", { name: p.name }) : t("proj.opened", { name: p.name }));
      }),
    );
  }
  const percent = Math.round(p.progress * 1000) / 10;
  return h(
    "tr",
    { "data-project": p.id },
    h("td", {}, h("strong", {}, p.name), h("div", { class: "muted" }, p.description)),
    h("td", { class: "num" }, t("proj.per_unit", { points: fmtInt(p.points_per_unit), unit: p.unit_name })),
    h(
      "td",
      {},
      h("progress", { value: Math.min(p.donated_units, p.target_units), max: p.target_units }),
      h("div", { class: "muted" }, t("proj.units", { done: fmtInt(p.donated_units), target: fmtInt(p.target_units), unit: p.unit_name, percent })),
    ),
    h("td", { class: "num" }, fmtInt(p.donated_points)),
    h("td", {}, h("span", { class: p.active ? "badge ok" : "badge bad" }, p.active ? t("proj.state.open") : t("proj.state.closed"))),
    h("td", {}, fmtTime(p.created_at)),
    h("td", {}, toggle, slot),
  );
}

function createForm(ctx) {
  const name = h("input", { type: "text", id: "proj-name", maxlength: 200, required: true });
  const description = h("textarea", { id: "proj-description", rows: 2, maxlength: 4000, required: true });
  const price = h("input", { type: "number", id: "proj-points", min: 1, step: 1, required: true });
  const unit = h("input", { type: "text", id: "proj-unit", maxlength: 50, required: true, placeholder: t("proj.unit.example") });
  const target = h("input", { type: "number", id: "proj-target", min: 1, step: 1, required: true });
  const slot = h("div", { class: "slot" });
  const button = h("button", { type: "submit", class: "primary", id: "proj-create" }, t("proj.create"));
  const int = (input) => (input.value.trim() === "" ? null : Number(input.value));
  return h(
    "form",
    {
      class: "boxed",
      id: "proj-form",
      onsubmit: (e) => {
        e.preventDefault();
        act(button, slot, async () => {
          const p = await post("/v1/admin/projects", {
            name: name.value.trim(),
            description: description.value.trim(),
            points_per_unit: int(price),
            unit_name: unit.value.trim(),
            target_units: int(target),
          });
          ctx.navigate("projects", t("proj.created", { name: p.name }));
        });
      },
    },
    h("h2", {}, t("proj.new")),
    h(
      "div",
      { class: "form-grid" },
      field(t("proj.name"), name),
      field(t("proj.unit"), unit),
      field(t("proj.points"), price),
      field(t("proj.target"), target),
    ),
    field(t("proj.description"), description),
    button,
    slot,
  );
}
