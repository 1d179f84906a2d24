import { card, fmtGrams, fmtInt, h, put } from "../dom.js";
import { get, problemView } from "../api.js";
import { lineChart } from "../charts.js";
import { t } from "../i18n.js";

export async function dashboardPage({ main }) {
  put(main, h("h1", {}, t("nav.dashboard")));
  const d = await get("/v1/console/dashboard");
  const ledger = h("span", { class: "muted" }, t("dashboard.ledger.checking"));
  put(main, 
    h(
      "section",
      { class: "cards" },
      card(t("dashboard.today"), fmtGrams(d.day.reduction_g), t("dashboard.records", { n: fmtInt(d.day.records) })),
      card(t("dashboard.month"), fmtGrams(d.month.reduction_g), t("dashboard.records", { n: fmtInt(d.month.records) })),
      card(t("dashboard.received"), fmtInt(d.received_today)),
      card(t("dashboard.queue"), h("a", { href: "#/review" }, fmtInt(d.review_queue))),
      card(t("dashboard.outstanding"), fmtInt(d.points_outstanding), t("dashboard.held", { n: fmtInt(d.points_held) })),
      card(t("dashboard.ledger"), ledger, d.debt ? t("dashboard.debt", { n: fmtInt(d.debt) }) : null),
    ),
    h("h2", {}, t("dashboard.series")),
    lineChart({
      title: t("dashboard.series"),
      labels: d.series.map((x) => x.day.slice(5)),
      series: [{ name: t("chart.reduction"), values: d.series.map((x) => x.reduction_g) }],
      format: fmtGrams,
    }),
    lineChart({
      title: t("dashboard.series.records"),
      labels: d.series.map((x) => x.day.slice(5)),
      series: [{ name: t("chart.records"), values: d.series.map((x) => x.records), colour: 2 }],
      format: fmtInt,
      integer: true,
    }),
  );
  // The full check recomputes every balance: show the rest of the page first.
  try {
    const check = await get("/v1/admin/ledger/check");
    ledger.replaceWith(
      h(
        "span",
        { class: check.ok ? "badge ok" : "badge bad", id: "ledger-status" },
        check.ok ? t("dashboard.ledger.ok") : t("dashboard.ledger.bad", { n: fmtInt(check.mismatch_count) }),
      ),
    );
  } catch (err) {
    ledger.replaceWith(problemView(err));
  }
}
