// A panel's table, loading: the one way the keys, roles and events panels load theirs.

import { $, el, setListStatus, stateRow } from "./shared.js";
import { announce } from "./bus.js";

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
    if (error.status === 401) { announce("session-ended", error.message); return null; }
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
