// Who the visitor is, and the two REST calls the pages make.
//
// Stored in localStorage (shared by the tabs of one browser profile):
//   watchparty.token         an access token (HS256 JWT) from the web app: a sign-in,
//                            or a guest sign-in made by the landing page
//   watchparty.display_name  the name last typed
// Stored in sessionStorage (one tab):
//   watchparty.create.<code> {name, settings?, media?}: the room this tab asked to
//                            create through hello.create (when the REST API is absent)
//   watchparty.session.<code> the resume session (sync.js)

export const TOKEN_KEY = "watchparty.token";
export const NAME_KEY = "watchparty.display_name";
export const REFRESH_KEY = "watchparty.refresh";
export const ROOM_CODE_RE = /^[A-Za-z0-9_-]{3,32}$/;

function get(storage, key) {
  try { return storage.getItem(key); } catch { return null; }
}
function set(storage, key, value) {
  try {
    if (value === null) storage.removeItem(key);
    else storage.setItem(key, value);
  } catch { /* storage disabled: the page still works for this visit */ }
}

/** The claims of a JWT, unverified (for display and expiry only), or null. */
export function tokenClaims(token) {
  try {
    const part = token.split(".")[1];
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** The stored access token if it has not expired (with a minute to spare), else null. */
export function storedToken() {
  const token = get(localStorage, TOKEN_KEY);
  if (!token) return null;
  const claims = tokenClaims(token);
  if (!claims || (typeof claims.exp === "number" && claims.exp * 1000 < Date.now() + 60_000)) {
    set(localStorage, TOKEN_KEY, null);
    return null;
  }
  return token;
}

export function storeToken(token) { set(localStorage, TOKEN_KEY, token); }
export function forgetToken() { set(localStorage, TOKEN_KEY, null); }

/** Keep both tokens of a sign-in answer ({access, refresh}). */
export function storeSession(answer) {
  const access = answer.access || answer.access_token || answer.token;
  if (typeof access !== "string") throw new ApiError(500, "the sign-in answer carries no token");
  set(localStorage, TOKEN_KEY, access);
  set(localStorage, REFRESH_KEY, typeof answer.refresh === "string" ? answer.refresh : null);
  sessionChanged();
  return access;
}

/** Tell other parts of the page (the notification bell) that the sign-in changed. */
export const SESSION_EVENT = "watchparty:session";
function sessionChanged() {
  if (typeof window !== "undefined") window.dispatchEvent(new Event(SESSION_EVENT));
}

/** Forget the sign-in on this browser: both tokens. */
export function forgetSession() {
  set(localStorage, TOKEN_KEY, null);
  set(localStorage, REFRESH_KEY, null);
  sessionChanged();
}

/**
 * A usable access token: the stored one while it has more than a minute left, else a
 * new one from POST /api/auth/refresh/ with the stored refresh token (which the server
 * rotates: the answer's refresh token replaces it). Null when neither works (never
 * signed in, signed out, or the refresh token expired or was revoked).
 */
export async function freshToken() {
  const token = storedToken();
  if (token) return token;
  // One refresh at a time in this page: two parts of a page (the start page and the
  // notification bell) renewing at once would present the same refresh token twice,
  // which the server takes for a stolen token and revokes the whole session.
  if (!refreshing) refreshing = refreshSession().finally(() => { refreshing = null; });
  return refreshing;
}

let refreshing = null;

async function refreshSession() {
  const refresh = get(localStorage, REFRESH_KEY);
  if (!refresh) return null;
  try {
    return storeSession(await postJson("/api/auth/refresh/", { refresh }));
  } catch (err) {
    if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 429) {
      forgetSession(); // refused: the session is over
    }
    return null;
  }
}
export function storedName() { return get(localStorage, NAME_KEY) || ""; }
export function storeName(name) { set(localStorage, NAME_KEY, name); }

export function pendingCreate(code) {
  try { return JSON.parse(get(sessionStorage, `watchparty.create.${code}`) || "null"); } catch { return null; }
}
export function setPendingCreate(code, create) {
  set(sessionStorage, `watchparty.create.${code}`, create === null ? null : JSON.stringify(create));
}

/** Validate a display name: 1 to 40 characters, not only spaces. */
export function checkName(name) {
  const trimmed = name.trim();
  if (!trimmed) return "Enter your name.";
  if (trimmed.length > 40) return "A name has at most 40 characters.";
  return null;
}

/** A room code from what was typed: a code, or a link ending in /watch/<code>. */
export function parseRoomCode(text) {
  let value = text.trim();
  const match = value.match(/\/watch\/([^/?#]+)/);
  if (match) value = decodeURIComponent(match[1]);
  return ROOM_CODE_RE.test(value) ? value : null;
}

/** An error from the REST API; `status` 0 means the request did not reach it.
 * `code` is the API's error code (`wrong_password`, `join_denied`, ...) when it gave
 * one; `retryAfterMs` the Retry-After of a 429, when given. */
export class ApiError extends Error {
  constructor(status, message, code = null, retryAfterMs = null, details = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
    this.details = details; // [{field, message}] for a 422
  }
  /** The endpoint does not exist on this server (or the server is unreachable). */
  get missing() { return this.status === 0 || this.status === 404 || this.status === 405; }
}

/** One REST call; resolves with {status, data} for a 2xx answer, else throws ApiError. */
export async function requestJson(method, url, { body = undefined, token = null } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, `cannot reach the server: ${err.message}`);
  }
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  if (!response.ok) {
    const err = data && (data.error || data);
    const message = (err && (err.message || err.detail)) || `${response.status} ${response.statusText}`;
    const code = err && typeof err.code === "string" ? err.code : null;
    const retryAfter = Number(response.headers.get("Retry-After"));
    const retryAfterMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : null;
    const details = err && Array.isArray(err.details) ? err.details : [];
    throw new ApiError(response.status, String(message), code, retryAfterMs, details);
  }
  return { status: response.status, data: data || {} };
}

async function postJson(url, body, token = null) {
  return (await requestJson("POST", url, { body, token })).data;
}

/** POST /api/auth/guest/: a guest sign-in for this display name; stores and returns
 * its access token (and keeps its refresh token, so the guest stays the same person). */
export async function guestSignIn(displayName) {
  return storeSession(await postJson("/api/auth/guest/", { display_name: displayName }));
}

/** POST /api/auth/login/: sign in with an account; stores and returns the access token.
 * Throws ApiError 401 `invalid_credentials`, 429 when rate limited. */
export async function signInApi(email, password) {
  return storeSession(await postJson("/api/auth/login/", { email, password }));
}

/** POST /api/auth/register/: create an account and sign in; stores and returns the
 * access token. Throws ApiError 409 (email taken), 422 (a field is invalid; the message
 * says which), 429. */
export async function registerApi(email, password, displayName) {
  return storeSession(await postJson("/api/auth/register/", { email, password, display_name: displayName }));
}

/** POST /api/auth/logout/: revoke this access token and the account's refresh tokens
 * (here and on the sync socket), then forget both on this browser. */
export async function signOutApi(token) {
  try {
    if (token) await requestJson("POST", "/api/auth/logout/", { token });
  } finally {
    forgetSession();
  }
}

/** GET /api/videos/: library videos a room may play (public ones, and with a token
 * the account's own), newest first; `search` matches words of titles and descriptions. */
export async function videosApi(search = "", token = null, pageSize = 20) {
  const query = new URLSearchParams({ page_size: String(pageSize) });
  if (search) query.set("search", search);
  const { data } = await requestJson("GET", `/api/videos/?${query}`, { token });
  return Array.isArray(data.results) ? data.results : [];
}

/** GET /api/rooms/: live public rooms, newest first (the first `pageSize`). */
export async function publicRoomsApi(pageSize = 20) {
  const { data } = await requestJson("GET", `/api/rooms/?page_size=${pageSize}`);
  return Array.isArray(data.results) ? data.results : [];
}

/** The ways into a room (POST /api/rooms/create/ `entry_mode`). */
export const ENTRY_MODES = ["open", "password", "approval"];

/**
 * POST /api/rooms/create/: create a room; returns its code.
 * @param {string} name
 * @param {string} token
 * @param {{entryMode?: string, password?: string|null, visibility?: string|null}} [entry]
 *   who may come in: open (anyone), password (with `password`), approval (the host
 *   approves each account); `visibility` public (listed on the start page) or private
 */
export async function createRoomApi(name, token, { entryMode = "open", password = null, visibility = null } = {}) {
  const body = { name };
  if (visibility) body.visibility = visibility;
  if (entryMode !== "open") body.entry_mode = entryMode;
  if (entryMode === "password") body.password = password;
  const data = await postJson("/api/rooms/create/", body, token);
  const room = data.room || data;
  const code = room.code || room.room_code || data.code;
  if (typeof code !== "string") throw new ApiError(500, "the room creation answer carries no room code");
  return code;
}

/** GET /api/rooms/{code}/: the room as the API shows it (`entry_mode`, `visibility`...).
 * A private room answers 401 (no token) or 403 (not a member). */
export async function roomDetailApi(code, token = null) {
  return (await requestJson("GET", `/api/rooms/${encodeURIComponent(code)}/`, { token })).data;
}

/**
 * POST /api/rooms/join/: ask to enter a room with this account (and password).
 * Resolves with {joined: true, room} (200) or {joined: false} (202: waiting for the
 * host's approval). Throws ApiError: 403 `password_required`, `wrong_password`,
 * `join_denied`, `guests_not_allowed`; 409 `join_pending` (a request is waiting already).
 */
export async function joinRoomApi(code, token, password = null) {
  const body = { room_code: code };
  if (password !== null) body.password = password;
  const { status, data } = await requestJson("POST", "/api/rooms/join/", { body, token });
  return { joined: status === 200 && data.status !== "pending", room: data.room || null };
}

/**
 * GET /api/rooms/{code}/members/?status=pending: the accounts waiting for approval,
 * oldest first (the first 50). Only the owner, the host or staff may see them: others
 * get ApiError 403 `forbidden`.
 * @returns {Promise<Array<{user_id: string, display_name: string, requested_at: string}>>}
 */
export async function joinRequestsApi(code, token) {
  const url = `/api/rooms/${encodeURIComponent(code)}/members/?status=pending&page_size=50`;
  const { data } = await requestJson("GET", url, { token });
  return Array.isArray(data.results) ? data.results : [];
}

/** POST /api/rooms/approve/ or /api/rooms/deny/: answer one request to join. */
export async function decideJoinApi(code, token, userId, approve) {
  const path = approve ? "/api/rooms/approve/" : "/api/rooms/deny/";
  return postJson(path, { room_code: code, user_id: userId }, token);
}

/** DELETE /api/rooms/{code}/leave/: leave the room, or withdraw a request to join it. */
export async function leaveRoomApi(code, token) {
  await requestJson("DELETE", `/api/rooms/${encodeURIComponent(code)}/leave/`, { token });
}

/** A fresh room code from a room name: "movie-night-k3x9". */
export function newRoomCode(name) {
  const slug = name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 20);
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  const suffix = Array.from(bytes, (b) => "abcdefghijkmnpqrstuvwxyz23456789"[b % 32]).join("");
  return slug.length >= 2 ? `${slug}-${suffix}` : `room-${suffix}`;
}
