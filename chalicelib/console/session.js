// Signing in and out (a person with their username and password against the user pool, or at
// their OIDC issuer's own pages through a redirect (oidc.js), or an operator with an API key),
// the community a person works in, and which of the three panels (#keys, #roles, #events) is
// shown: the panels hear of it on the bus (bus.js), and this module hears from them when a
// request met 401 ("session-ended"). It imports no panel.

import { $, el, state } from "./shared.js";
import { ApiError, api, fieldError } from "./api.js";
import { announce, listen } from "./bus.js";
import { loadCatalog } from "./catalog.js";
import { clearErrors, showError } from "./forms.js";
import { answerChallenge, passwordSignIn, renew, signInSettings, signOutEverywhere } from "./cognito.js";
import * as oidc from "./oidc.js";

// What this tab keeps (sessionStorage only: gone when the tab closes, never in localStorage).
const KEY_ITEM = "apikeys.console.key";
const PERSON_ITEM = "apikeys.console.person"; // the person's tokens
const COMMUNITY_ITEM = "apikeys.console.community"; // the community a person picked
const MANAGE = "apikeys:manage";

// How people sign in here: "password" (the user pool), "redirect" (at their issuer), or null.
function peopleSignIn() {
  if (oidc.redirectSettings()) return "redirect";
  return signInSettings() ? "password" : null;
}

// The sign-in form shown, by its id: a person's (the default when people sign in here), or the key's.
function showForm(mode) {
  const people = peopleSignIn();
  const shown = !people || mode === "key" ? "signin-form" : people === "redirect" ? "redirect-form" : "person-form";
  for (const form of ["person-form", "redirect-form", "signin-form"]) $(form).hidden = form !== shown;
  $("use-person-line").hidden = !people;
  if (people === "redirect") showRedirect(oidc.redirectSettings());
  return shown;
}

// The redirect sign-in's button names the issuer; while the server could not reach it, it says so.
function showRedirect(settings) {
  $("redirect-issuer").textContent = settings.host;
  $("redirect-submit").textContent = "Sign in with " + settings.host;
  $("redirect-submit").disabled = !settings.ready;
  $("use-person").textContent = "Use your account at " + settings.host + " instead";
}

const FOCUS = { "person-form": "person-username", "redirect-form": "redirect-submit", "signin-form": "signin-key" };

function showSignIn(message, mode, status) {
  $("console-view").hidden = true;
  $("session").hidden = true;
  $("signin-view").hidden = false;
  const shown = showForm(mode);
  showStep(null);
  const form = $(shown);
  clearErrors(form);
  $("signin-status").hidden = !status;
  $("signin-status").textContent = status || "";
  const redirect = shown === "redirect-form" ? oidc.redirectSettings() : null;
  if (!message && redirect && !redirect.ready) {
    message = redirect.host + " could not be reached to sign in just now: reload the page to try again, or use an API key.";
  }
  if (message) showError(form, message instanceof ApiError ? message : new ApiError(0, "", message));
  if (!redirect || redirect.ready) $(FOCUS[shown]).focus();
}

async function signIn(key) {
  const who = await api("GET", "/whoami", { key });
  if (!(who.permissions || []).includes(MANAGE)) {
    throw fieldError("key", "this key cannot manage API keys (it lacks the " + MANAGE + " permission)", 403);
  }
  state.key = key;
  state.whoami = who;
  state.community = who.community; // the key's own: the only community it can see
  sessionStorage.setItem(KEY_ITEM, key);
  enterConsole();
}

// -- a person --------------------------------------------------------------------------------

let renewing = null; // the renewal in flight: concurrent requests share it

function keepTokens(tokens) {
  state.person = tokens;
  state.key = tokens.idToken;
  sessionStorage.setItem(PERSON_ITEM, JSON.stringify(tokens));
}

function renewSession() {
  const redirect = oidc.redirectSettings();
  const settings = signInSettings();
  const person = state.person;
  if ((!redirect && !settings) || !person || !person.refreshToken) return Promise.resolve(false);
  if (!renewing) {
    renewing = (redirect ? oidc.renew(redirect, person.refreshToken) : renew(settings, person.refreshToken))
      .then((tokens) => { if (state.person === person) keepTokens(tokens); return state.person !== null; })
      .catch(() => false)
      .finally(() => { renewing = null; });
  }
  return renewing;
}

function manageable(who) {
  return (who.communities || []).filter((grant) => (grant.permissions || []).includes(MANAGE));
}

async function enterAsPerson(tokens) {
  keepTokens(tokens);
  state.renew = renewSession;
  let who;
  try {
    who = await api("GET", "/whoami");
  } catch (error) {
    forgetPerson();
    throw error;
  }
  const communities = manageable(who);
  if (!communities.length) {
    forgetPerson();
    throw new ApiError(403, "Forbidden", "You manage no community's API keys: none of your groups gives a role with the " + MANAGE + " permission.");
  }
  state.whoami = who;
  const picked = sessionStorage.getItem(COMMUNITY_ITEM);
  state.community = communities.some((grant) => grant.community === picked) ? picked : communities[0].community;
  enterConsole();
}

