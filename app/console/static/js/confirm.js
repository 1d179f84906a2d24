// A change that is asked twice: the first button shows "confirm" and "cancel" in its place;
// only "confirm" acts. The outcome (or the API's problem) lands in the given slot.
import { h } from "./dom.js";
import { act } from "./api.js";
import { t } from "./i18n.js";

export function confirmedButton({ label, confirmLabel, className = "", question, slot, action }) {
  const start = h("button", { type: "button", class: className }, label);
  const ask = h("span", { class: "confirm-question", hidden: true }, question);
  const yes = h("button", { type: "button", class: `danger confirm ${className}-confirm`, hidden: true }, confirmLabel);
  const no = h("button", { type: "button", class: "link cancel", hidden: true }, t("confirm.cancel"));
  const show = (asking) => {
    start.hidden = asking;
    for (const el of [ask, yes, no]) el.hidden = !asking;
  };
  start.addEventListener("click", () => {
    slot.replaceChildren();
    show(true);
    yes.focus();
  });
  no.addEventListener("click", () => {
    show(false);
    start.focus();
  });
  yes.addEventListener("click", () => act(yes, slot, action));
  return h("span", { class: "confirmed" }, start, ask, yes, no);
}
