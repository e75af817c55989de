// The API keys list: loading, rows, search, status filter and pages.

import {
  $, cellTime, copyIcon, copyText, el, formatDate, isSignedInKey, setListStatus, state, stateRow, statusLabel, timeEl,
} from "./shared.js";
import { api, keysPath } from "./api.js";
import { announce, listen } from "./bus.js";
import { loadTable } from "./tables.js";

const SEARCH_DELAY_MS = 300;

function resetPaging() {
  state.cursors = [null];
  state.page = 0;
  state.nextCursor = null;
}

const KEY_COLUMNS = 9;

const KEYS_TABLE = {
  table: "keys-table", body: "keys-body", status: "list-status", columns: KEY_COLUMNS, noun: "API keys",
  pager: ["page-prev", "page-next"], retry: () => loadList(),
};

async function loadList() {
  const data = await loadTable(KEYS_TABLE, () => api("GET", keysPath(), {
    query: { status: state.status, search: state.search, limit: state.limit, cursor: state.cursors[state.page] },
  }));
  if (!data) return; // failed, or a newer search or filter won
  state.items = data.items || [];
  for (const key of state.items) state.keyNames.set(key.id, key.name);
  state.nextCursor = data.next_cursor || null;
  renderList();
}

function renderList() {
  const body = $("keys-body");
  if (!state.items.length) {
    const filtered = state.search || state.status !== "all";
    const text = state.page > 0 ? "No more API keys."
      : filtered ? "No API keys match this search and filter."
      : "No API keys yet. Create one with + API key.";
    const clear = state.page === 0 && state.search
      ? el("button", { type: "button", className: "button", onclick: clearSearch }, "Clear search") : null;
    body.replaceChildren(stateRow(KEY_COLUMNS, "empty", text, clear));
    setListStatus($("list-status"), text, true);
  } else {
    body.replaceChildren(...state.items.map(row));
    const first = state.page * state.limit + 1;
    const last = first + state.items.length - 1;
    setListStatus($("list-status"), "Showing API keys " + first + "–" + last + (state.nextCursor ? "" : " of " + last) + ".", false);
  }
  $("page-label").textContent = "Page " + (state.page + 1);
  $("page-prev").disabled = state.page === 0;
  $("page-next").disabled = !state.nextCursor;
}

function row(key) {
  const roleDescriptions = Object.fromEntries(state.roles.map((role) => [role.name, role.description]));
  const copyButton = el("button", {
    type: "button",
    className: "icon-button",
    title: "Copy ID",
    "aria-label": "Copy the ID of " + key.name,
    onclick: () => copyText(key.id, copyButton, "ID copied"),
  }, copyIcon());
  const editable = key.status === "active" || key.status === "expired";
  const action = el("button", {
    type: "button",
    className: "button small" + (editable ? "" : " ghost"),
    "aria-label": (editable ? "Edit " : "View ") + key.name + (editable ? "" : " (" + statusLabel(key.status).toLowerCase() + ")"),
    onclick: () => announce("key-opened", key),
  }, editable ? "Edit" : "View");
  const status = el("span", { className: "badge badge-" + key.status }, statusLabel(key.status));
  if (key.status === "revoked" && key.revoked_at) status.title = "Revoked " + formatDate(key.revoked_at, true);
  if (key.status === "expired" && key.expires_at) status.title = "Expired " + formatDate(key.expires_at, true);
  const mine = isSignedInKey(key);
  // data-label names each cell where a narrow screen shows the row as a card.
  return el("tr", { "data-key-id": key.id, className: "key-row status-" + key.status + (mine ? " signed-in-key" : "") },
    el("td", { className: "cell-name", "data-label": "Name" }, el("span", { className: "key-name" }, key.name),
      mine ? el("span", { className: "badge badge-this-key", title: "The key this console is signed in with" }, "this key") : null),
    el("td", { className: "cell-description", "data-label": "Description", title: key.description || null },
      key.description ? el("span", { className: "description-text" }, key.description) : null),
    el("td", { className: "cell-id", "data-label": "ID" }, el("span", { className: "id-wrap" }, el("code", { className: "key-id" }, key.id), copyButton)),
    el("td", { className: "cell-created", "data-label": "Created" }, cellTime(key.created_at, "")),
    el("td", { className: "cell-expires", "data-label": "Expires" }, cellTime(key.expires_at, "Never")),
    el("td", { className: "cell-last-used", "data-label": "Last used" }, cellTime(key.last_used_at, "Never")),
    el("td", { className: "cell-roles", "data-label": "Roles" }, ...(key.roles || []).map((name) =>
      el("span", { className: "chip", title: roleDescriptions[name] || null }, name))),
    el("td", { className: "cell-status", "data-label": "Status" }, status, ...rotationLinks(key)),
    el("td", { className: "cell-action" }, action),
  );
}

// -- search, filter, pages ------------------------------------------------------------------

let searchTimer = null;
function onSearchInput() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    const value = $("search").value.trim();
    if (value === state.search) return;
    state.search = value;
    resetPaging();
    loadList();
  }, SEARCH_DELAY_MS);
}

// An empty search's way back: the search box emptied and focused, the list as it was.
function clearSearch() {
  clearTimeout(searchTimer);
  $("search").value = "";
  $("search").focus();
  state.search = "";
  resetPaging();
  loadList();
}

function onStatusChange(event) {
  state.status = event.target.value;
  resetPaging();
  loadList();
}

function nextPage() {
  if (!state.nextCursor) return;
  state.cursors[state.page + 1] = state.nextCursor;
  state.page += 1;
  loadList();
}

function previousPage() {
  if (state.page === 0) return;
  state.page -= 1;
  loadList();
}

function backToFirstPage() {
  resetPaging();
  loadList();
}

function rotationLinks(key) {
  const links = [];
  if (key.rotated_to) {
    links.push(el("span", { className: "rotation-link" }, "rotated → ", el("code", {}, key.rotated_to)));
    if (key.grace_until && key.status === "active") {
      links.push(el("span", { className: "rotation-link" }, "grace until ", timeEl(key.grace_until, true)));
    }
  }
  if (key.rotated_from) {
    links.push(el("span", { className: "rotation-link" }, "rotated from ", el("code", {}, key.rotated_from)));
  }
  return links;
}

export function wireKeys() {
  $("search").addEventListener("input", onSearchInput);
  for (const radio of document.querySelectorAll('#status-filter input[name="status"]')) {
    radio.addEventListener("change", onStatusChange);
  }
  $("page-next").addEventListener("click", nextPage);
  $("page-prev").addEventListener("click", previousPage);
  $("page-size").addEventListener("change", (event) => {
    state.limit = Number(event.target.value);
    resetPaging();
    loadList();
  });
  state.status = document.querySelector('#status-filter input[name="status"]:checked').value;
  state.limit = Number($("page-size").value);
  listen("console-entered", resetPaging);
  listen("panel-shown", (name) => { if (name === "keys") loadList(); });
  listen("keys-changed", (change) => (change && change.firstPage ? backToFirstPage() : loadList()));
}
