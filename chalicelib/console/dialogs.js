// The key dialogs: create, the secret shown once, edit, revoke, rotate and where a vault put the secret.

import { $, copyText, el, formatDate, isSignedInKey, state, statusLabel, timeEl, toast } from "./shared.js";
import { ApiError, api, enc, fieldError, keysPath } from "./api.js";
import { announce, listen } from "./bus.js";
import { loadCatalog } from "./catalog.js";
import {
  checkedRoles, clearErrors, openConfirmation, renderRolePicker, reveal, showError, showErrors, watchMends,
  wireConfirmation, wireFormDialog,
} from "./forms.js";
import { actorEl, resetKeyEvents } from "./events.js";
import { planChoice, showPlanAndUsage } from "./plans.js";
import { networksChoice, showNetworks } from "./networks.js";

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
  $("create-never-warning").hidden = true;
  const today = new Date();
  $("create-expiry-date").min = isoDate(new Date(today.getFullYear(), today.getMonth(), today.getDate() + 1));
  $("create-expiry-date").max = isoDate(new Date(today.getFullYear(), today.getMonth(), today.getDate() + 365));
  const vaultBox = $("create-vault");
  vaultBox.hidden = !state.vaults.length;
  const select = $("create-vault-target");
  select.replaceChildren(el("option", { value: "" }, "No vault: show the secret here only"),
    ...state.vaults.map((vault) => el("option", { value: vault.name }, vault.name + (vault.kind ? " (" + vault.kind + ")" : ""))));
  onVaultChange();
  state.createAttempt = { key: randomToken(), body: null };
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
  const expiry = $("create-form").querySelector('input[name="expiry"]:checked').value;
  $("create-expiry-date-row").hidden = expiry !== "custom";
  $("create-never-warning").hidden = expiry !== "none";
  if (expiry === "custom") $("create-expiry-date").focus();
}

// What the console checks itself, so that every wrong field is shown at once.
function createProblems() {
  const problems = keyProblems("create");
  const expiry = $("create-form").querySelector('input[name="expiry"]:checked').value;
  if (expiry === "custom" && !$("create-expiry-date").value) problems.push(fieldError("expires_at", "pick a date"));
  return problems;
}

const NAME_MAX = 100; // the API's limit, in characters (code points), and its words when it is passed

function keyProblems(prefix) {
  const problems = [];
  const name = $(prefix + "-name").value;
  if (!name.trim()) problems.push(fieldError("name", "must not be empty"));
  else if ([...name].length > NAME_MAX) {
    problems.push(fieldError("name", "must be at most " + NAME_MAX + " characters (this one has " + [...name].length + ")"));
  }
  if (!$(prefix + "-roles").querySelector('input[name="roles"]:checked')) {
    problems.push(fieldError("roles", "must name at least one role"));
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
    if (!day) throw fieldError("expires_at", "pick a date");
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
  Object.assign(body, planChoice(null), networksChoice(null));
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
  // One Idempotency-Key per request: Save again with the same form (after an answer that never
  // came) is the same request, replayed; a changed form is another request with a key of its own.
  const body = createBody();
  const sent = JSON.stringify(body);
  if (state.createAttempt.body !== null && state.createAttempt.body !== sent) state.createAttempt.key = randomToken();
  state.createAttempt.body = sent;
  try {
    const result = await api("POST", keysPath(), {
      body,
      headers: { "Idempotency-Key": state.createAttempt.key },
    });
    $("create-dialog").close();
    announce("keys-changed", { firstPage: true });
    if (result.secret) {
      showSecret(result.api_key, result.secret);
    } else if (result.replayed) {
      toast("This key was already created by an earlier attempt; its secret cannot be shown again.");
    } else {
      showVaulted(result.api_key, null);
    }
  } catch (error) {
    if (error.status === 401) return announce("session-ended", error.message);
    if (!error.status || error.status >= 500) {
      // No answer, or the gateway's: the key may have been made. The same form again is safe.
      return showError(form, new ApiError(error.status, "", error.message + " Save again: the same form never makes a second key."));
    }
    showError(form, error);
  } finally {
    save.disabled = false;
  }
}

// -- the secret, once -----------------------------------------------------------------------
// Nothing closes its dialog by accident: Escape (and Back, see navigation.js) ask first, a
// reload or leaving the page asks the browser's own question, and only the buttons close it.

function secretShown() {
  return $("secret-dialog").open && Boolean($("secret-value").textContent);
}

function askLeaveSecret(event) {
  if (event) event.preventDefault();
  if (!secretShown()) return;
  $("secret-leave").hidden = false;
  reveal($("secret-leave"), $("secret-stay"));
}

function closeSecret() {
  forgetSecret();
  $("secret-dialog").close();
}

function warnBeforeUnload(event) {
  if (!secretShown()) return;
  event.preventDefault();
  event.returnValue = ""; // older browsers ask only when this is set
}

function showSecret(key, secret, previous) {
  $("secret-title").textContent = previous ? "Your rotated API key" : "Your new API key";
  $("secret-key-name").textContent = key.name;
  $("secret-verb").textContent = previous ? "rotated: this is the new key" : "created";
  showRotationNote($("secret-rotation-note"), previous);
  $("secret-value").textContent = secret;
  $("secret-copy-status").textContent = "";
  $("secret-leave").hidden = true;
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
    ...detail("Created by", actorEl(key.created_by, key.created_by_name)),
    ...detail("Expires", key.expires_at ? timeEl(key.expires_at, true) : "Never"),
    ...detail("Last used", key.last_used_at ? timeEl(key.last_used_at, true) : "Never"),
    ...detail("Vault", key.vault ? key.vault.target + (key.vault.path ? " · " + key.vault.path : "") : null),
    ...detail("Rotated from", key.rotated_from ? el("code", {}, key.rotated_from) : null),
    ...detail("Rotated to", key.rotated_to ? el("code", {}, key.rotated_to) : null),
    ...detail(key.status === "active" ? "Works until" : "Grace until", key.rotated_to && key.grace_until ? timeEl(key.grace_until, true) : null),
    ...detail("Revoked", key.revoked_at ? timeEl(key.revoked_at, true) : null),
    ...detail("Revoked by", actorEl(key.revoked_by, key.revoked_by_name)),
  );
  $("edit-save").hidden = !editable;
  $("edit-revoke").hidden = key.status !== "active" && key.status !== "expired";
  $("edit-rotate").hidden = !rotatable(key);
  resetKeyEvents(key);
  $("edit-cancel").textContent = editable ? "Cancel" : "Close";
  showPlanAndUsage(key, editable);
  showNetworks(key, editable);
  $("edit-dialog").showModal();
  (editable ? $("edit-name") : $("edit-cancel")).focus();
}

