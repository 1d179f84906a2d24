// A list the API pages with a cursor: the first page at once, the next ones on "load more".
// The cursor is the API's own (next_cursor), passed back unchanged.
import { h, headerCell } from "./dom.js";
import { act, get } from "./api.js";
import { t } from "./i18n.js";

/** A table over `path` (which may carry a query). `row(item)` makes one <tr>. Call `load()`
 * once for the first page (its failure is the page's); "load more" reports its own. */
export function pagedTable({ path, headers, row, id, empty, onPage }) {
  const body = h("tbody", {});
  const slot = h("div", { class: "slot" });
  const more = h("button", { type: "button", class: "more", id: id ? `${id}-more` : null, hidden: true }, t("audit.more"));
  let cursor = null;
  let shown = 0;
  async function load() {
    const sep = path.includes("?") ? "&" : "?";
    const page = await get(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
    body.querySelector("td.empty")?.parentElement.remove();
    for (const item of page.items) body.append(row(item));
    shown += page.items.length;
    cursor = page.next_cursor;
    more.hidden = !cursor;
    if (!shown && empty) body.append(h("tr", {}, h("td", { colspan: headers.length, class: "empty" }, empty)));
    if (onPage) onPage({ shown, more: Boolean(cursor), page });
    return page;
  }
  more.addEventListener("click", () => act(more, slot, load));
  const el = h(
    "div",
    { class: "paged" },
    h("div", { class: "table-wrap" }, h("table", { id }, h("thead", {}, h("tr", {}, headers.map(headerCell))), body)),
    more,
    slot,
  );
  return { el, load };
}
