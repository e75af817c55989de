// Signing in and out, the role and vault catalog, and the three panels (#keys, #roles, #events).

import { $, el, setListStatus, state, stateRow, toast } from "./shared.js";
import { ApiError, api } from "./api.js";
import { loadList, resetPaging } from "./keys.js";
import { clearErrors, showError } from "./forms.js";
import { loadRoles } from "./roles.js";
import { loadEvents, resetEventPaging } from "./events.js";

const KEY_ITEM = "apikeys.console.key";
const MANAGE = "apikeys:manage";

function showSignIn(message) {
  $("console-view").hidden = true;
  $("session").hidden = true;
  $("signin-view").hidden = false;
  const form = $("signin-form");
  clearErrors(form);
  if (message) showError(form, new ApiError(0, "", message));
  $("signin-key").focus();
}

async function signIn(key) {
  const who = await api("GET", "/whoami", { key });
  if (!(who.permissions || []).includes(MANAGE)) {
    throw new ApiError(403, "Forbidden", "key: this key cannot manage API keys (it lacks the " + MANAGE + " permission)");
  }
  state.key = key;
  state.whoami = who;
  state.community = who.community; // the key's own: the only community it can see
  sessionStorage.setItem(KEY_ITEM, key);
  enterConsole();
}

export function signOut(message) {
  sessionStorage.removeItem(KEY_ITEM);
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  Object.assign(state, { key: null, whoami: null, community: null, items: [], editing: null, communityRoles: [], editingRole: null });
  state.keyNames = new Map();
  $("keys-body").replaceChildren();
  $("roles-body").replaceChildren();
  $("events-body").replaceChildren();
  showSignIn(message);
}

function enterConsole() {
  $("signin-view").hidden = true;
  $("signin-key").value = "";
  $("console-view").hidden = false;
  $("session").hidden = false;
  $("session-community").textContent = state.community;
  $("crumb-community").textContent = state.community;
  $("session-key-id").textContent = state.whoami.id;
  resetPaging();
  loadCatalog();
  showPanel(panelFromHash());
}

export async function loadCatalog() {
  try {
    const [roles, vaults] = await Promise.all([api("GET", "/roles"), api("GET", "/vaults")]);
    state.roles = roles.items || [];
    state.vaults = vaults.items || [];
  } catch (error) {
    if (error.status === 401) return signOut(error.message);
    toast("Could not load the role catalog: " + error.message);
  }
}

const PANELS = ["keys", "roles", "events"];

function panelFromHash() {
  const name = window.location.hash.replace(/^#/, "");
  return PANELS.includes(name) ? name : "keys";
}

function showPanel(name) {
  state.panel = name;
  for (const panel of PANELS) {
    $(panel + "-panel").hidden = panel !== name;
    const tab = $("tab-" + panel);
    if (panel === name) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  if (name === "keys") loadList();
  else if (name === "roles") loadRoles();
  else if (name === "events") { resetEventPaging(); loadEvents(); }
}

function onHashChange() {
  if (state.key && panelFromHash() !== state.panel) showPanel(panelFromHash());
}

const tableLoads = new Map(); // table id → the number of its latest load: older answers are dropped

// One load of a panel's table: busy with a loading row while request() runs, then its data; or,
// when it fails, the error in the table with a Retry button. Resolves to null when the load
// failed or a newer load of the same table (search, filter, page) has started since.
export async function loadTable(view, request) {
  const ticket = (tableLoads.get(view.table) || 0) + 1;
  tableLoads.set(view.table, ticket);
  const body = $(view.body);
  $(view.table).setAttribute("aria-busy", "true");
  setListStatus($(view.status), "Loading " + view.noun + "…", true);
  body.replaceChildren(stateRow(view.columns, "loading", "Loading " + view.noun + "…"));
  for (const button of view.pager || []) $(button).disabled = true;
  let data;
  try {
    data = await request();
  } catch (error) {
    if (ticket !== tableLoads.get(view.table)) return null;
    if (error.status === 401) { signOut(error.message); return null; }
    $(view.table).removeAttribute("aria-busy");
    setListStatus($(view.status), "The " + view.noun + " could not be loaded.", true);
    const retry = el("button", { type: "button", className: "button", onclick: () => view.retry() }, "Retry");
    body.replaceChildren(stateRow(view.columns, "error", "The " + view.noun + " could not be loaded: " + error.message, retry));
    return null;
  }
  if (ticket !== tableLoads.get(view.table)) return null;
  $(view.table).removeAttribute("aria-busy");
  return data;
}

async function onSignInSubmit(event) {
  event.preventDefault();
  const form = $("signin-form");
  clearErrors(form);
  const key = $("signin-key").value.trim();
  if (!key) return showError(form, new ApiError(0, "", "key: paste an API key"));
  $("signin-submit").disabled = true;
  try {
    await signIn(key);
  } catch (error) {
    if (error.status === 401) showError(form, new ApiError(401, "", "key: " + error.message));
    else showError(form, error.field ? error : new ApiError(error.status, "", error.message));
  } finally {
    $("signin-submit").disabled = false;
  }
}

export function wireSession() {
  $("signin-form").addEventListener("submit", onSignInSubmit);
  $("sign-out").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", onHashChange);
}

// Signs in again with the key this tab saved, or shows the sign-in form.
export function resumeSession() {
  const saved = sessionStorage.getItem(KEY_ITEM);
  if (!saved) return showSignIn();
  signIn(saved).catch((error) => {
    sessionStorage.removeItem(KEY_ITEM);
    showSignIn(error.status === 401 ? "key: your saved key is no longer accepted; sign in again" : error.message);
  });
}
