// The catalogs the key dialogs offer: the roles the community can grant, and the vaults.

import { state, toast } from "./shared.js";
import { api } from "./api.js";
import { announce } from "./bus.js";

export async function loadCatalog() {
  try {
    const [roles, vaults] = await Promise.all([api("GET", "/roles"), api("GET", "/vaults")]);
    state.roles = roles.items || [];
    state.vaults = vaults.items || [];
  } catch (error) {
    if (error.status === 401) return announce("session-ended", error.message);
    toast("Could not load the role catalog: " + error.message);
  }
}
