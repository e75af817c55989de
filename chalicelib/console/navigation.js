// Back with a dialog open closes that dialog instead of leaving the console; moving to another
// section (#keys, #roles, #events) leaves the last one's toast behind.
//
// While dialogs are open the page holds one history entry of its own ({dialog: true}), pushed
// when the first one opens and taken back when the last one closes. Back leaves that entry: the
// top dialog gets a cancellable "cancel", as from Escape, and closes unless a handler prevents
// it (the secret's dialog asks first); while a dialog is still open the entry is pushed again.

import { clearToast } from "./shared.js";

const opened = []; // open dialogs, the most recent last
let ownBack = false; // the next popstate is the entry this module took back itself

function isOurEntry() {
  return Boolean(history.state && history.state.dialog);
}

// Runs once the task that opened or closed dialogs is over (a MutationObserver's microtask),
// so closing one dialog and opening the next (create, then the secret) is one step here.
function onOpenChanges(changes) {
  for (const { target } of changes) {
    const at = opened.indexOf(target);
    if (at >= 0) opened.splice(at, 1);
    if (target.open) opened.push(target);
  }
  if (opened.length && !isOurEntry()) {
    history.pushState({ dialog: true }, "");
  } else if (!opened.length && isOurEntry()) {
    ownBack = true;
    history.back();
  }
}

function onPopState() {
  if (ownBack) {
    ownBack = false;
    if (opened.length && !isOurEntry()) history.pushState({ dialog: true }, ""); // one opened meanwhile
    return;
  }
  const top = opened[opened.length - 1];
  if (!top) return;
  if (top.dispatchEvent(new Event("cancel", { cancelable: true }))) top.close(); // onOpenChanges follows
  else history.pushState({ dialog: true }, ""); // it stays open, and so does its entry
}

export function wireNavigation() {
  if (isOurEntry()) history.replaceState(null, ""); // left by a reload with a dialog open
  const watcher = new MutationObserver(onOpenChanges);
  for (const dialog of document.querySelectorAll("dialog")) {
    watcher.observe(dialog, { attributes: true, attributeFilter: ["open"] });
  }
  window.addEventListener("popstate", onPopState);
  window.addEventListener("hashchange", clearToast);
}
