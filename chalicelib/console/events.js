// The events panel (the community's audit trail) and a key's own events in its dialog.

import { $, el, formatDate, setListStatus, state, stateRow, timeEl } from "./shared.js";
import { api, communityPath, enc, keysPath } from "./api.js";
import { announce, listen } from "./bus.js";
import { loadTable } from "./tables.js";

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

function subjectOf(event, pageNames) {
  if (event.key_id && event.key_id.startsWith("role:")) {
    return el("span", {}, "role ", el("span", { className: "role-name" }, event.key_id.slice(5)));
  }
  return keyLabel(event.key_id, { className: "subject", shown: event.key_id, known: pageNames.get(event.key_id) });
}

// A key's name as far as the console knows it: a string, or the promise of one asked of the API
// (null when the key cannot be read: another community's, or gone). Each id is asked once.
function nameOf(id) {
  const names = state.keyNames; // signing out starts a new map: a late answer lands in the old one
  if (!names.has(id)) {
    names.set(id, api("GET", keysPath() + "/" + enc(id)).then(
      (found) => { names.set(id, found.name); return found.name; },
      () => { names.set(id, null); return null; },
    ));
  }
  return names.get(id);
}

// A key as the list shows it, its name then its id; until the name is known, `shown` (the id).
// The name comes from the keys already loaded, else from `known` (an event's own record of it),
// else from one request for that key.
function keyLabel(id, { className, shown, known }) {
  const node = el("span", { className }, el("code", {}, shown));
  const show = (name) => {
    if (name) node.replaceChildren(el("span", { className: "key-label-name" }, name), " ", el("code", { className: "key-id" }, id));
  };
  const current = state.keyNames.get(id);
  if (typeof current === "string") show(current);
  else if (known) show(known);
  else Promise.resolve(nameOf(id)).then(show);
  return node;
}

// "user:<sub>" as the person's name (the record's own, as they signed in), the sub on hover;
// "key:<id>" as the key's name beside its id once known (a key of another community, or one
// gone, stays "key:<id>"); any other actor ("operator:…") as it is.
export function actorEl(actor, personName, pageNames) {
  if (personName && /^user:/.test(actor || "")) {
    return el("span", { className: "actor actor-person", title: actor }, el("span", { className: "actor-name" }, personName));
  }
  const match = /^key:([0-9A-Za-z]+)$/.exec(actor || "");
  if (!match) return actor;
  return keyLabel(match[1], { className: "actor", shown: actor, known: pageNames && pageNames.get(match[1]) });
}

// The names a page of events records itself (newest first, so the latest of each key wins): a
// create's or rotation's name, an edit's new name.
function namesIn(events) {
  const names = new Map();
  for (const event of events) {
    const details = event.details || {};
    const name = details.after && typeof details.after.name === "string" ? details.after.name
      : typeof details.name === "string" ? details.name : null;
    if (name && !names.has(event.key_id)) names.set(event.key_id, name);
  }
  return names;
}

function actionBadge(event) {
  return el("span", { className: "badge badge-event badge-event-" + event.action }, ACTION_LABELS[event.action] || event.action);
}

function eventRow(event, pageNames) {
  return el("tr", { className: "event-row", "data-event-id": event.id, "data-action": event.action },
    el("td", { className: "cell-created", "data-label": "When" }, timeEl(event.at, true)),
    el("td", { className: "cell-event-action", "data-label": "Action" }, actionBadge(event)),
    el("td", { className: "cell-subject", "data-label": "Subject" }, subjectOf(event, pageNames)),
    el("td", { className: "cell-actor", "data-label": "By" }, actorEl(event.actor, event.actor_name, pageNames)),
    el("td", { className: "cell-details", "data-label": "Details" }, eventDetails(event)),
  );
}

function resetEventPaging() {
  Object.assign(state.events, { cursors: [null], page: 0, nextCursor: null });
}

const EVENTS_TABLE = {
  table: "events-table", body: "events-body", status: "events-status", columns: 5, noun: "events",
  pager: ["events-prev", "events-next"], retry: () => loadEvents(),
};

async function loadEvents() {
  const events = state.events;
  const data = await loadTable(EVENTS_TABLE, () => api("GET", communityPath() + "/events", {
    query: { limit: events.limit, cursor: events.cursors[events.page] },
  }));
  if (!data) return;
  const body = $("events-body");
  const items = data.items || [];
  events.nextCursor = data.next_cursor || null;
  if (!items.length) {
    const text = events.page > 0 ? "No older events." : "No events yet.";
    body.replaceChildren(stateRow(5, "empty", text));
    setListStatus($("events-status"), text, true);
  } else {
    const pageNames = namesIn(items);
    body.replaceChildren(...items.map((event) => eventRow(event, pageNames)));
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

export function resetKeyEvents(key) {
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
    if (error.status === 401) return announce("session-ended", error.message);
    keyEvents.loaded = false;
    $("edit-events-status").textContent = "The events could not be loaded: " + error.message;
    return;
  }
  if (ticket !== state.keyEvents.request) return;
  keyEvents.cursor = data.next_cursor || null;
  const items = (data.items || []).map((event) => el("li", { className: "event-item", "data-action": event.action },
    el("div", { className: "event-head" }, actionBadge(event), " ", timeEl(event.at, true), " by ",
      el("span", { className: "event-actor" }, actorEl(event.actor, event.actor_name))),
    eventDetails(event)));
  const list = $("edit-events-list");
  if (more) list.append(...items); else list.replaceChildren(...items);
  const count = list.children.length;
  $("edit-events-status").textContent = count ? count + " event" + (count === 1 ? "" : "s") + ", newest first." : "No events.";
  $("edit-events-more").hidden = !keyEvents.cursor;
}

export function wireEvents() {
  $("edit-events").addEventListener("toggle", onKeyEventsToggle);
  $("edit-events-more").addEventListener("click", () => loadKeyEvents(true));
  $("events-refresh").addEventListener("click", () => { resetEventPaging(); loadEvents(); });
  $("events-next").addEventListener("click", olderEvents);
  $("events-prev").addEventListener("click", newerEvents);
  $("events-page-size").addEventListener("change", (event) => {
    state.events.limit = Number(event.target.value);
    resetEventPaging();
    loadEvents();
  });
  state.events.limit = Number($("events-page-size").value);
  listen("panel-shown", (name) => { if (name === "events") { resetEventPaging(); loadEvents(); } });
}
