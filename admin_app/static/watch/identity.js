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

/** An error from the REST API; `status` 0 means the request did not reach it. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
  /** The endpoint does not exist on this server (or the server is unreachable). */
  get missing() { return this.status === 0 || this.status === 404 || this.status === 405; }
}

async function postJson(url, body, token = null) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(url, { method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin" });
  } catch (err) {
    throw new ApiError(0, `cannot reach the server: ${err.message}`);
  }
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  if (!response.ok) {
    const err = data && (data.error || data);
    const message = (err && (err.message || err.detail)) || `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, String(message));
  }
  return data || {};
}

/** POST /api/auth/guest/: a guest access token for this display name. */
export async function guestSignIn(displayName) {
  const data = await postJson("/api/auth/guest/", { display_name: displayName });
  const token = data.access || data.access_token || data.token;
  if (typeof token !== "string") throw new ApiError(500, "the guest sign-in answer carries no token");
  return token;
}

/** POST /api/rooms/create/: create a room; returns its code. */
export async function createRoomApi(name, token) {
  const data = await postJson("/api/rooms/create/", { name }, token);
  const room = data.room || data;
  const code = room.code || room.room_code || data.code;
  if (typeof code !== "string") throw new ApiError(500, "the room creation answer carries no room code");
  return code;
}

/** A fresh room code from a room name: "movie-night-k3x9". */
export function newRoomCode(name) {
  const slug = name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 20);
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  const suffix = Array.from(bytes, (b) => "abcdefghijkmnpqrstuvwxyz23456789"[b % 32]).join("");
  return slug.length >= 2 ? `${slug}-${suffix}` : `room-${suffix}`;
}
