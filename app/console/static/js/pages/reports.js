import { fmtGrams, fmtInt, h, field, isoDay, table, toRfc3339, put } from "../dom.js";
import { act, download, get } from "../api.js";
import { barChart, lineChart } from "../charts.js";
import { t } from "../i18n.js";

export async function reportsPage({ main }) {
  put(main, h("h1", {}, t("nav.reports")));
  const from = h("input", { type: "date", id: "report-from", value: isoDay(-30) });
  const to = h("input", { type: "date", id: "report-to", value: isoDay(1) });
  const group = h("select", { id: "report-group" }, ["day", "methodology", "region"].map((g) => h("option", { value: g }, t(`reports.by.${g}`))));
  const show = h("button", { type: "submit", class: "primary", id: "report-show" }, t("reports.show"));
  const csv = h("button", { type: "button", id: "report-csv" }, t("reports.csv"));
  const slot = h("div", { class: "slot" });
  const out = h("div", { id: "report" });
  const query = () => `from=${encodeURIComponent(toRfc3339(from.value))}&to=${encodeURIComponent(toRfc3339(to.value))}&group_by=${group.value}`;
  const run = () =>
    act(show, slot, async () => {
      const r = await get(`/v1/admin/reports/reductions?${query()}`);
      const labels = r.rows.map((x) => x.key ?? t("sim.no_region"));
      const chart = r.group_by === "day" ? lineChart : barChart;
      out.replaceChildren(
        chart({ title: t("chart.reduction"), labels: r.group_by === "day" ? labels.map((l) => l.slice(5)) : labels, series: [{ name: t("chart.reduction"), values: r.rows.map((x) => x.reduction_g) }], format: fmtGrams }),
        table(
          [t(`reports.by.${r.group_by}`), t("chart.records"), t("chart.reduction"), t("chart.points")],
          [
            ...r.rows.map((x, i) => h("tr", {}, h("td", {}, labels[i]), h("td", { class: "num" }, fmtInt(x.records)), h("td", { class: "num" }, fmtGrams(x.reduction_g)), h("td", { class: "num" }, fmtInt(x.points)))),
            h("tr", { class: "totals" }, h("th", { scope: "row" }, t("reports.totals")), h("td", { class: "num" }, fmtInt(r.totals.records)), h("td", { class: "num" }, fmtGrams(r.totals.reduction_g)), h("td", { class: "num" }, fmtInt(r.totals.points))),
          ],
          { id: "report-table" },
        ),
      );
    });
  csv.addEventListener("click", () => act(csv, slot, () => download(`/v1/admin/reports/reductions?${query()}`, "text/csv", `reductions-by-${group.value}.csv`)));
  put(main, 
    h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); run(); } }, field(t("range.from"), from), field(t("range.to"), to), field(t("reports.group"), group), show, csv),
    slot,
    out,
  );
  await run();
}
