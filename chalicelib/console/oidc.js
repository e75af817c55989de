// A person's sign-in at any OIDC issuer (Okta, Entra ID, Auth0, Keycloak, a Cognito pool's hosted
// pages...), through the issuer's own pages: the authorization code flow with PKCE (RFC 7636,
// S256) of a public client, as OAuth 2.0 for Browser-Based Apps asks. The page sends the person
// to the issuer's authorization endpoint with a random state, nonce and code challenge (kept in
// this tab's sessionStorage until the issuer sends them back), exchanges the code at the token
// endpoint with the verifier, and checks the ID token's nonce; the API's authorizer checks its
// signature, issuer, audience and expiry. Renewal uses the refresh token when the issuer gave
// one; signing out goes to the issuer's end-session endpoint when it has one. The server names
// the endpoints in <meta name="apikeys-sign-in"> (read from the issuer's discovery document), and
// the page's Content-Security-Policy lets it connect to the token endpoint only. No token, code
// or verifier is ever logged or put in the address bar by this page.

export class SignInError extends Error {
  constructor(type, message) {
    super(message);
    this.type = type;
  }
}

const PENDING_ITEM = "apikeys.console.sign-in"; // state, nonce, verifier: while the person is at the issuer
const SIGNED_OUT_ITEM = "apikeys.console.signed-out"; // while the person signs out at the issuer
const PENDING_MAX_AGE_MS = 15 * 60 * 1000;
// What an issuer's answer adds to the console's address, removed as soon as the page reads it.
const ANSWER_PARAMS = ["code", "state", "error", "error_description", "error_uri", "iss", "session_state"];
const MAX_DESCRIPTION = 300;

// The console's own URL, where the issuer sends the person back (register it at the issuer as
// the redirect URI): this module is served from <console>/console/oidc.js.
export const CONSOLE_URL = new URL("../", import.meta.url).href;

// The redirect sign-in's settings, or null when people do not sign in this way here. `ready` is
// false while the server could not read the issuer's discovery document.
export function redirectSettings() {
  const meta = document.querySelector('meta[name="apikeys-sign-in"]');
  const data = meta ? meta.dataset : {};
  if (!data.issuer || !data.clientId) return null;
  let host = data.issuer;
  try { host = new URL(data.issuer).host; } catch (error) { host = data.issuer; }
  return {
    issuer: data.issuer,
    host,
    clientId: data.clientId,
    scope: data.scope || "openid",
    authorizationEndpoint: data.authorizationEndpoint || "",
    tokenEndpoint: data.tokenEndpoint || "",
    endSessionEndpoint: data.endSessionEndpoint || "",
    ready: Boolean(data.authorizationEndpoint && data.tokenEndpoint),
  };
}

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const random = () => base64url(crypto.getRandomValues(new Uint8Array(32))); // 43 characters, 256 bits

// Sends the person to the issuer. Resolves only if the page could not leave.
export async function startSignIn(settings) {
  if (!settings.ready) throw new SignInError("Unavailable", settings.host + " could not be reached to sign in just now.");
  if (!window.isSecureContext || !crypto.subtle) {
    throw new SignInError("Insecure", "Signing in needs this page over HTTPS.");
  }
  const pending = { state: random(), nonce: random(), verifier: random(), hash: window.location.hash, at: Date.now() };
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(pending.verifier));
  const url = new URL(settings.authorizationEndpoint);
  const request = {
    response_type: "code",
    client_id: settings.clientId,
    redirect_uri: CONSOLE_URL,
    scope: settings.scope,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: "S256",
  };
  for (const [name, value] of Object.entries(request)) url.searchParams.set(name, value);
  sessionStorage.setItem(PENDING_ITEM, JSON.stringify(pending));
  window.location.assign(url.href);
}

// Whether this page load is the issuer sending the person back (with a code, or an error).
export function returnedFromIssuer() {
  const params = new URLSearchParams(window.location.search);
  return params.has("code") || params.has("error");
}

