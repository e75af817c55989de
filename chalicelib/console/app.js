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
    panel: "keys",
    permissions: null, // the permission catalog, from /openapi.json
    communityRoles: [],
    editingRole: null,
    events: { cursors: [null], page: 0, nextCursor: null, limit: 25, request: 0 },
    keyEvents: { keyId: null, cursor: null, request: 0 },
    keyNames: new Map(), // key id → name, for "Created by"
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

  function fullTimestamp(iso) {
    const moment = new Date(iso);
    if (Number.isNaN(moment.getTime())) return iso;
    return new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" }).format(moment);
  }

  function timeEl(iso, withTime) {
    return el("time", { datetime: iso, title: fullTimestamp(iso) }, formatDate(iso, withTime));
  }

  // A table cell's time: the date, then the time on its own line, the full timestamp on hover.
  function cellTime(iso, missing) {
    if (!iso) return el("span", { className: "muted" }, missing);
    const moment = new Date(iso);
    if (Number.isNaN(moment.getTime())) return document.createTextNode(iso);
    const time = new Intl.DateTimeFormat(undefined, { timeStyle: "short" }).format(moment);
    return el("time", { datetime: iso, title: fullTimestamp(iso) },
      el("span", { className: "time-date" }, formatDate(iso, false)), " ", el("span", { className: "time-clock" }, time));
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
    const { body, query, key, headers: extra, anonymous } = options || {};
    const url = new URL(path.replace(/^\//, ""), ROOT);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
    }
    const headers = { Accept: "application/json", ...(extra || {}) };
    // Public documents (the OpenAPI description) are fetched without the key.
    if (!anonymous) headers.Authorization = "Bearer " + (key || state.key);
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
      const error = new ApiError(response.status, (data && data.Code) || "", message);
      error.data = data;
      throw error;
    }
    return data;
  }

  const enc = encodeURIComponent;
  const communityPath = () => "/communities/" + enc(state.community);
  const keysPath = () => communityPath() + "/apikeys";

  // -- form errors beside their field --------------------------------------------------------

  function clearErrors(form) {
    for (const node of form.querySelectorAll("[data-error-for]")) { node.hidden = true; node.textContent = ""; }
    for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  }

  // The controls an error message describes (aria-describedby names it).
  function controlsOf(form, message) {
    return message.id ? Array.from(form.querySelectorAll('[aria-describedby~="' + CSS.escape(message.id) + '"]')) : [];
  }

  function clearError(form, message) {
    message.hidden = true;
    message.textContent = "";
    for (const control of controlsOf(form, message)) control.removeAttribute("aria-invalid");
  }

  // Every wrong field at once, each beside its message; the first one gets the focus.
  function showErrors(form, errors) {
    clearErrors(form);
    let first = null;
    for (const error of errors) {
      const focusable = markError(form, error);
      if (!first && focusable) first = focusable;
    }
    if (first) first.focus();
  }

  // A message goes as soon as its field is mended: when the person changes that field and the
  // console's own check of it (problems) no longer complains. Errors without a check of their
  // own (the service's) go when their field is changed at all.
  function watchMends(form, problems) {
    const onChange = (event) => {
      const remaining = new Set(problems().map((problem) => problem.field));
      for (const message of form.querySelectorAll("[data-error-for]:not([hidden])")) {
        const field = message.getAttribute("data-error-for");
        if (field === "_form" || remaining.has(field)) continue;
        const controls = controlsOf(form, message);
        if (controls.some((control) => control === event.target || control.contains(event.target))) clearError(form, message);
      }
    };
    form.addEventListener("input", onChange);
    form.addEventListener("change", onChange);
  }

  function showError(form, error) {
    const focusable = markError(form, error);
    if (focusable) focusable.focus();
  }

  function markError(form, error) {
    let field = error.field;
    let target = field ? form.querySelector('[data-error-for="' + CSS.escape(field) + '"]') : null;
    if (!target && field && field.includes(".")) {
      field = field.split(".")[0];
      target = form.querySelector('[data-error-for="' + CSS.escape(field) + '"]');
    }
    const text = target ? error.detail : error.message;
    if (!target) target = form.querySelector('[data-error-for="_form"]');
    if (!target) { toast(error.message); return null; }
    target.textContent = capitalise(text);
    target.hidden = false;
    // The controls the message describes: aria-invalid on each, the focus on the first.
    const controls = controlsOf(form, target);
    for (const control of controls) control.setAttribute("aria-invalid", "true");
    if (!controls.length) return null;
    const direct = controls.find((control) => control.matches("input, select, textarea") && control.getClientRects().length);
    return direct || controls[0].querySelector("input, select, textarea");
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

  const KEY_COLUMNS = 9;

  function messageRow(kind, text, action) {
    return stateRow(KEY_COLUMNS, kind, text, action);
  }

  // A table's status line says in words what the table shows. While the table itself shows a
  // state (loading, empty, error) the line is for screen readers only, so it is seen once.
  function setListStatus(node, text, tableShowsIt) {
    node.textContent = text;
    node.classList.toggle("visually-hidden", Boolean(tableShowsIt));
  }

  async function loadList() {
    const ticket = ++state.listRequest;
    const body = $("keys-body");
    $("keys-table").setAttribute("aria-busy", "true");
    setListStatus($("list-status"), "Loading API keys…", true);
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
      setListStatus($("list-status"), "The API keys could not be loaded.", true);
      const retry = el("button", { type: "button", className: "button", onclick: () => loadList() }, "Retry");
      body.replaceChildren(messageRow("error", "The API keys could not be loaded: " + error.message, retry));
      return;
    }
    if (ticket !== state.listRequest) return; // a newer search or filter won
    state.items = data.items || [];
    for (const key of state.items) state.keyNames.set(key.id, key.name);
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
      onclick: () => openEdit(key),
    }, editable ? "Edit" : "View");
    const status = el("span", { className: "badge badge-" + key.status }, statusLabel(key.status));
    if (key.status === "revoked" && key.revoked_at) status.title = "Revoked " + formatDate(key.revoked_at, true);
    if (key.status === "expired" && key.expires_at) status.title = "Expired " + formatDate(key.expires_at, true);
    const mine = isSignedInKey(key);
    // data-label names each cell where a narrow screen shows the row as a card.
    return el("tr", { "data-key-id": key.id, className: "key-row status-" + key.status + (mine ? " signed-in-key" : "") },
      el("td", { className: "cell-name", "data-label": "Name" }, el("span", { className: "key-name" }, key.name),
        mine ? el("span", { className: "badge badge-this-key", title: "The key this console is signed in with" }, "this key") : null),
      el("td", { className: "cell-description", "data-label": "Description", title: key.description || null }, key.description || null),
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

  function isSignedInKey(key) {
    return Boolean(state.whoami && key && key.id === state.whoami.id);
  }

  async function copyText(text, button, done, quiet) {
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
      const permissions = role.permissions || [];
      const grants = el("span", { className: "role-permissions", id: id + "-permissions" },
        el("span", { className: "visually-hidden" }, "Grants: "),
        ...(permissions.length ? permissions.map((name) => el("code", { className: "permission" }, name))
          : [el("span", { className: "muted" }, "no permissions listed")]));
      return el("div", { className: "role-option" },
        el("input", {
          type: "checkbox", id, name: "roles", value: role.name, checked: chosen.has(role.name), disabled,
          "aria-describedby": id + "-permissions " + prefix + "-roles-error",
        }),
        el("div", { className: "role-text" },
          el("label", { for: id },
            el("span", { className: "role-name" }, role.name),
            el("span", { className: "role-description" }, " – " + (role.description || ""))),
          grants));
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

  // What the console checks itself, so that every wrong field is shown at once.
  function createProblems() {
    const problems = keyProblems("create");
    const expiry = $("create-form").querySelector('input[name="expiry"]:checked').value;
    if (expiry === "custom" && !$("create-expiry-date").value) problems.push(new ApiError(400, "", "expires_at: pick a date"));
    return problems;
  }

  function keyProblems(prefix) {
    const problems = [];
    if (!$(prefix + "-name").value.trim()) problems.push(new ApiError(400, "", "name: must not be empty"));
    if (!$(prefix + "-roles").querySelector('input[name="roles"]:checked')) {
      problems.push(new ApiError(400, "", "roles: must name at least one role"));
    }
    return problems;
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
    Object.assign(body, planChoice(null));
    return body;
  }

  async function submitCreate(event) {
    event.preventDefault();
    const form = $("create-form");
    clearErrors(form);
    const problems = createProblems();
    if (problems.length) return showErrors(form, problems);
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
        showVaulted(result.api_key, null);
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

  function showSecret(key, secret, previous) {
    $("secret-title").textContent = previous ? "Your rotated API key" : "Your new API key";
    $("secret-key-name").textContent = key.name;
    $("secret-verb").textContent = previous ? "rotated: this is the new key" : "created";
    showRotationNote($("secret-rotation-note"), previous);
    $("secret-value").textContent = secret;
    $("secret-copy-status").textContent = "";
    $("secret-vault-note").hidden = !key.vault;
    renderLocation($("secret-vault-location"), key.vault);
    $("secret-dialog").showModal();
    $("secret-copy").focus();
  }

  function forgetSecret() {
    $("secret-value").textContent = "";
    $("secret-value").scrollLeft = 0;
    $("secret-key-name").textContent = "";
    $("secret-copy-status").textContent = "";
  }

  async function copySecret() {
    const copied = await copyText($("secret-value").textContent, $("secret-copy"), "Key copied", true);
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
      ...detail("Created by", actorEl(key.created_by)),
      ...detail("Expires", key.expires_at ? timeEl(key.expires_at, true) : "Never"),
      ...detail("Last used", key.last_used_at ? timeEl(key.last_used_at, true) : "Never"),
      ...detail("Vault", key.vault ? key.vault.target + (key.vault.path ? " · " + key.vault.path : "") : null),
      ...detail("Rotated from", key.rotated_from ? el("code", {}, key.rotated_from) : null),
      ...detail("Rotated to", key.rotated_to ? el("code", {}, key.rotated_to) : null),
      ...detail(key.status === "active" ? "Works until" : "Grace until", key.rotated_to && key.grace_until ? timeEl(key.grace_until, true) : null),
      ...detail("Revoked", key.revoked_at ? timeEl(key.revoked_at, true) : null),
      ...detail("Revoked by", actorEl(key.revoked_by)),
    );
    $("edit-save").hidden = !editable;
    $("edit-revoke").hidden = key.status !== "active" && key.status !== "expired";
    $("edit-rotate").hidden = !rotatable(key);
    resetKeyEvents(key);
    $("edit-cancel").textContent = editable ? "Cancel" : "Close";
    showPlanAndUsage(key, editable);
    $("edit-dialog").showModal();
    (editable ? $("edit-name") : $("edit-cancel")).focus();
  }

  // "key:<id>" shown with that key's name when the console knows it or can look it up.
  function actorEl(actor) {
    const match = /^key:([0-9A-Za-z]+)$/.exec(actor || "");
    if (!match) return actor;
    const id = match[1];
    const node = el("span", { className: "actor" }, el("code", {}, actor));
    const show = (name) => { if (name) node.replaceChildren(el("span", { className: "actor-name" }, name), " ", el("code", {}, id)); };
    if (state.keyNames.has(id)) {
      show(state.keyNames.get(id));
    } else {
      state.keyNames.set(id, null); // asked once: another community's key stays an id
      api("GET", keysPath() + "/" + enc(id)).then((found) => {
        state.keyNames.set(id, found.name);
        show(found.name);
      }).catch(() => {});
    }
    return node;
  }

  async function submitEdit(event) {
    event.preventDefault();
    const key = state.editing;
    if (!key) return;
    const form = $("edit-form");
    clearErrors(form);
    const problems = keyProblems("edit");
    if (problems.length) return showErrors(form, problems);
    // Only what the person changed is sent, so the audit trail records only that.
    const body = {};
    const name = $("edit-name").value;
    const description = $("edit-description").value;
    const roles = checkedRoles($("edit-roles"));
    if (name.trim() !== key.name) body.name = name;
    if (description !== (key.description || "")) body.description = description;
    if (!sameSet(roles, key.roles || [])) body.roles = roles;
    Object.assign(body, planChoice(key));
    if (!Object.keys(body).length) {
      $("edit-dialog").close();
      toast("Nothing changed, nothing saved.");
      return;
    }
    $("edit-save").disabled = true;
    try {
      const updated = await api("PATCH", keysPath() + "/" + enc(key.id), { body });
      $("edit-dialog").close();
      toast(updated.changed && !updated.changed.length ? "Nothing changed, nothing saved." : "Saved " + updated.name + ".");
      loadList();
    } catch (error) {
      if (error.status === 401) return signOut(error.message);
      showError(form, error);
    } finally {
      $("edit-save").disabled = false;
    }
  }

  function sameSet(left, right) {
    return left.length === right.length && left.every((item) => right.includes(item));
  }

  function askRevoke() {
    const key = state.editing;
    if (!key) return;
    $("revoke-key-name").textContent = key.name;
    $("revoke-reason").value = "";
    $("revoke-self-warning").hidden = !isSignedInKey(key);
    $("revoke-dialog").setAttribute("aria-describedby", "revoke-text" + (isSignedInKey(key) ? " revoke-self-warning" : ""));
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
    const reason = $("revoke-reason").value.trim();
    try {
      const revoked = await api("POST", keysPath() + "/" + enc(key.id) + "/revoke", reason ? { body: { reason } } : undefined);
      if (isSignedInKey(key)) {
        signOut("key: you revoked the key this console was signed in with; sign in with another key");
        return;
      }
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

  // -- vault locations and rotation links -----------------------------------------------------

  function renderLocation(list, vault) {
    if (!vault) { list.replaceChildren(); return; }
    list.replaceChildren(
      ...detail("Vault", vault.target + (vault.kind ? " (" + vault.kind + ")" : "")),
      ...detail("Mount", vault.mount),
      ...detail("Path", vault.path ? el("code", { className: "vault-path" }, vault.path) : null),
      ...detail("ARN", vault.arn ? el("code", {}, vault.arn) : null),
      ...detail("Version", vault.version === undefined || vault.version === null ? null : String(vault.version)),
    );
  }

  function showRotationNote(node, previous) {
    node.hidden = !previous;
    if (!previous) { node.replaceChildren(); return; }
    if (previous.status === "revoked") {
      node.replaceChildren("The old key ", el("code", {}, previous.id), " was revoked at once.");
    } else {
      node.replaceChildren("The old key ", el("code", {}, previous.id), " keeps working until ",
        timeEl(previous.grace_until, true), "; then it is refused. Move its users to the new key before then.");
    }
  }

  function showVaulted(key, previous) {
    $("vaulted-key-name").textContent = key.name;
    showRotationNote($("vaulted-rotation-note"), previous);
    renderLocation($("vaulted-location"), key.vault);
    $("vaulted-dialog").showModal();
    $("vaulted-done").focus();
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

  // -- rotate ---------------------------------------------------------------------------------

  function rotatable(key) {
    return key.status === "active" && !key.rotated_to;
  }

  function openRotate() {
    const key = state.editing;
    if (!key || !rotatable(key)) return;
    const form = $("rotate-form");
    form.reset();
    clearErrors(form);
    $("rotate-key-name").textContent = key.name;
    $("rotate-reveal-row").hidden = !key.vault;
    const help = $("rotate-expiry-help");
    help.hidden = !key.expires_at;
    help.replaceChildren(...(key.expires_at
      ? ["Never past the key's own expiry: ", timeEl(key.expires_at, true), "."] : []));
    $("rotate-confirm").disabled = false;
    $("rotate-dialog").showModal();
    form.querySelector('input[name="grace"]:checked').focus();
  }

  async function submitRotate(event) {
    event.preventDefault();
    const key = state.editing;
    if (!key) return;
    const form = $("rotate-form");
    clearErrors(form);
    const body = { grace: form.querySelector('input[name="grace"]:checked').value };
    if (key.vault) body.reveal = $("rotate-reveal").checked;
    $("rotate-confirm").disabled = true;
    try {
      const result = await api("POST", keysPath() + "/" + enc(key.id) + "/rotate", { body });
      $("rotate-dialog").close();
      $("edit-dialog").close();
      loadList();
      if (result.secret) showSecret(result.api_key, result.secret, result.previous);
      else showVaulted(result.api_key, result.previous);
    } catch (error) {
      if (error.status === 401) return signOut(error.message);
      showError(form, error);
    } finally {
      $("rotate-confirm").disabled = false;
    }
  }

  // -- panels: API keys, roles, events ----------------------------------------------------------

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

  // -- roles ----------------------------------------------------------------------------------

  async function loadPermissions() {
    if (state.permissions) return state.permissions;
    const doc = await api("GET", "/openapi.json", { anonymous: true });
    const schema = (((doc || {}).components || {}).schemas || {}).CreateRole;
    const values = schema && schema.properties && schema.properties.permissions && schema.properties.permissions.items
      ? schema.properties.permissions.items.enum : null;
    if (!Array.isArray(values)) throw new ApiError(0, "", "the permission catalog is missing from the API description");
    state.permissions = values.slice();
    return state.permissions;
  }

  async function loadRoles() {
    const ticket = (loadRoles.ticket = (loadRoles.ticket || 0) + 1);
    const body = $("roles-body");
    $("roles-table").setAttribute("aria-busy", "true");
    setListStatus($("roles-status"), "Loading roles…", true);
    body.replaceChildren(stateRow(5, "loading", "Loading roles…"));
    let data;
    try {
      data = await api("GET", communityPath() + "/roles");
    } catch (error) {
      if (ticket !== loadRoles.ticket) return;
      if (error.status === 401) return signOut(error.message);
      $("roles-table").removeAttribute("aria-busy");
      setListStatus($("roles-status"), "The roles could not be loaded.", true);
      const retry = el("button", { type: "button", className: "button", onclick: () => loadRoles() }, "Retry");
      body.replaceChildren(stateRow(5, "error", "The roles could not be loaded: " + error.message, retry));
      return;
    }
    if (ticket !== loadRoles.ticket) return;
    state.communityRoles = data.items || [];
    $("roles-table").removeAttribute("aria-busy");
    const custom = state.communityRoles.filter((role) => !role.builtin).length;
    setListStatus($("roles-status"), state.communityRoles.length + " roles, " + custom + " of them custom.", false);
    body.replaceChildren(...state.communityRoles.map(roleRow));
  }

  function stateRow(columns, kind, text, action) {
    const cell = el("td", { colspan: columns, className: "state-cell state-" + kind }, el("p", { text }));
    if (action) cell.append(action);
    return el("tr", { className: "state-row" }, cell);
  }

  function roleRow(role) {
    const action = role.builtin
      ? el("span", { className: "muted" }, "Read-only")
      : el("button", {
        type: "button", className: "button small", "aria-label": "Edit role " + role.name,
        onclick: () => openRole(role),
      }, "Edit");
    return el("tr", { className: "role-row" + (role.builtin ? " role-builtin" : " role-custom"), "data-role": role.name },
      el("td", {}, el("span", { className: "role-name" }, role.name)),
      el("td", { className: "cell-description" }, role.description || ""),
      el("td", { className: "cell-permissions" }, ...(role.permissions || []).map((name) => el("span", { className: "chip" }, name))),
      el("td", { className: "cell-type" }, el("span", { className: "badge " + (role.builtin ? "badge-builtin" : "badge-custom") },
        role.builtin ? "Built-in" : "Custom")),
      el("td", { className: "cell-action" }, action),
    );
  }

  async function openRole(role) {
    state.editingRole = role;
    const form = $("role-form");
    form.reset();
    clearErrors(form);
    let permissions;
    try {
      permissions = await loadPermissions();
    } catch (error) {
      toast("Could not load the permission catalog: " + error.message);
      return;
    }
    $("role-title").textContent = role ? "Edit role" : "New role";
    $("role-name").value = role ? role.name : "";
    $("role-name").disabled = Boolean(role);
    $("role-description").value = role ? role.description || "" : "";
    const chosen = new Set(role ? role.permissions : []);
    $("role-permissions").replaceChildren(...permissions.map((name) => {
      const id = "role-permission-" + name.replace(/[^A-Za-z0-9_-]/g, "-");
      return el("div", { className: "role-option" },
        el("input", { type: "checkbox", id, name: "permissions", value: name, checked: chosen.has(name) }),
        el("label", { for: id }, el("span", { className: "role-name" }, name)));
    }));
    $("role-delete").hidden = !role;
    $("role-save").disabled = false;
    $("role-dialog").showModal();
    (role ? $("role-description") : $("role-name")).focus();
  }

  async function submitRole(event) {
    event.preventDefault();
    const form = $("role-form");
    clearErrors(form);
    const role = state.editingRole;
    const permissions = Array.from(form.querySelectorAll('input[name="permissions"]:checked'), (box) => box.value);
    const description = $("role-description").value;
    $("role-save").disabled = true;
    try {
      const saved = role
        ? await api("PATCH", communityPath() + "/roles/" + enc(role.name), { body: { description, permissions } })
        : await api("POST", communityPath() + "/roles", { body: { name: $("role-name").value.trim(), description, permissions } });
      $("role-dialog").close();
      toast((role ? "Saved role " : "Created role ") + saved.name + ".");
      loadRoles();
      loadCatalog(); // the key dialogs offer the community's roles
    } catch (error) {
      if (error.status === 401) return signOut(error.message);
      showError(form, error);
    } finally {
      $("role-save").disabled = false;
    }
  }

  function askDeleteRole() {
    const role = state.editingRole;
    if (!role) return;
    $("role-delete-name").textContent = role.name;
    $("role-delete-error").hidden = true;
    $("role-delete-message").textContent = "";
    $("role-delete-keys").replaceChildren();
    $("role-delete-confirm").disabled = false;
    $("role-delete-dialog").showModal();
    $("role-delete-cancel").focus();
  }

  async function confirmDeleteRole() {
    const role = state.editingRole;
    if (!role) return;
    $("role-delete-confirm").disabled = true;
    try {
      await api("DELETE", communityPath() + "/roles/" + enc(role.name));
      $("role-delete-dialog").close();
      $("role-dialog").close();
      toast("Deleted role " + role.name + ".");
      loadRoles();
      loadCatalog();
    } catch (error) {
      if (error.status === 401) return signOut(error.message);
      const holders = (error.data && Array.isArray(error.data.keys)) ? error.data.keys : [];
      $("role-delete-message").textContent = holders.length
        ? "The role is still granted to these keys. Take it away from them (or revoke them) first:"
        : capitalise(error.message);
      $("role-delete-keys").replaceChildren(...holders.map((holder) =>
        el("li", {}, el("span", { className: "holder-name" }, holder.name), " ", el("code", {}, holder.id))));
      $("role-delete-error").hidden = false;
      $("role-delete-cancel").focus();
    }
  }

  // -- events ---------------------------------------------------------------------------------

  const ACTION_LABELS = {
    create: "Created", activate: "Activated", edit: "Edited", revoke: "Revoked", rotate: "Rotated",
    fail: "Failed", resume: "Resumed", role_create: "Role created", role_edit: "Role edited",
    role_delete: "Role deleted",
  };
  const ISO_MOMENT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

  function formatValue(value) {
    if (value === null || value === undefined) return "none";
    if (value === "") return "(empty)";
    if (Array.isArray(value)) return value.length ? value.map(formatValue).join(", ") : "none";
    if (typeof value === "object") return Object.entries(value).map(([k, v]) => k + " " + formatValue(v)).join(" · ");
    if (typeof value === "string" && ISO_MOMENT.test(value)) return formatDate(value, true);
    return String(value);
  }

  function eventDetails(event) {
    const details = event.details || {};
    if (details.before || details.after) {
      const before = details.before || {};
      const after = details.after || {};
      const fields = Array.from(new Set([...Object.keys(before), ...Object.keys(after)]));
      return el("ul", { className: "changes" }, ...fields.map((field) => el("li", { "data-field": field },
        el("span", { className: "field-name" }, field + ": "),
        field in before ? el("del", { title: "before" }, formatValue(before[field])) : el("span", { className: "muted" }, "unset"),
        " → ",
        field in after ? el("ins", { title: "after" }, formatValue(after[field])) : el("span", { className: "muted" }, "removed"),
      )));
    }
    return el("ul", { className: "changes" }, ...Object.entries(details).map(([field, value]) =>
      el("li", { "data-field": field }, el("span", { className: "field-name" }, field + ": "), formatValue(value))));
  }

  function subjectOf(event) {
    if (event.key_id && event.key_id.startsWith("role:")) {
      return el("span", {}, "role ", el("span", { className: "role-name" }, event.key_id.slice(5)));
    }
    return el("code", { className: "key-id" }, event.key_id);
  }

  function actionBadge(event) {
    return el("span", { className: "badge badge-event badge-event-" + event.action }, ACTION_LABELS[event.action] || event.action);
  }

  function eventRow(event) {
    return el("tr", { className: "event-row", "data-event-id": event.id, "data-action": event.action },
      el("td", { className: "cell-created" }, timeEl(event.at, true)),
      el("td", { className: "cell-event-action" }, actionBadge(event)),
      el("td", { className: "cell-subject" }, subjectOf(event)),
      el("td", { className: "cell-actor" }, event.actor),
      el("td", { className: "cell-details" }, eventDetails(event)),
    );
  }

  function resetEventPaging() {
    Object.assign(state.events, { cursors: [null], page: 0, nextCursor: null });
  }

  async function loadEvents() {
    const events = state.events;
    const ticket = ++events.request;
    const body = $("events-body");
    $("events-table").setAttribute("aria-busy", "true");
    setListStatus($("events-status"), "Loading events…", true);
    body.replaceChildren(stateRow(5, "loading", "Loading events…"));
    $("events-prev").disabled = true;
    $("events-next").disabled = true;
    let data;
    try {
      data = await api("GET", communityPath() + "/events", { query: { limit: events.limit, cursor: events.cursors[events.page] } });
    } catch (error) {
      if (ticket !== events.request) return;
      if (error.status === 401) return signOut(error.message);
      $("events-table").removeAttribute("aria-busy");
      setListStatus($("events-status"), "The events could not be loaded.", true);
      const retry = el("button", { type: "button", className: "button", onclick: () => loadEvents() }, "Retry");
      body.replaceChildren(stateRow(5, "error", "The events could not be loaded: " + error.message, retry));
      return;
    }
    if (ticket !== events.request) return;
    const items = data.items || [];
    events.nextCursor = data.next_cursor || null;
    $("events-table").removeAttribute("aria-busy");
    if (!items.length) {
      const text = events.page > 0 ? "No older events." : "No events yet.";
      body.replaceChildren(stateRow(5, "empty", text));
      setListStatus($("events-status"), text, true);
    } else {
      body.replaceChildren(...items.map(eventRow));
      const first = events.page * events.limit + 1;
      setListStatus($("events-status"), "Showing events " + first + "–" + (first + items.length - 1) + ", newest first.", false);
    }
    $("events-page-label").textContent = "Page " + (events.page + 1);
    $("events-prev").disabled = events.page === 0;
    $("events-next").disabled = !events.nextCursor;
  }

  function olderEvents() {
    const events = state.events;
    if (!events.nextCursor) return;
    events.cursors[events.page + 1] = events.nextCursor;
    events.page += 1;
    loadEvents();
  }

  function newerEvents() {
    if (state.events.page === 0) return;
    state.events.page -= 1;
    loadEvents();
  }

  // A key's own events, in its dialog: loaded when the section is opened, older ones on demand.
  const KEY_EVENTS_PAGE = 10;

  function resetKeyEvents(key) {
    state.keyEvents = { keyId: key.id, cursor: null, loaded: false, request: state.keyEvents.request + 1 };
    $("edit-events").open = false;
    $("edit-events-list").replaceChildren();
    $("edit-events-status").textContent = "";
    $("edit-events-more").hidden = true;
  }

  function onKeyEventsToggle() {
    if ($("edit-events").open && !state.keyEvents.loaded && state.keyEvents.keyId) loadKeyEvents(false);
  }

  async function loadKeyEvents(more) {
    const keyEvents = state.keyEvents;
    const ticket = ++keyEvents.request;
    keyEvents.loaded = true;
    $("edit-events-status").textContent = "Loading events…";
    $("edit-events-more").hidden = true;
    let data;
    try {
      data = await api("GET", keysPath() + "/" + enc(keyEvents.keyId) + "/events", {
        query: { limit: KEY_EVENTS_PAGE, cursor: more ? keyEvents.cursor : null },
      });
    } catch (error) {
      if (ticket !== state.keyEvents.request) return;
      if (error.status === 401) return signOut(error.message);
      keyEvents.loaded = false;
      $("edit-events-status").textContent = "The events could not be loaded: " + error.message;
      return;
    }
    if (ticket !== state.keyEvents.request) return;
    keyEvents.cursor = data.next_cursor || null;
    const items = (data.items || []).map((event) => el("li", { className: "event-item", "data-action": event.action },
      el("div", { className: "event-head" }, actionBadge(event), " ", timeEl(event.at, true), " by ",
        el("span", { className: "event-actor" }, event.actor)),
      eventDetails(event)));
    const list = $("edit-events-list");
    if (more) list.append(...items); else list.replaceChildren(...items);
    const count = list.children.length;
    $("edit-events-status").textContent = count ? count + " event" + (count === 1 ? "" : "s") + ", newest first." : "No events.";
    $("edit-events-more").hidden = !keyEvents.cursor;
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
    watchMends($("create-form"), createProblems);
    watchMends($("edit-form"), () => keyProblems("edit"));
    watchMends($("role-form"), () => []);
    $("create-cancel").addEventListener("click", () => $("create-dialog").close());
    $("create-vault-target").addEventListener("change", onVaultChange);
    for (const radio of document.querySelectorAll('#create-form input[name="expiry"]')) {
      radio.addEventListener("change", onExpiryChange);
    }
    $("secret-copy").addEventListener("click", copySecret);
    // Forget the secret at once, not on the dialog's "close" event, which runs a task later.
    $("secret-done").addEventListener("click", () => { forgetSecret(); $("secret-dialog").close(); });
    $("secret-dialog").addEventListener("cancel", forgetSecret);
    $("secret-dialog").addEventListener("close", forgetSecret);
    $("edit-form").addEventListener("submit", submitEdit);
    $("edit-cancel").addEventListener("click", () => $("edit-dialog").close());
    $("edit-dialog").addEventListener("close", () => { state.editing = null; });
    $("edit-revoke").addEventListener("click", askRevoke);
    $("revoke-cancel").addEventListener("click", () => $("revoke-dialog").close());
    $("revoke-confirm").addEventListener("click", confirmRevoke);
    $("edit-rotate").addEventListener("click", openRotate);
    $("edit-events").addEventListener("toggle", onKeyEventsToggle);
    $("edit-events-more").addEventListener("click", () => loadKeyEvents(true));
    $("rotate-form").addEventListener("submit", submitRotate);
    $("rotate-cancel").addEventListener("click", () => $("rotate-dialog").close());
    $("vaulted-done").addEventListener("click", () => $("vaulted-dialog").close());
    window.addEventListener("hashchange", onHashChange);
    $("add-role").addEventListener("click", () => openRole(null));
    $("role-form").addEventListener("submit", submitRole);
    $("role-cancel").addEventListener("click", () => $("role-dialog").close());
    $("role-dialog").addEventListener("close", () => { state.editingRole = null; });
    $("role-delete").addEventListener("click", askDeleteRole);
    $("role-delete-cancel").addEventListener("click", () => $("role-delete-dialog").close());
    $("role-delete-confirm").addEventListener("click", confirmDeleteRole);
    $("events-refresh").addEventListener("click", () => { resetEventPaging(); loadEvents(); });
    $("events-next").addEventListener("click", olderEvents);
    $("events-prev").addEventListener("click", newerEvents);
    $("events-page-size").addEventListener("change", (event) => {
      state.events.limit = Number(event.target.value);
      resetEventPaging();
      loadEvents();
    });

    state.status = document.querySelector('#status-filter input[name="status"]:checked').value;
    state.limit = Number($("page-size").value);
    state.events.limit = Number($("events-page-size").value);
    const saved = sessionStorage.getItem(KEY_ITEM);
    if (!saved) return showSignIn();
    signIn(saved, sessionStorage.getItem(COMMUNITY_ITEM) || "").catch((error) => {
      sessionStorage.removeItem(KEY_ITEM);
      showSignIn(error.status === 401 ? "key: your saved key is no longer accepted; sign in again" : error.message);
    });
  }

  // -- usage plans and usage: API Gateway's limits beside each plan, a key's requests per day ---

  const SVG = "http://www.w3.org/2000/svg";
  const USAGE_DAYS = 30;
  const plans = { items: null, request: 0 };

  async function loadPlans() {
    if (plans.items === null) {
      try { plans.items = (await api("GET", "/plans")).items || []; } catch (error) { plans.items = []; }
    }
    return plans.items;
  }

  function planLimits(plan) {
    const parts = [];
    if (plan.rate_limit !== null && plan.rate_limit !== undefined) parts.push(plan.rate_limit + " req/s");
    if (plan.burst_limit !== null && plan.burst_limit !== undefined) parts.push("burst " + plan.burst_limit);
    if (plan.quota) parts.push(Number(plan.quota.limit).toLocaleString() + " per " + String(plan.quota.period || "").toLowerCase());
    return parts.join(", ");
  }

  function renderPlanPicker(select, selected) {
    select.replaceChildren(el("option", { value: "" }, "No plan"),
      ...plans.items.map((plan) => el("option", { value: plan.name, title: plan.description || "" },
        plan.name + (planLimits(plan) ? " (" + planLimits(plan) + ")" : ""))));
    select.value = selected || "";
  }

  // What the create (key null) or edit body says of the plan: nothing when nothing changes.
  function planChoice(key) {
    const row = $(key ? "edit-plan-row" : "create-plan-row");
    if (row.hidden) return {};
    const chosen = $(key ? "edit-plan" : "create-plan").value || null;
    if (!key) return chosen ? { plan: chosen } : {};
    return chosen === (key.plan || null) ? {} : { plan: chosen };
  }

  async function preparePlanPicker() {
    const row = $("create-plan-row");
    row.hidden = true;
    if (!(await loadPlans()).length) return;
    renderPlanPicker($("create-plan"), "");
    row.hidden = false;
  }

  async function showPlanAndUsage(key, editable) {
    const row = $("edit-plan-row");
    const usage = $("edit-usage");
    row.hidden = true;
    usage.hidden = true;
    const request = ++plans.request;
    const items = await loadPlans();
    if (request !== plans.request) return;
    if (items.length || key.plan) {
      renderPlanPicker($("edit-plan"), key.plan);
      $("edit-plan").disabled = !editable;
      row.hidden = false;
    }
    if (!key.plan) return;
    usage.hidden = false;
    $("edit-usage-status").textContent = "Loading usage…";
    $("edit-usage-chart").replaceChildren();
    try {
      const data = await api("GET", keysPath() + "/" + enc(key.id) + "/usage", { query: { days: USAGE_DAYS } });
      if (request !== plans.request) return;
      $("edit-usage-chart").replaceChildren(usageChart(data.days || []));
      const total = (data.days || []).reduce((sum, day) => sum + day.requests, 0);
      let text = total.toLocaleString() + " requests in " + USAGE_DAYS + " days";
      if (data.quota && data.quota_remaining !== null && data.quota_remaining !== undefined) {
        text += "; quota left: " + Number(data.quota_remaining).toLocaleString() + " of " +
          Number(data.quota.limit).toLocaleString() + " per " + String(data.quota.period || "").toLowerCase();
      }
      $("edit-usage-status").textContent = text + ".";
    } catch (error) {
      if (request === plans.request) $("edit-usage-status").textContent = "Usage is not available: " + error.message;
    }
  }

  // A bar per day, drawn as SVG elements (no inline style, no library), so the page's CSP holds.
  function usageChart(days) {
    const width = 300, height = 80, gap = 1;
    const most = Math.max(1, ...days.map((day) => day.requests));
    const bar = days.length ? width / days.length : width;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + width + " " + (height + 1));
    svg.setAttribute("class", "usage-chart");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "Requests per day over the last " + days.length + " days");
    const axis = document.createElementNS(SVG, "line");
    for (const [name, value] of [["x1", 0], ["y1", height], ["x2", width], ["y2", height]]) axis.setAttribute(name, String(value));
    axis.setAttribute("class", "usage-axis");
    svg.append(axis);
    days.forEach((day, index) => {
      const tall = Math.round((day.requests / most) * (height - 4));
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", String(index * bar + gap / 2));
      rect.setAttribute("y", String(height - tall));
      rect.setAttribute("width", String(Math.max(1, bar - gap)));
      rect.setAttribute("height", String(tall));
      rect.setAttribute("class", "usage-bar");
      rect.setAttribute("data-date", day.date);
      rect.setAttribute("data-requests", String(day.requests));
      const title = document.createElementNS(SVG, "title");
      title.textContent = day.date + ": " + day.requests.toLocaleString() + " requests";
      rect.append(title);
      svg.append(rect);
    });
    return svg;
  }

  $("add-key").addEventListener("click", preparePlanPicker);
  $("edit-dialog").addEventListener("close", () => { plans.request += 1; });

  start();
})();
