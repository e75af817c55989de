// The roles panel: built-in and custom roles, and the role dialogs.

import { $, capitalise, el, setListStatus, state, toast } from "./shared.js";
import { ApiError, api, communityPath, enc } from "./api.js";
import { announce, listen } from "./bus.js";
import { loadCatalog } from "./catalog.js";
import { loadTable } from "./tables.js";
import { clearErrors, openConfirmation, reveal, showError, watchMends, wireConfirmation, wireFormDialog } from "./forms.js";

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

const ROLES_TABLE = {
  table: "roles-table", body: "roles-body", status: "roles-status", columns: 5, noun: "roles", retry: () => loadRoles(),
};

async function loadRoles() {
  const data = await loadTable(ROLES_TABLE, () => api("GET", communityPath() + "/roles"));
  if (!data) return;
  const body = $("roles-body");
  state.communityRoles = data.items || [];
  const custom = state.communityRoles.filter((role) => !role.builtin).length;
  setListStatus($("roles-status"), state.communityRoles.length + " roles, " + custom + " of them custom.", false);
  body.replaceChildren(...state.communityRoles.map(roleRow));
}

function roleRow(role) {
  const action = role.builtin
    ? el("span", { className: "muted" }, "Read-only")
    : el("button", {
      type: "button", className: "button small", "aria-label": "Edit role " + role.name,
      onclick: () => openRole(role),
    }, "Edit");
  return el("tr", { className: "role-row" + (role.builtin ? " role-builtin" : " role-custom"), "data-role": role.name },
    el("td", { className: "cell-name", "data-label": "Name" }, el("span", { className: "role-name" }, role.name)),
    el("td", { className: "cell-description", "data-label": "Description" }, role.description || ""),
    el("td", { className: "cell-permissions", "data-label": "Permissions" }, ...(role.permissions || []).map((name) => el("span", { className: "chip" }, name))),
    el("td", { className: "cell-type", "data-label": "Type" }, el("span", { className: "badge " + (role.builtin ? "badge-builtin" : "badge-custom") },
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
    if (error.status === 401) return announce("session-ended", error.message);
    showError(form, error);
  } finally {
    $("role-save").disabled = false;
  }
}

function askDeleteRole() {
  const role = state.editingRole;
  if (!role) return;
  $("role-delete-name").textContent = role.name;
  $("role-delete-message").textContent = "";
  $("role-delete-keys").replaceChildren();
  openConfirmation("role-delete");
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
    if (error.status === 401) return announce("session-ended", error.message);
    const holders = (error.data && Array.isArray(error.data.keys)) ? error.data.keys : [];
    $("role-delete-message").textContent = holders.length
      ? "The role is still granted to these keys. Take it away from them (or revoke them) first:"
      : capitalise(error.message);
    $("role-delete-keys").replaceChildren(...holders.map((holder) =>
      el("li", {}, el("span", { className: "holder-name" }, holder.name), " ", el("code", {}, holder.id))));
    $("role-delete-error").hidden = false;
    reveal($("role-delete-error"), $("role-delete-cancel"));
  }
}

export function wireRoles() {
  watchMends($("role-form"), () => []);
  $("add-role").addEventListener("click", () => openRole(null));
  wireFormDialog("role", submitRole, () => { state.editingRole = null; });
  $("role-delete").addEventListener("click", askDeleteRole);
  wireConfirmation("role-delete", confirmDeleteRole);
  listen("panel-shown", (name) => { if (name === "roles") loadRoles(); });
}
