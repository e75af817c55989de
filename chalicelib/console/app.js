// The API keys console. Plain JavaScript, no dependencies.
//
// Rules this file keeps:
// - User data reaches the DOM only through textContent / attributes, never innerHTML.
// - The signed-in key lives in sessionStorage only (never localStorage, cookies or the URL).
// - A new key's secret lives in one DOM node while its dialog is open, and nowhere else;
//   closing the dialog empties that node.
(function () {
  "use strict";

  const SCRIPT = document.currentScript;
  // The app root: this script is served from <root>/console/app.js.
  const ROOT = new URL("../", SCRIPT ? SCRIPT.src : window.location.href);
  const KEY_ITEM = "apikeys.console.key";
  const COMMUNITY_ITEM = "apikeys.console.community";
  const MANAGE = "apikeys:manage";
  const SEARCH_DELAY_MS = 300;
  const COPY_ICON_PATH =
    "M16 1H4a2 2 0 0 0-2 2v14h2V3h12V1zm3 4H8a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h11a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2zm0 16H8V7h11v14z";

  const state = {
    key: null,
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
    listRequest: 0,
    editing: null,
    createAttempt: null,
  };

  const $ = (id) => document.getElementById(id);

  // -- DOM helpers: text only ---------------------------------------------------------------

  function el(tag, props, ...children) {
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

  function copyIcon() {
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

  function formatDate(iso, withTime) {
    if (!iso) return "";
    const moment = new Date(iso);
    if (Number.isNaN(moment.getTime())) return iso;
    const options = withTime ? { dateStyle: "medium", timeStyle: "short" } : { dateStyle: "medium" };
    return new Intl.DateTimeFormat(undefined, options).format(moment);
  }

  function timeEl(iso, withTime) {
    return el("time", { datetime: iso, title: iso }, formatDate(iso, withTime));
  }

  function statusLabel(status) {
    return { active: "Active", revoked: "Revoked", expired: "Expired", pending: "Pending", failed: "Failed" }[status] || status;
  }

  function toast(message) {
    const node = $("toast");
    node.textContent = message;
    node.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { node.hidden = true; node.textContent = ""; }, 4000);
  }

  // -- the API --------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
      // 400s (and a few 403s) name their field first: "roles: unknown role 'x'".
      const match = /^([A-Za-z_][\w.-]*): ([\s\S]*)$/.exec(message);
      this.field = match ? match[1] : null;
      this.detail = match ? match[2] : message;
    }
  }

  async function api(method, path, options) {
    const { body, query, key, headers: extra } = options || {};
    const url = new URL(path.replace(/^\//, ""), ROOT);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
    }
    const headers = { Accept: "application/json", Authorization: "Bearer " + (key || state.key), ...(extra || {}) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (error) {
      throw new ApiError(0, "NetworkError", "The service could not be reached. Check your connection and try again.");
    }
    const raw = await response.text();
    let data = null;
    try { data = raw ? JSON.parse(raw) : null; } catch (error) { data = null; }
    if (!response.ok) {
      let message = (data && (data.Message || data.message)) || "The service answered " + response.status + ".";
      if (response.status === 401) message = "The key was not accepted: it is unknown, revoked or expired.";
      throw new ApiError(response.status, (data && data.Code) || "", message);
    }
    return data;
  }

  const enc = encodeURIComponent;
  const keysPath = () => "/communities/" + enc(state.community) + "/apikeys";

  // -- form errors beside their field --------------------------------------------------------

  function clearErrors(form) {
    for (const node of form.querySelectorAll("[data-error-for]")) { node.hidden = true; node.textContent = ""; }
    for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  }

  function showError(form, error) {
    let field = error.field;
    let target = field ? form.querySelector('[data-error-for="' + CSS.escape(field) + '"]') : null;
    if (!target && field && field.includes(".")) {
      field = field.split(".")[0];
      target = form.querySelector('[data-error-for="' + CSS.escape(field) + '"]');
    }
    const text = target ? error.detail : error.message;
    if (!target) target = form.querySelector('[data-error-for="_form"]');
    if (!target) { toast(error.message); return; }
    target.textContent = capitalise(text);
    target.hidden = false;
    // The control the message describes, for aria-invalid and focus.
    const control = target.id ? form.querySelector('[aria-describedby~="' + CSS.escape(target.id) + '"]') : null;
    if (control) {
      control.setAttribute("aria-invalid", "true");
      const focusable = control.matches("input, select, textarea") ? control : control.querySelector("input, select, textarea");
      if (focusable) focusable.focus();
    }
  }

  function capitalise(text) {
    return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
  }

  // -- sign in and out ------------------------------------------------------------------------

  function showSignIn(message) {
    $("console-view").hidden = true;
    $("session").hidden = true;
    $("signin-view").hidden = false;
    const form = $("signin-form");
    clearErrors(form);
    if (message) showError(form, new ApiError(0, "", message));
    $("signin-key").focus();
  }

  async function signIn(key, community) {
    const who = await api("GET", "/whoami", { key });
    if (!(who.permissions || []).includes(MANAGE)) {
      throw new ApiError(403, "Forbidden", "key: this key cannot manage API keys (it lacks the " + MANAGE + " permission)");
    }
    state.key = key;
    state.whoami = who;
    state.community = community || who.community;
    sessionStorage.setItem(KEY_ITEM, key);
    sessionStorage.setItem(COMMUNITY_ITEM, state.community);
    enterConsole();
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY_ITEM);
    sessionStorage.removeItem(COMMUNITY_ITEM);
    for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
    Object.assign(state, { key: null, whoami: null, community: null, items: [], editing: null });
    $("keys-body").replaceChildren();
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
    loadList();
  }

  async function loadCatalog() {
    try {
      const [roles, vaults] = await Promise.all([api("GET", "/roles"), api("GET", "/vaults")]);
      state.roles = roles.items || [];
      state.vaults = vaults.items || [];
    } catch (error) {
      if (error.status === 401) return signOut(error.message);
      toast("Could not load the role catalog: " + error.message);
    }
  }

  // -- the table ------------------------------------------------------------------------------

  function resetPaging() {
    state.cursors = [null];
    state.page = 0;
    state.nextCursor = null;
  }

  function messageRow(kind, text, action) {
    const cell = el("td", { colspan: 7, className: "state-cell state-" + kind }, el("p", { text }));
    if (action) cell.append(action);
    return el("tr", { className: "state-row" }, cell);
  }

  async function loadList() {
    const ticket = ++state.listRequest;
    const body = $("keys-body");
    $("keys-table").setAttribute("aria-busy", "true");
    $("list-status").textContent = "Loading API keys…";
    body.replaceChildren(messageRow("loading", "Loading API keys…"));
    $("page-prev").disabled = true;
    $("page-next").disabled = true;
    let data;
    try {
      data = await api("GET", keysPath(), {
        query: { status: state.status, search: state.search, limit: state.limit, cursor: state.cursors[state.page] },
      });
    } catch (error) {
      if (ticket !== state.listRequest) return;
      if (error.status === 401) return signOut(error.message);
      $("keys-table").removeAttribute("aria-busy");
      $("list-status").textContent = "The API keys could not be loaded.";
      const retry = el("button", { type: "button", className: "button", onclick: () => loadList() }, "Retry");
      body.replaceChildren(messageRow("error", "The API keys could not be loaded: " + error.message, retry));
      return;
    }
    if (ticket !== state.listRequest) return; // a newer search or filter won
    state.items = data.items || [];
    state.nextCursor = data.next_cursor || null;
    renderList();
  }

  function renderList() {
    const body = $("keys-body");
    $("keys-table").removeAttribute("aria-busy");
    if (!state.items.length) {
      const filtered = state.search || state.status !== "all";
      const text = state.page > 0 ? "No more API keys."
        : filtered ? "No API keys match this search and filter."
        : "No API keys yet. Create one with + API key.";
      body.replaceChildren(messageRow("empty", text));
      $("list-status").textContent = text;
    } else {
      body.replaceChildren(...state.items.map(row));
      const first = state.page * state.limit + 1;
      const last = first + state.items.length - 1;
      $("list-status").textContent = "Showing API keys " + first + "–" + last + (state.nextCursor ? "" : " of " + last) + ".";
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
      onclick: () => openEdit(key),
    }, editable ? "Edit" : "View");
    const status = el("span", { className: "badge badge-" + key.status }, statusLabel(key.status));
    if (key.status === "revoked" && key.revoked_at) status.title = "Revoked " + formatDate(key.revoked_at, true);
    if (key.status === "expired" && key.expires_at) status.title = "Expired " + formatDate(key.expires_at, true);
    return el("tr", { "data-key-id": key.id, className: "key-row status-" + key.status },
      el("td", { className: "cell-name" }, el("span", { className: "key-name" }, key.name)),
      el("td", { className: "cell-description", title: key.description || null }, key.description || ""),
      el("td", { className: "cell-id" }, el("span", { className: "id-wrap" }, el("code", { className: "key-id" }, key.id), copyButton)),
      el("td", { className: "cell-created" }, timeEl(key.created_at, false)),
      el("td", { className: "cell-roles" }, ...(key.roles || []).map((name) =>
        el("span", { className: "chip", title: roleDescriptions[name] || null }, name))),
      el("td", { className: "cell-status" }, status),
      el("td", { className: "cell-action" }, action),
    );
  }

  async function copyText(text, button, done) {
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
    toast(copied ? done : "Could not copy; select the text and copy it by hand.");
    if (copied && button) {
      button.classList.add("copied");
      setTimeout(() => button.classList.remove("copied"), 1500);
    }
    return copied;
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

  // -- role picker ----------------------------------------------------------------------------

  function renderRolePicker(container, prefix, selected, disabled) {
    const chosen = new Set(selected || []);
    const names = state.roles.map((role) => role.name);
    // A key may hold a role the catalog no longer lists; keep it visible so an edit keeps it.
    for (const name of chosen) if (!names.includes(name)) state.roles.push({ name, description: "(not in the catalog)" });
    // A key that can no longer be edited shows only the roles it holds.
    const shown = disabled ? state.roles.filter((role) => chosen.has(role.name)) : state.roles;
    container.replaceChildren(...shown.map((role) => {
      const id = prefix + "-role-" + role.name;
      return el("div", { className: "role-option" },
        el("input", { type: "checkbox", id, name: "roles", value: role.name, checked: chosen.has(role.name), disabled }),
        el("label", { for: id },
          el("span", { className: "role-name" }, role.name),
          el("span", { className: "role-description" }, " – " + (role.description || ""))));
    }));
    if (!state.roles.length) container.append(el("p", { className: "muted" }, "The role catalog could not be loaded."));
  }

  function checkedRoles(container) {
    return Array.from(container.querySelectorAll('input[name="roles"]:checked'), (box) => box.value);
  }

  // -- create ---------------------------------------------------------------------------------

  function randomToken() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function isoDate(date) {
    const pad = (n) => String(n).padStart(2, "0");
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate());
  }

  async function openCreate() {
    const form = $("create-form");
    form.reset();
    clearErrors(form);
    if (!state.roles.length) await loadCatalog();
    renderRolePicker($("create-roles"), "create", [], false);
    $("create-expiry-date-row").hidden = true;
    const today = new Date();
    $("create-expiry-date").min = isoDate(new Date(today.getFullYear(), today.getMonth(), today.getDate() + 1));
    $("create-expiry-date").max = isoDate(new Date(today.getFullYear(), today.getMonth(), today.getDate() + 365));
    const vaultBox = $("create-vault");
    vaultBox.hidden = !state.vaults.length;
    const select = $("create-vault-target");
    select.replaceChildren(el("option", { value: "" }, "No vault: show the secret here only"),
      ...state.vaults.map((vault) => el("option", { value: vault.name }, vault.name + (vault.kind ? " (" + vault.kind + ")" : ""))));
    onVaultChange();
    state.createAttempt = randomToken();
    $("create-save").disabled = false;
    $("create-dialog").showModal();
    $("create-name").focus();
  }

  function onVaultChange() {
    const chosen = Boolean($("create-vault-target").value);
    $("create-vault-path-row").hidden = !chosen;
    $("create-reveal-row").hidden = !chosen;
    if (!chosen) $("create-reveal").checked = true;
  }

  function onExpiryChange() {
    const custom = $("create-form").querySelector('input[name="expiry"]:checked').value === "custom";
    $("create-expiry-date-row").hidden = !custom;
    if (custom) $("create-expiry-date").focus();
  }

  function createBody() {
    const body = {
      name: $("create-name").value,
      description: $("create-description").value,
      roles: checkedRoles($("create-roles")),
    };
    const expiry = $("create-form").querySelector('input[name="expiry"]:checked').value;
    if (expiry === "custom") {
      const day = $("create-expiry-date").value;
      if (!day) throw new ApiError(400, "BadRequestError", "expires_at: pick a date");
      body.expires_at = new Date(day + "T00:00:00").toISOString();
    } else if (expiry !== "none") {
      body.expires_in_days = Number(expiry);
    }
    const target = $("create-vault-target").value;
    if (state.vaults.length && target) {
      body.vault = { target };
      const path = $("create-vault-path").value.trim();
      if (path) body.vault.path = path;
      body.reveal = $("create-reveal").checked;
    }
    return body;
  }

  async function submitCreate(event) {
    event.preventDefault();
    const form = $("create-form");
    clearErrors(form);
    const save = $("create-save");
    save.disabled = true;
    try {
      const result = await api("POST", keysPath(), {
        body: createBody(),
        headers: { "Idempotency-Key": state.createAttempt },
      });
      $("create-dialog").close();
      backToFirstPage();
      if (result.secret) {
        showSecret(result.api_key, result.secret);
      } else if (result.replayed) {
        toast("This key was already created by an earlier attempt; its secret cannot be shown again.");
      } else {
        const where = result.api_key.vault ? " into " + result.api_key.vault.target : "";
        toast("Key created; its secret was saved" + where + ".");
      }
    } catch (error) {
      if (error.status === 401) return signOut(error.message);
      showError(form, error);
    } finally {
      save.disabled = false;
    }
  }

  function backToFirstPage() {
    resetPaging();
    loadList();
  }

  // -- the secret, once -----------------------------------------------------------------------

  function showSecret(key, secret) {
    $("secret-key-name").textContent = key.name;
    $("secret-value").textContent = secret;
    $("secret-copy-status").textContent = "";
    const note = $("secret-vault-note");
    note.hidden = !key.vault;
    note.textContent = key.vault ? "A copy was also saved into the vault " + key.vault.target + "." : "";
    $("secret-dialog").showModal();
    $("secret-copy").focus();
  }

  function forgetSecret() {
    $("secret-value").textContent = "";
    $("secret-key-name").textContent = "";
    $("secret-copy-status").textContent = "";
  }

  async function copySecret() {
    const copied = await copyText($("secret-value").textContent, $("secret-copy"), "Key copied");
    $("secret-copy-status").textContent = copied ? "Copied to the clipboard." : "Could not copy; select the key and copy it by hand.";
  }

  // -- edit and revoke ------------------------------------------------------------------------

  function detail(term, value) {
    if (value === undefined || value === null || value === "") return [];
    return [el("dt", {}, term), el("dd", {}, value)];
  }

  async function openEdit(key) {
    state.editing = key;
    const form = $("edit-form");
    clearErrors(form);
    if (!state.roles.length) await loadCatalog();
    const editable = key.status === "active" || key.status === "expired";
    $("edit-title").textContent = editable ? "Edit API key" : "API key (" + statusLabel(key.status).toLowerCase() + ")";
    $("edit-name").value = key.name;
    $("edit-description").value = key.description || "";
    $("edit-name").disabled = !editable;
    $("edit-description").disabled = !editable;
    renderRolePicker($("edit-roles"), "edit", key.roles, !editable);
    const note = $("edit-revoked-note");
    note.hidden = key.status !== "revoked";
    note.textContent = key.status === "revoked"
      ? "This key was revoked" + (key.revoked_at ? " on " + formatDate(key.revoked_at, true) : "") + ". It no longer works and can no longer be edited."
      : "";
    $("edit-details").replaceChildren(
      ...detail("ID", el("code", {}, key.id)),
      ...detail("Status", statusLabel(key.status)),
      ...detail("Hint", key.hint ? el("code", {}, key.hint) : null),
      ...detail("Created", key.created_at ? timeEl(key.created_at, true) : null),
      ...detail("Created by", key.created_by),
      ...detail("Expires", key.expires_at ? timeEl(key.expires_at, true) : "Never"),
      ...detail("Last used", key.last_used_at ? timeEl(key.last_used_at, true) : "Never"),
      ...detail("Vault", key.vault ? key.vault.target + (key.vault.path ? " · " + key.vault.path : "") : null),
      ...detail("Revoked", key.revoked_at ? timeEl(key.revoked_at, true) : null),
      ...detail("Revoked by", key.revoked_by),
    );
    $("edit-save").hidden = !editable;
    $("edit-revoke").hidden = key.status !== "active" && key.status !== "expired";
    $("edit-cancel").textContent = editable ? "Cancel" : "Close";
    $("edit-dialog").showModal();
    (editable ? $("edit-name") : $("edit-cancel")).focus();
  }

  async function submitEdit(event) {
    event.preventDefault();
    const key = state.editing;
    if (!key) return;
    const form = $("edit-form");
    clearErrors(form);
    const body = {
      name: $("edit-name").value,
      description: $("edit-description").value,
      roles: checkedRoles($("edit-roles")),
    };
    $("edit-save").disabled = true;
    try {
      const updated = await api("PATCH", keysPath() + "/" + enc(key.id), { body });
      $("edit-dialog").close();
      toast("Saved " + updated.name + ".");
      loadList();
    } catch (error) {
      if (error.status === 401) return signOut(error.message);
      showError(form, error);
    } finally {
      $("edit-save").disabled = false;
    }
  }

  function askRevoke() {
    const key = state.editing;
    if (!key) return;
    $("revoke-key-name").textContent = key.name;
    $("revoke-error").hidden = true;
    $("revoke-error").textContent = "";
    $("revoke-confirm").disabled = false;
    $("revoke-dialog").showModal();
    $("revoke-cancel").focus();
  }

  async function confirmRevoke() {
    const key = state.editing;
    if (!key) return;
    $("revoke-confirm").disabled = true;
    try {
      const revoked = await api("POST", keysPath() + "/" + enc(key.id) + "/revoke");
      $("revoke-dialog").close();
      $("edit-dialog").close();
      toast("Revoked " + revoked.name + ". It no longer works.");
      loadList();
    } catch (error) {
      if (error.status === 401) return signOut(error.message);
      $("revoke-error").textContent = error.message;
      $("revoke-error").hidden = false;
      $("revoke-confirm").disabled = false;
    }
  }

  // -- wiring ---------------------------------------------------------------------------------

  async function onSignInSubmit(event) {
    event.preventDefault();
    const form = $("signin-form");
    clearErrors(form);
    const key = $("signin-key").value.trim();
    const community = $("signin-community").value.trim();
    if (!key) return showError(form, new ApiError(0, "", "key: paste an API key"));
    $("signin-submit").disabled = true;
    try {
      await signIn(key, community);
    } catch (error) {
      if (error.status === 401) showError(form, new ApiError(401, "", "key: " + error.message));
      else showError(form, error.field ? error : new ApiError(error.status, "", error.message));
    } finally {
      $("signin-submit").disabled = false;
    }
  }

  function start() {
    $("signin-form").addEventListener("submit", onSignInSubmit);
    $("sign-out").addEventListener("click", () => signOut());
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
    $("add-key").addEventListener("click", openCreate);
    $("create-form").addEventListener("submit", submitCreate);
    $("create-cancel").addEventListener("click", () => $("create-dialog").close());
    $("create-vault-target").addEventListener("change", onVaultChange);
    for (const radio of document.querySelectorAll('#create-form input[name="expiry"]')) {
      radio.addEventListener("change", onExpiryChange);
    }
    $("secret-copy").addEventListener("click", copySecret);
    $("secret-done").addEventListener("click", () => $("secret-dialog").close());
    $("secret-dialog").addEventListener("close", forgetSecret);
    $("edit-form").addEventListener("submit", submitEdit);
    $("edit-cancel").addEventListener("click", () => $("edit-dialog").close());
    $("edit-dialog").addEventListener("close", () => { state.editing = null; });
    $("edit-revoke").addEventListener("click", askRevoke);
    $("revoke-cancel").addEventListener("click", () => $("revoke-dialog").close());
    $("revoke-confirm").addEventListener("click", confirmRevoke);

    state.status = document.querySelector('#status-filter input[name="status"]:checked').value;
    state.limit = Number($("page-size").value);
    const saved = sessionStorage.getItem(KEY_ITEM);
    if (!saved) return showSignIn();
    signIn(saved, sessionStorage.getItem(COMMUNITY_ITEM) || "").catch((error) => {
      sessionStorage.removeItem(KEY_ITEM);
      showSignIn(error.status === 401 ? "key: your saved key is no longer accepted; sign in again" : error.message);
    });
  }

  start();
})();
