// The console's shell: sign-in, the header and navigation for the signed-in role, and a
// router over the location hash (#/page/arg…). Pages live in ./pages/.
import { h, field, replace } from "./dom.js";
import { LANGS, lang, setLang, t } from "./i18n.js";
import { act, api, get, problemView, refreshSession, setCsrf, success, whenSignedOut } from "./api.js";
import { dashboardPage } from "./pages/dashboard.js";
import { methodologiesPage } from "./pages/methodologies.js";
import { reviewPage } from "./pages/review.js";
import { recordsPage } from "./pages/records.js";
import { merchantsPage } from "./pages/merchants.js";
import { organisationsPage } from "./pages/organisations.js";
import { productsPage } from "./pages/products.js";
import { projectsPage } from "./pages/projects.js";
import { batchesPage } from "./pages/batches.js";
import { partnersPage } from "./pages/partners.js";
import { reportsPage } from "./pages/reports.js";
import { auditPage } from "./pages/audit.js";
import { tillPage } from "./pages/till.js";
import { incentivesPage } from "./pages/incentives.js";
import { redemptionsPage } from "./pages/redemptions.js";

// Pages in sections: a section of one page is a link of its own; a larger one is a link to
// its first page, and its pages show as a second row under the header while one is open.
const OPERATOR_SECTIONS = [
  ["dashboard", [["dashboard", dashboardPage]]],
  ["reductions", [["methodologies", methodologiesPage], ["review", reviewPage], ["records", recordsPage], ["batches", batchesPage]]],
  ["communities", [["organisations", organisationsPage], ["products", productsPage], ["projects", projectsPage]]],
  ["partners", [["merchants", merchantsPage], ["partners", partnersPage]]],
  ["oversight", [["reports", reportsPage], ["audit", auditPage]]],
];
const MERCHANT_SECTIONS = [
  ["till", [["till", tillPage]]],
  ["incentives", [["incentives", incentivesPage]]],
  ["redemptions", [["redemptions", redemptionsPage]]],
];

const state = { user: null };
const root = document.getElementById("app");

function sectionsFor(user) {
  return user.role === "merchant" ? MERCHANT_SECTIONS : OPERATOR_SECTIONS;
}

/** Only administrators change platform data, only staff change their merchant's. */
function canChange(user) {
  return user.role === "admin" || user.role === "merchant";
}

