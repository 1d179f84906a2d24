// One record as operators see it: its data, its outcome and its full calculation.
import { fmtGrams, fmtInt, fmtTime, h, jsonBlock } from "../dom.js";
import { t } from "../i18n.js";

function kv(rows) {
  return h("dl", { class: "kv" }, rows.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export function statusBadge(status) {
  return h("span", { class: `badge status-${status}` }, t(`status.${status}`));
}

export function reasonsText(reasons) {
  return (reasons || []).map((r) => t(`reason.${r}`, {}, r)).join(", ") || "—";
}

export function recordDetail(r) {
  const breakdown = r.breakdown || {};
  return h(
    "div",
    { class: "record", id: "record-detail" },
    kv([
      [t("rec.id"), h("code", {}, r.id)],
      [t("rec.type"), `${r.type} · v${r.methodology.version}`],
      [t("rec.status"), h("span", {}, statusBadge(r.status), r.reversed_at ? h("span", { class: "badge status-reversed" }, t("rec.reversed")) : null)],
      [t("rec.reasons"), reasonsText(r.reasons)],
      [t("rec.user"), h("a", { href: `#/records/citizen/${encodeURIComponent(r.user_id)}`, class: "citizen-link" }, h("code", {}, r.user_id))],
      [t("rec.source"), r.source],
      [t("rec.region"), r.region || "—"],
      [t("rec.occurred"), fmtTime(r.occurred_at)],
      [t("rec.received"), fmtTime(r.received_at)],
      [t("chart.reduction"), fmtGrams(r.reduction_g)],
      [t("chart.points"), fmtInt(r.points)],
      r.decided_at ? [t("rec.decided"), `${fmtTime(r.decided_at)} · ${r.decision_note || ""}`] : null,
      r.reversed_at ? [t("rec.reversed"), fmtTime(r.reversed_at)] : null,
    ]),
    h("h3", {}, t("rec.data")),
    jsonBlock(r.data),
    r.breakdown
      ? [
          h("h3", {}, t("rec.calculation")),
          breakdown.formula ? h("p", { class: "formula" }, breakdown.formula) : null,
          kv(Object.entries(breakdown).filter(([k]) => k !== "formula").map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : String(v)])),
          r.params_hash ? h("p", { class: "muted" }, t("rec.params_hash"), " ", h("code", { class: "hash" }, r.params_hash)) : null,
        ]
      : null,
  );
}