function forgetPerson() {
  sessionStorage.removeItem(PERSON_ITEM);
  sessionStorage.removeItem(COMMUNITY_ITEM);
  Object.assign(state, { person: null, renew: null, key: null });
}

function onCommunityPicked() {
  const community = $("session-community-picker").value;
  if (!community || community === state.community) return;
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  sessionStorage.setItem(COMMUNITY_ITEM, community);
  state.community = community;
  Object.assign(state, { items: [], editing: null, communityRoles: [], editingRole: null });
  state.keyNames = new Map();
  enterConsole();
}

// -- signing out -----------------------------------------------------------------------------

// Forgets the session in this tab: the key or the person's tokens, and everything shown.
// A person's sign-out also ends their sessions at the user pool (signOutPerson).
function signOut(message) {
  const mode = state.person ? "person" : "key";
  sessionStorage.removeItem(KEY_ITEM);
  forgetPerson();
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  Object.assign(state, { key: null, whoami: null, community: null, items: [], editing: null, communityRoles: [], editingRole: null });
  state.keyNames = new Map();
  $("keys-body").replaceChildren();
  $("roles-body").replaceChildren();
  $("events-body").replaceChildren();
  showSignIn(message, mode);
}

async function onSignOutClick() {
  const person = state.person;
  signOut();
  const redirect = oidc.redirectSettings();
  if (person && redirect) {
    // At the issuer too, when it has an end-session endpoint: the page goes there and comes back.
    if (!oidc.endSession(redirect, person.idToken)) {
      showSignIn(null, "person", "You are signed out in this tab. Your session at " + redirect.host + " goes on until you sign out there.");
    }
    return;
  }
  const settings = signInSettings();
  if (!person || !settings) return;
  $("sign-out").disabled = true;
  try {
    await signOutEverywhere(settings, person.accessToken);
    showSignIn(null, "person", "You are signed out.");
  } catch (error) {
    showSignIn(null, "person", "You are signed out in this tab, but the sign-in service could not end your other sessions: " + error.message);
  } finally {
    $("sign-out").disabled = false;
  }
}

function enterConsole() {
  $("signin-view").hidden = true;
  $("signin-key").value = "";
  $("person-password").value = "";
  $("console-view").hidden = false;
  $("session").hidden = false;
  const person = state.person !== null;
  const communities = person ? manageable(state.whoami) : [];
  const picker = $("session-community-picker");
  picker.replaceChildren(...communities.map((grant) =>
    el("option", { value: grant.community, selected: grant.community === state.community }, grant.community)));
  picker.hidden = communities.length < 2;
  $("session-community").hidden = !picker.hidden;
  $("session-community").textContent = state.community;
  $("crumb-community").textContent = state.community;
  $("session-key").hidden = person;
  $("session-person").hidden = !person;
  $("session-key-id").textContent = person ? "" : state.whoami.id;
  $("session-person-name").textContent = person ? state.whoami.name || state.whoami.user : "";
  announce("console-entered");
  loadCatalog();
  showPanel(panelFromHash());
}


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
  announce("panel-shown", name);
}

function onHashChange() {
  if (state.key && panelFromHash() !== state.panel) showPanel(panelFromHash());
}


async function onSignInSubmit(event) {
  event.preventDefault();
  const form = $("signin-form");
  clearErrors(form);
  const key = $("signin-key").value.trim();
  if (!key) return showError(form, fieldError("key", "paste an API key", 0));
  $("signin-submit").disabled = true;
  try {
    await signIn(key);
  } catch (error) {
    if (error.status === 401) showError(form, fieldError("key", error.message, 401));
    else showError(form, error.field ? error : new ApiError(error.status, "", error.message));
  } finally {
    $("signin-submit").disabled = false;
  }
}

// A step Cognito asks for after the password: its field's label, help and input.
const STEPS = {
  NEW_PASSWORD_REQUIRED: {
    label: "New password",
    help: "Your password was temporary: choose your own. If it is too weak, the sign-in service says what it needs.",
    type: "password", autocomplete: "new-password", inputmode: "text", missing: "choose a new password",
  },
  SOFTWARE_TOKEN_MFA: {
    label: "Code from your authenticator app",
    help: "Your account signs in with a second factor: enter the 6-digit code your app shows now.",
    type: "text", autocomplete: "one-time-code", inputmode: "numeric", missing: "enter the code from your app",
  },
  SMS_MFA: {
    label: "Code sent by text message",
    help: "Enter the code just sent to your phone.",
    type: "text", autocomplete: "one-time-code", inputmode: "numeric", missing: "enter the code from the message",
  },
};

let challenge = null; // the step Cognito asked for, while the person answers it