// "key:<id>" shown with that key's name when the console knows it or can look it up.

// The key a dialog's form was submitted for, its old errors cleared; null once no key is open.
function submittedKey(event, form) {
  event.preventDefault();
  if (!state.editing) return null;
  clearErrors(form);
  return state.editing;
}

async function submitEdit(event) {
  const form = $("edit-form");
  const key = submittedKey(event, form);
  if (!key) return;
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
  Object.assign(body, planChoice(key), networksChoice(key));
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
    announce("keys-changed");
  } catch (error) {
    if (error.status === 401) return announce("session-ended", error.message);
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
  $("revoke-error").textContent = "";
  openConfirmation("revoke");
}

async function confirmRevoke() {
  const key = state.editing;
  if (!key) return;
  $("revoke-confirm").disabled = true;
  const reason = $("revoke-reason").value.trim();
  try {
    const revoked = await api("POST", keysPath() + "/" + enc(key.id) + "/revoke", reason ? { body: { reason } } : undefined);
    if (isSignedInKey(key)) {
      announce("session-ended", fieldError("key", "you revoked the key this console was signed in with; sign in with another key", 0));
      return;
    }
    $("revoke-dialog").close();
    $("edit-dialog").close();
    toast("Revoked " + revoked.name + ". It no longer works.");
    announce("keys-changed");
  } catch (error) {
    if (error.status === 401) return announce("session-ended", error.message);
    $("revoke-error").textContent = error.message;
    $("revoke-error").hidden = false;
    $("revoke-confirm").disabled = false;
    reveal($("revoke-error"), null);
  }
}

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
  const form = $("rotate-form");
  const key = submittedKey(event, form);
  if (!key) return;
  const body = { grace: form.querySelector('input[name="grace"]:checked').value };
  if (key.vault) body.reveal = $("rotate-reveal").checked;
  $("rotate-confirm").disabled = true;
  try {
    const result = await api("POST", keysPath() + "/" + enc(key.id) + "/rotate", { body });
    $("rotate-dialog").close();
    $("edit-dialog").close();
    announce("keys-changed");
    if (result.secret) showSecret(result.api_key, result.secret, result.previous);
    else showVaulted(result.api_key, result.previous);
  } catch (error) {
    if (error.status === 401) return announce("session-ended", error.message);
    showError(form, error);
  } finally {
    $("rotate-confirm").disabled = false;
  }
}

export function wireDialogs() {
  $("add-key").addEventListener("click", openCreate);
  wireFormDialog("create", submitCreate);
  watchMends($("create-form"), createProblems);
  watchMends($("edit-form"), () => keyProblems("edit"));
  $("create-vault-target").addEventListener("change", onVaultChange);
  for (const radio of document.querySelectorAll('#create-form input[name="expiry"]')) {
    radio.addEventListener("change", onExpiryChange);
  }
  $("secret-copy").addEventListener("click", copySecret);
  // Forget the secret at once, not on the dialog's "close" event, which runs a task later.
  $("secret-done").addEventListener("click", closeSecret);
  $("secret-leave-confirm").addEventListener("click", closeSecret);
  $("secret-stay").addEventListener("click", () => { $("secret-leave").hidden = true; $("secret-copy").focus(); });
  // Escape: stopped at the key, before the browser makes it a close request (a second
  // cancelled close request in a row may close the dialog regardless); "cancel" is the rest.
  $("secret-dialog").addEventListener("keydown", (event) => { if (event.key === "Escape") askLeaveSecret(event); });
  $("secret-dialog").addEventListener("cancel", askLeaveSecret);
  $("secret-dialog").addEventListener("close", forgetSecret);
  window.addEventListener("beforeunload", warnBeforeUnload);
  wireFormDialog("edit", submitEdit, () => { state.editing = null; });
  $("edit-revoke").addEventListener("click", askRevoke);
  wireConfirmation("revoke", confirmRevoke);
  $("edit-rotate").addEventListener("click", openRotate);
  wireFormDialog("rotate", submitRotate);
  $("vaulted-done").addEventListener("click", () => $("vaulted-dialog").close());
  listen("key-opened", openEdit);
}