function route() {
  const [name, ...args] = location.hash.replace(/^#\/?/, "").split("/");
  return { name, args: args.filter(Boolean).map(decodeURIComponent) };
}

let flash = null;

/** Go to a page; the optional message (text, or an element) is shown at the top of it once. */
export function navigate(path, message = null) {
  flash = message;
  if (location.hash === `#/${path}`) render();
  else location.hash = `#/${path}`;
}

function languageSwitch() {
  const select = h(
    "select",
    { class: "lang", "aria-label": t("lang.label"), onchange: (e) => { setLang(e.target.value); render(); } },
    LANGS.map(([code, name]) => h("option", { value: code, selected: code === lang() }, name)),
  );
  return select;
}

function sectionLabel([key, pages]) {
  return pages.length === 1 ? t(`nav.${pages[0][0]}`) : t(`nav.section.${key}`);
}

function header(sections, current) {
  const user = state.user;
  const open = sections.find(([, pages]) => pages.some(([name]) => name === current));
  const link = (name, label, active, extra = {}) =>
    h("a", { href: `#/${name}`, class: active ? "active" : null, "aria-current": active ? "page" : null, ...extra }, label);
  const top = h(
    "header",
    { class: "top" },
    h("div", { class: "brand" }, h("img", { src: "./icon.svg", alt: "", width: 28, height: 28 }), h("span", {}, t("app.name"))),
    h(
      "nav",
      { class: "nav", "aria-label": t("nav.label") },
      sections.map((section) => {
        const [key, pages] = section;
        const here = section === open;
        // A section's link is "current" only when it is the page itself (one-page sections).
        return pages.length === 1
          ? link(pages[0][0], sectionLabel(section), here, { "data-section": key })
          : h("a", { href: `#/${pages[0][0]}`, class: here ? "active" : null, "data-section": key }, sectionLabel(section));
      }),
    ),
    h(
      "div",
      { class: "who" },
      h("span", { class: "user" }, user.email),
      h("span", { class: `role role-${user.role}`, title: user.email }, t(`role.${user.role}`)),
      languageSwitch(),
      h("button", { type: "button", class: "link", id: "sign-out", onclick: signOut }, t("signout")),
    ),
  );
  if (!open || open[1].length === 1) return [top];
  const sub = h(
    "nav",
    { class: "subnav", "aria-label": sectionLabel(open) },
    h("div", { class: "subnav-inner" }, open[1].map(([name]) => link(name, t(`nav.${name}`), name === current))),
  );
  return [top, sub];
}

async function signOut() {
  try {
    await api("DELETE", "/v1/console/session");
  } catch (err) {
    // An expired access cookie: renew it, so that the refresh cookie is revoked too.
    if (err.status === 401 && (await refreshSession())) {
      await api("DELETE", "/v1/console/session").catch(() => {});
    }
  }
  state.user = null;
  setCsrf(null);
  history.replaceState(null, "", "#/");
  render();
}

function signInPage() {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const slot = h("div", { class: "slot" });
  const button = h("button", { type: "submit", class: "primary" }, t("signin.submit"));
  const form = h(
    "form",
    {
      class: "signin",
      onsubmit: async (e) => {
        e.preventDefault();
        const session = await act(button, slot, () =>
          api("POST", "/v1/console/session", { body: { email: email.value.trim(), password: password.value } }),
        );
        if (session) {
          setCsrf(session.csrf_token);
          state.user = session.user;
          history.replaceState(null, "", "#/");
          render();
        }
      },
    },
    h("h1", {}, t("signin.title")),
    h("p", { class: "muted" }, t("signin.intro")),
    field(t("signin.email"), email),
    field(t("signin.password"), password),
    button,
    slot,
  );
  replace(root, h("div", { class: "signin-wrap" }, h("div", { class: "signin-lang" }, languageSwitch()), form));
  email.focus();
}

let rendering = 0;

export async function render() {
  const mine = ++rendering;
  document.documentElement.lang = lang();
  document.title = t("app.title");
  if (!state.user) {
    signInPage();
    return;
  }
  const sections = sectionsFor(state.user);
  const pages = sections.flatMap(([, list]) => list);
  let { name, args } = route();
  let page = pages.find(([n]) => n === name);
  if (!page) {
    page = pages[0];
    args = [];
    history.replaceState(null, "", `#/${page[0]}`);
  }
  const main = h("main", { id: "main", class: `page page-${page[0]}`, "data-route": [page[0], ...args].join("/") });
  replace(root, ...header(sections, page[0]), main);
  const note = flash instanceof Node ? flash : flash ? success(flash) : null;
  flash = null;
  const ctx = { user: state.user, canChange: canChange(state.user), args, main, navigate, current: () => mine === rendering };
  try {
    await page[1](ctx);
    if (note && mine === rendering) main.prepend(note);
  } catch (err) {
    if (mine === rendering) main.replaceChildren(problemView(err));
  } finally {
    main.dataset.ready = "true"; // the page has loaded what it shows (tests wait for this)
  }
}

async function boot() {
  whenSignedOut(() => {
    state.user = null;
    setCsrf(null);
    render();
  });
  window.addEventListener("hashchange", render);
  try {
    const session = await get("/v1/console/session");
    setCsrf(session.csrf_token);
    state.user = session.user;
  } catch {
    state.user = null;
  }
  if (state.user) {
    // A reloaded page may hold only a refresh cookie: the first call renews the session.
    try {
      await get("/v1/me");
    } catch {
      state.user = null;
    }
  }
  render();
}

boot();
