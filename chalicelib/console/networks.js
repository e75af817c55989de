// Where a key works: its allowed networks, one per line in the create and edit dialogs.

import { $ } from "./shared.js";

function networksIn(textarea) {
  return textarea.value.split("\n").map((line) => line.trim()).filter(Boolean);
}

// What the create (key null) or edit body says of the networks: nothing when nothing changes.
export function networksChoice(key) {
  const networks = networksIn($(key ? "edit-allowed-cidrs" : "create-allowed-cidrs"));
  if (!key) return networks.length ? { allowed_cidrs: networks } : {};
  const current = key.allowed_cidrs || [];
  const same = networks.length === current.length && networks.every((network) => current.includes(network));
  return same ? {} : { allowed_cidrs: networks };
}

export function showNetworks(key, editable) {
  const textarea = $("edit-allowed-cidrs");
  textarea.value = (key.allowed_cidrs || []).join("\n");
  textarea.disabled = !editable;
}
