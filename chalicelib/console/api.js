// The API client: every request the console makes, and the error it throws.

import { state } from "./shared.js";

// The app root: this module is served from <root>/console/api.js.
const ROOT = new URL("../", import.meta.url);

// field: the request field the error is about, as the API's answer names it in Field (a 400, and
// the 403s and 409s a field causes), or as the console's own check does (fieldError). The message
// starts with it ("roles: unknown role 'x'"); detail is the rest, shown beside the field.
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
    const prefix = this.field ? this.field + ": " : "";
    this.detail = prefix && message.startsWith(prefix) ? message.slice(prefix.length) : message;
  }
}

// An error the console finds itself, about one field: shown beside that field.
export function fieldError(field, detail, status = 400) {
  return new ApiError(status, "", field + ": " + detail, field);
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
    const field = response.status !== 401 && data && typeof data.Field === "string" ? data.Field : null;
    const error = new ApiError(response.status, (data && data.Code) || "", message, field);
    error.data = data;
    throw error;
  }
  return data;
}

export const enc = encodeURIComponent;
export const communityPath = () => "/communities/" + enc(state.community);
export const keysPath = () => communityPath() + "/apikeys";
