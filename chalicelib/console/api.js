// The API client: every request the console makes, and the error it throws.

import { state } from "./shared.js";

// The app root: this module is served from <root>/console/api.js.
const ROOT = new URL("../", import.meta.url);

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
    // 400s (and a few 403s) name their field first: "roles: unknown role 'x'".
    const match = /^([A-Za-z_][\w.-]*): ([\s\S]*)$/.exec(message);
    this.field = match ? match[1] : null;
    this.detail = match ? match[2] : message;
  }
}

// A person's session (session.js sets state.person and state.renew): the ID token is the Bearer,
// renewed with the refresh token a minute before it expires, and once more when the API answers
// 401; state.renew resolves to whether it worked and never throws.
const RENEW_AHEAD_MS = 60 * 1000;

export async function api(method, path, options) {
  const { body, query, key, headers: extra, anonymous, renewed } = options || {};
  const personal = Boolean(!key && !anonymous && state.person && state.renew);
  if (personal && !renewed && state.person.expiresAt - Date.now() < RENEW_AHEAD_MS) await state.renew();
  const url = new URL(path.replace(/^\//, ""), ROOT);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const headers = { Accept: "application/json", ...(extra || {}) };
  // Public documents (the OpenAPI description) are fetched without the key.
  if (!anonymous) headers.Authorization = "Bearer " + (key || state.key);
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (error) {
    throw new ApiError(0, "NetworkError", "The service could not be reached. Check your connection and try again.");
  }
  const raw = await response.text();
  let data = null;
  try { data = raw ? JSON.parse(raw) : null; } catch (error) { data = null; }
  if (response.status === 401 && personal && !renewed && (await state.renew())) {
    return api(method, path, { ...options, renewed: true });
  }
  if (!response.ok) {
    let message = (data && (data.Message || data.message)) || "The service answered " + response.status + ".";
    if (response.status === 401) {
      message = personal ? "Your session has ended: sign in again." : "The key was not accepted: it is unknown, revoked or expired.";
    }
    const error = new ApiError(response.status, (data && data.Code) || "", message);
    error.data = data;
    throw error;
  }
  return data;
}

export const enc = encodeURIComponent;
export const communityPath = () => "/communities/" + enc(state.community);
export const keysPath = () => communityPath() + "/apikeys";
