// Shared helpers: the console's one state object, DOM building (text only), dates, the toast,
// table status rows and the clipboard.

const COPY_ICON_PATH =
  "M16 1H4a2 2 0 0 0-2 2v14h2V3h12V1zm3 4H8a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h11a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2zm0 16H8V7h11v14z";

export const state = {
  key: null, // the Bearer: an API key, or a signed-in person's ID token
  person: null, // a signed-in person's tokens (cognito.js), null for a key
  renew: null, // renews a person's tokens: () => Promise<boolean>
  whoami: null,
  community: null,
  roles: [],
  vaults: [],
  status: "all",
  search: "",
  limit: 20,
  cursors: [null], // cursors[i] opens page i
  page: 0,
  nextCursor: null,
  items: [],
  editing: null,
  createAttempt: null, // the create dialog's Idempotency-Key and the body last sent with it
  panel: "keys",
  permissions: null, // the permission catalog, from /openapi.json
  communityRoles: [],
  editingRole: null,
  events: { cursors: [null], page: 0, nextCursor: null, limit: 25 },
  keyEvents: { keyId: null, cursor: null, request: 0 },
  keyNames: new Map(), // key id → name, for "Created by"
};

export const $ = (id) => document.getElementById(id);

// -- DOM helpers: text only ---------------------------------------------------------------

export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child); // strings become text nodes
  }
  return node;
}

export function copyIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "16");
  svg.setAttribute("height", "16");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", COPY_ICON_PATH);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

export function formatDate(iso, withTime) {
  if (!iso) return "";
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return iso;
  const options = withTime ? { dateStyle: "medium", timeStyle: "short" } : { dateStyle: "medium" };
  return new Intl.DateTimeFormat(undefined, options).format(moment);
}

function fullTimestamp(iso) {
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return iso;
  return new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" }).format(moment);
}

export function timeEl(iso, withTime) {
  return el("time", { datetime: iso, title: fullTimestamp(iso) }, formatDate(iso, withTime));
}

// A table cell's time: the date, then the time on its own line, the full timestamp on hover.
export function cellTime(iso, missing) {
  if (!iso) return el("span", { className: "muted" }, missing);
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return document.createTextNode(iso);
  const time = new Intl.DateTimeFormat(undefined, { timeStyle: "short" }).format(moment);
  return el("time", { datetime: iso, title: fullTimestamp(iso) },
    el("span", { className: "time-date" }, formatDate(iso, false)), " ", el("span", { className: "time-clock" }, time));
}

export function statusLabel(status) {
  return { active: "Active", revoked: "Revoked", expired: "Expired", pending: "Pending", failed: "Failed" }[status] || status;
}

// A short message below the content. Someone at the page's end (the last row, the pager) stays
// there, with the message below it rather than over it.
export function toast(message) {
  const node = $("toast");
  const page = document.documentElement;
  const atEnd = window.scrollY + window.innerHeight >= page.scrollHeight - 4;
  node.textContent = message;
  node.hidden = false;
  if (atEnd) window.scrollTo(window.scrollX, page.scrollHeight);
  clearTimeout(toast.timer);
  toast.timer = setTimeout(clearToast, 4000);
}

// A toast belongs to the section it was said in: leaving that section clears it.
export function clearToast() {
  clearTimeout(toast.timer);
  const node = $("toast");
  node.hidden = true;
  node.textContent = "";
}

export function capitalise(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

// A table's status line says in words what the table shows. While the table itself shows a
// state (loading, empty, error) the line is for screen readers only, so it is seen once.
export function setListStatus(node, text, tableShowsIt) {
  node.textContent = text;
  node.classList.toggle("visually-hidden", Boolean(tableShowsIt));
}

export function isSignedInKey(key) {
  return Boolean(state.whoami && key && key.id === state.whoami.id);
}

export async function copyText(text, button, done, quiet) {
  let copied = false;
  try {
    await navigator.clipboard.writeText(text);
    copied = true;
  } catch (error) {
    // Older browsers or an insecure origin: copy through a short-lived selection.
    const scratch = el("textarea", { readonly: true, className: "visually-hidden", "aria-hidden": "true" });
    scratch.value = text;
    document.body.append(scratch);
    scratch.select();
    try { copied = document.execCommand("copy"); } catch (ignored) { copied = false; }
    scratch.value = "";
    scratch.remove();
  }
  if (!quiet) toast(copied ? done : "Could not copy; select the text and copy it by hand.");
  if (copied && button) {
    button.classList.add("copied");
    setTimeout(() => button.classList.remove("copied"), 1500);
  }
  return copied;
}

export function stateRow(columns, kind, text, action) {
  const cell = el("td", { colspan: columns, className: "state-cell state-" + kind }, el("p", { text }));
  if (action) cell.append(action);
  return el("tr", { className: "state-row" }, cell);
}
