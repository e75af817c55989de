// The console's one channel between its parts: a module announces what happened, and whoever
// cares listens. No panel imports another panel, nor the session, so each can be read and changed
// alone; tests/unit/test_console_imports.py refuses any import cycle between the modules.
//
// What is announced (detail in brackets):
// - "session-ended" (a message, or an ApiError naming its field): a request met 401, or the
//   signed-in key was revoked; session.js signs out and shows it.
// - "console-entered": signed in, or another community picked; the panels start from their
//   first page.
// - "panel-shown" (the panel's name: "keys", "roles" or "events"): that panel loads.
// - "key-opened" (a key of the list): dialogs.js opens its Edit/View dialog.
// - "keys-changed" ({ firstPage }): a key was created, edited or revoked; keys.js reloads the list.

const bus = new EventTarget();

export function announce(name, detail) {
  bus.dispatchEvent(new CustomEvent(name, { detail }));
}

export function listen(name, handler) {
  bus.addEventListener(name, (event) => handler(event.detail));
}