// The issuer's answer, taken: its parameters leave the address bar and the history at once, and
// the tab's pending sign-in is used up, whatever comes of it. Resolves to the person's tokens.
export async function finishSignIn(settings) {
  const params = new URLSearchParams(window.location.search);
  let pending = null;
  try { pending = JSON.parse(sessionStorage.getItem(PENDING_ITEM) || "null"); } catch (error) { pending = null; }
  sessionStorage.removeItem(PENDING_ITEM);
  const clean = new URL(window.location.href);
  for (const name of ANSWER_PARAMS) clean.searchParams.delete(name);
  if (pending && typeof pending.hash === "string") clean.hash = pending.hash;
  window.history.replaceState(null, "", clean.href);

  const state = params.get("state");
  if (!pending || !state || state !== pending.state || !(Date.now() - pending.at < PENDING_MAX_AGE_MS)) {
    throw new SignInError("State", "That sign-in answer was not for a sign-in started in this tab (or it took too long), so it was not accepted. Sign in again.");
  }
  if (params.has("iss") && params.get("iss") !== settings.issuer) {
    throw new SignInError("Issuer", "That sign-in answer came from another issuer than " + settings.host + ", so it was not accepted. Sign in again.");
  }
  if (params.has("error")) {
    const said = (params.get("error_description") || params.get("error") || "").slice(0, MAX_DESCRIPTION);
    throw new SignInError(params.get("error"), settings.host + " did not sign you in: " + said);
  }
  if (!settings.ready) {
    throw new SignInError("Unavailable", settings.host + " could not be reached to finish signing in: reload the page to try again.");
  }
  const answer = await tokenRequest(settings, {
    grant_type: "authorization_code",
    code: params.get("code"),
    redirect_uri: CONSOLE_URL,
    client_id: settings.clientId,
    code_verifier: pending.verifier,
  });
  if (claimsOf(answer.id_token).nonce !== pending.nonce) {
    throw new SignInError("Nonce", "The sign-in service's ID token was not for this sign-in (its nonce differs), so it was not accepted. Sign in again.");
  }
  return tokensOf(answer, null);
}

// New tokens for the refresh token (the issuer may send a new one: it replaces the old).
export async function renew(settings, refreshToken) {
  const answer = await tokenRequest(settings, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: settings.clientId });
  return tokensOf(answer, refreshToken);
}

// Sends the person to sign out at the issuer, and back here; false when the issuer has no
// end-session endpoint (the page stays).
export function endSession(settings, idToken) {
  if (!settings.endSessionEndpoint) return false;
  const url = new URL(settings.endSessionEndpoint);
  url.searchParams.set("client_id", settings.clientId);
  if (idToken) url.searchParams.set("id_token_hint", idToken);
  url.searchParams.set("post_logout_redirect_uri", CONSOLE_URL);
  sessionStorage.setItem(SIGNED_OUT_ITEM, "1");
  window.location.assign(url.href);
  return true;
}

// Whether this page load is the issuer sending the person back after they signed out there.
export function returnedFromSignOut() {
  const returned = sessionStorage.getItem(SIGNED_OUT_ITEM) !== null;
  sessionStorage.removeItem(SIGNED_OUT_ITEM);
  return returned;
}

async function tokenRequest(settings, fields) {
  if (!settings.tokenEndpoint) throw new SignInError("Unavailable", settings.host + " could not be reached. Reload the page to try again.");
  let response;
  try {
    response = await fetch(settings.tokenEndpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams(fields).toString(),
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
    });
  } catch (error) {
    throw new SignInError("NetworkError", "The sign-in service could not be reached. Check your connection and try again.");
  }
  let data = {};
  try { data = (await response.json()) || {}; } catch (error) { data = {}; }
  if (!response.ok) {
    const said = String(data.error_description || data.error || "it answered " + response.status).slice(0, MAX_DESCRIPTION);
    throw new SignInError(String(data.error || "Error"), "The sign-in service refused: " + said);
  }
  if (typeof data.id_token !== "string") throw new SignInError("NoIdToken", "The sign-in service sent no ID token. Sign in again.");
  return data;
}

// The claims of a JWT, read without checking it (the API's authorizer checks it); {} if unreadable.
function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? claims : {};
  } catch (error) {
    return {};
  }
}

// The tokens as the console keeps them (as for a Cognito sign-in). The ID token is the Bearer: it
// lasts its own lifetime (exp - iat), counted on this browser's clock.
function tokensOf(answer, refreshToken) {
  const claims = claimsOf(answer.id_token);
  const lifetime = Number(claims.exp) - Number(claims.iat);
  const seconds = lifetime > 0 ? lifetime : Number(answer.expires_in) || 3600;
  return {
    idToken: answer.id_token,
    accessToken: answer.access_token || null,
    refreshToken: answer.refresh_token || refreshToken || null,
    expiresAt: Date.now() + seconds * 1000,
  };
}