function showStep(next) {
  challenge = next;
  const step = next ? STEPS[next.name] : null;
  $("person-credentials").hidden = Boolean(step);
  $("person-challenge").hidden = !step;
  $("person-restart").hidden = !step;
  $("person-submit").textContent = step ? "Continue" : "Sign in";
  const answer = $("person-answer");
  answer.value = "";
  if (!step) return;
  $("person-answer-label").textContent = step.label;
  $("person-answer-help").textContent = step.help;
  answer.type = step.type;
  answer.autocomplete = step.autocomplete;
  answer.inputMode = step.inputmode;
  answer.focus();
}

async function onPersonSubmit(event) {
  event.preventDefault();
  const form = $("person-form");
  clearErrors(form);
  $("signin-status").hidden = true;
  const settings = signInSettings();
  let attempt;
  if (challenge) {
    const value = $("person-answer").value.trim();
    if (!value) return showError(form, fieldError("answer", STEPS[challenge.name].missing, 0));
    attempt = () => answerChallenge(settings, challenge, value);
  } else {
    const username = $("person-username").value.trim();
    const password = $("person-password").value;
    if (!username) return showError(form, fieldError("username", "enter your username", 0));
    if (!password) return showError(form, fieldError("password", "enter your password", 0));
    attempt = () => passwordSignIn(settings, username, password);
  }
  $("person-submit").disabled = true;
  try {
    const result = await attempt();
    $("person-password").value = "";
    if (result.challenge) return showStep(result.challenge);
    showStep(null);
    await enterAsPerson(result.tokens);
  } catch (error) {
    $("person-password").value = "";
    $("person-answer").value = "";
    if (challenge && error.type === "NotAuthorizedException") {
      // The step's session expired (a few minutes): start again from the password.
      showStep(null);
      showError(form, new ApiError(401, "", "That took too long: sign in again."));
    } else if (error.type === "NotAuthorizedException" || error.type === "UserNotFoundException") {
      showError(form, new ApiError(401, "", "The username or password is not right."));
    } else if (error.type === "CodeMismatchException" || error.type === "InvalidPasswordException") {
      showError(form, fieldError("answer", error.message));
    } else {
      showError(form, new ApiError(error.status || 0, "", error.message));
    }
  } finally {
    $("person-submit").disabled = false;
  }
}

async function onRedirectSubmit(event) {
  event.preventDefault();
  const form = $("redirect-form");
  clearErrors(form);
  $("signin-status").hidden = true;
  $("redirect-submit").disabled = true;
  try {
    await oidc.startSignIn(oidc.redirectSettings()); // the page leaves for the issuer
  } catch (error) {
    showError(form, new ApiError(0, "", error.message));
    $("redirect-submit").disabled = false;
  }
}

// Back from the issuer: its answer becomes the person's session, or a message on the sign-in.
function finishRedirect(settings) {
  return oidc.finishSignIn(settings).then(enterAsPerson).catch((error) => {
    forgetPerson();
    showSignIn(error.message, "person");
  });
}

export function wireSession() {
  $("signin-form").addEventListener("submit", onSignInSubmit);
  $("person-form").addEventListener("submit", onPersonSubmit);
  $("redirect-form").addEventListener("submit", onRedirectSubmit);
  $("redirect-use-key").addEventListener("click", () => showSignIn(null, "key"));
  $("person-restart").addEventListener("click", () => { clearErrors($("person-form")); showStep(null); $("person-username").focus(); });
  $("use-key").addEventListener("click", () => showSignIn(null, "key"));
  $("use-person").addEventListener("click", () => showSignIn(null, "person"));
  $("session-community-picker").addEventListener("change", onCommunityPicked);
  $("sign-out").addEventListener("click", onSignOutClick);
  window.addEventListener("hashchange", onHashChange);
  listen("session-ended", signOut);
}

// Signs in again with what this tab saved (a person's tokens, renewed if they have expired, or
// a key), or shows the sign-in form.
export function resumeSession() {
  const redirect = oidc.redirectSettings();
  if (redirect && oidc.returnedFromIssuer()) return finishRedirect(redirect);
  if (redirect && oidc.returnedFromSignOut()) return showSignIn(null, "person", "You are signed out, here and at " + redirect.host + ".");
  const person = sessionStorage.getItem(PERSON_ITEM);
  if (person && peopleSignIn()) {
    let tokens = null;
    try { tokens = JSON.parse(person); } catch (error) { tokens = null; }
    if (tokens && tokens.idToken) {
      return enterAsPerson(tokens).catch((error) => {
        forgetPerson();
        showSignIn(error.status === 401 ? "Your session has ended: sign in again." : error.message, "person");
      });
    }
  }
  sessionStorage.removeItem(PERSON_ITEM);
  const saved = sessionStorage.getItem(KEY_ITEM);
  if (!saved) return showSignIn();
  signIn(saved).catch((error) => {
    sessionStorage.removeItem(KEY_ITEM);
    showSignIn(error.status === 401 ? fieldError("key", "your saved key is no longer accepted; sign in again", 401) : error.message, "key");
  });
}
