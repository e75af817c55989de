// Forms: errors beside their field, and the role picker of the key dialogs.

import { $, capitalise, el, state, toast } from "./shared.js";

export function clearErrors(form) {
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

// Every wrong field at once, each beside its message; the first one is brought into view and
// gets the focus.
export function showErrors(form, errors) {
  clearErrors(form);
  let first = null;
  for (const error of errors) {
    const shown = markError(form, error);
    if (!first && shown) first = shown;
  }
  if (first) reveal(first.message, first.control);
}

// An error the person must see: scrolled into view inside its dialog (or the page) and focused,
// the field it is about if there is one, else the message itself (focusable with tabindex=-1).
export function reveal(message, control) {
  const target = control || message;
  target.focus({ preventScroll: true });
  (control && control.getClientRects().length ? control : message).scrollIntoView({ block: "nearest" });
  message.scrollIntoView({ block: "nearest" });
}

// A message goes as soon as its field is mended: when the person changes that field and the
// console's own check of it (problems) no longer complains. Errors without a check of their
// own (the service's) go when their field is changed at all.
export function watchMends(form, problems) {
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

export function showError(form, error) {
  const shown = markError(form, error);
  if (shown) reveal(shown.message, shown.control);
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
  if (!controls.length) return { message: target, control: null };
  const direct = controls.find((control) => control.matches("input, select, textarea") && control.getClientRects().length);
  return { message: target, control: direct || controls[0].querySelector("input, select, textarea") };
}

// -- role picker ----------------------------------------------------------------------------

export function renderRolePicker(container, prefix, selected, disabled) {
  const chosen = new Set(selected || []);
  const names = state.roles.map((role) => role.name);
  // A key may hold a role the catalog no longer lists; keep it visible so an edit keeps it.
  for (const name of chosen) if (!names.includes(name)) state.roles.push({ name, description: "(not in the catalog)" });
  // A key that can no longer be edited shows only the roles it holds. The least privileged
  // come first: fewest permissions, and the roles that manage keys (apikeys:…) after every
  // other; the catalog's order among equals.
  const shown = (disabled ? state.roles.filter((role) => chosen.has(role.name)) : state.roles.slice())
    .sort((a, b) => privilege(a) - privilege(b));
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

function privilege(role) {
  const permissions = role.permissions || [];
  return (permissions.some((name) => name.startsWith("apikeys:")) ? 1000 : 0) + permissions.length;
}

export function checkedRoles(container) {
  return Array.from(container.querySelectorAll('input[name="roles"]:checked'), (box) => box.value);
}

// A confirmation dialog (<prefix>-dialog): no error left from last time, its confirm button
// enabled, the focus on Cancel.
export function openConfirmation(prefix) {
  $(prefix + "-error").hidden = true;
  $(prefix + "-confirm").disabled = false;
  $(prefix + "-dialog").showModal();
  $(prefix + "-cancel").focus();
}

// A confirmation dialog's buttons: Cancel closes it, the confirm button runs confirm.
export function wireConfirmation(prefix, confirm) {
  $(prefix + "-cancel").addEventListener("click", () => $(prefix + "-dialog").close());
  $(prefix + "-confirm").addEventListener("click", confirm);
}

// A dialog with a form (<prefix>-form, -cancel, -dialog): submit on submit, Cancel closes it,
// onClose (if any) runs whenever it closes.
export function wireFormDialog(prefix, submit, onClose) {
  $(prefix + "-form").addEventListener("submit", submit);
  $(prefix + "-cancel").addEventListener("click", () => $(prefix + "-dialog").close());
  if (onClose) $(prefix + "-dialog").addEventListener("close", onClose);
}
