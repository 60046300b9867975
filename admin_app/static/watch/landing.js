// The landing page: create a room, join one by its code or from the list of public
// rooms, and sign in, create an account or sign out.
//
// Accounts: the page keeps the access and refresh tokens of a sign-in (identity.js);
// an access token close to expiry is renewed with the refresh token (freshToken).
// Signing out revokes both on the server (POST /api/auth/logout/).
//
// Creating: with the stored access token (a sign-in), or a guest token from
// POST /api/auth/guest/, the page calls POST /api/rooms/create/ (with the entry mode
// chosen: open, password or approval) and opens the room. Where this server has no
// such API, it opens a new code and the watch page creates the room with hello.create
// (allowed to guests when the guest_rooms setting is on; open rooms only).
//
// Joining by code opens the watch page, which asks for the password or the host's
// approval when the room wants either (watch.js).

import {
  ApiError, checkName, createRoomApi, forgetSession, freshToken, guestSignIn, newRoomCode,
  parseRoomCode, publicRoomsApi, registerApi, setPendingCreate, signInApi, signOutApi,
  storedName, storedToken, storeName, tokenClaims,
} from "./identity.js";
import { el, showError } from "./dom.js";

const PUBLIC_ROOMS_REFRESH_MS = 15_000;

const $ = (id) => document.getElementById(id);

function renderIdentity() {
  const token = storedToken();
  const claims = token ? tokenClaims(token) : null;
  $("identity").hidden = !claims;
  if (claims) {
    const who = claims.guest ? `Guest: ${claims.name || "guest"}` : `Signed in as ${claims.name || claims.sub}`;
    $("identity-text").textContent = who;
  }
  // The account card is for signing in; a signed-in account needs it no more.
  $("account").hidden = !!claims && !claims.guest;
  for (const id of ["create-display-name", "join-display-name"]) {
    const input = $(id);
    if (!input.value) input.value = storedName() || (claims && claims.name) || "";
  }
}

function entryMode() {
  const checked = $("create-form").querySelector("input[name=entry_mode]:checked");
  return checked ? checked.value : "open";
}

function renderEntryMode() {
  const wantsPassword = entryMode() === "password";
  $("create-password-field").hidden = !wantsPassword;
  $("create-password").required = wantsPassword;
}

function openRoom(code) {
  location.assign(`/watch/${encodeURIComponent(code)}`);
}

async function onCreate(event) {
  event.preventDefault();
  const error = $("create-error");
  showError(error, "");
  const roomName = $("create-name").value.trim();
  const displayName = $("create-display-name").value.trim();
  if (!roomName) return showError(error, "Enter a room name.");
  const nameProblem = checkName(displayName);
  if (nameProblem) return showError(error, nameProblem);
  const mode = entryMode();
  const password = mode === "password" ? $("create-password").value : null;
  if (mode === "password" && password.length < 4) {
    $("create-password").focus();
    return showError(error, "A room password has at least 4 characters.");
  }
  storeName(displayName);
  const button = event.submitter || event.target.querySelector("button[type=submit]");
  button.disabled = true;
  const visibility = $("create-public").checked ? "public" : "private";
  try {
    let token = await freshToken();
    if (!token) token = await guestSignIn(displayName);
    openRoom(await createRoomApi(roomName, token, { entryMode: mode, password, visibility }));
  } catch (err) {
    if (err instanceof ApiError && err.missing && mode !== "open") {
      showError(error, "This server cannot make rooms with a password or approval: choose \u201cAnyone with the link\u201d.");
      button.disabled = false;
      return;
    }
    if (err instanceof ApiError && err.missing) {
      // No REST API here: let the sync socket create the room (hello.create).
      const code = newRoomCode(roomName);
      setPendingCreate(code, { name: roomName });
      openRoom(code);
      return;
    }
    if (err instanceof ApiError && err.status === 401) forgetSession();
    showError(error, `Could not create the room: ${err.message}`);
    button.disabled = false;
    renderIdentity();
  }
}

function onJoin(event) {
  event.preventDefault();
  const error = $("join-error");
  showError(error, "");
  const code = parseRoomCode($("join-code").value);
  if (!code) return showError(error, "A room code has 3 to 32 letters, digits, - or _.");
  const displayName = $("join-display-name").value.trim();
  if (!storedToken()) {
    const problem = checkName(displayName);
    if (problem) return showError(error, problem);
  }
  if (displayName) storeName(displayName);
  openRoom(code);
}

// --- accounts ------------------------------------------------------------------------
function fieldProblem(err) {
  const first = err instanceof ApiError && err.details && err.details[0];
  return first ? `${first.field}: ${first.message}` : err.message;
}

async function onAccount(event) {
  event.preventDefault();
  const error = $("account-error");
  showError(error, "");
  const register = event.submitter && event.submitter.value === "register";
  const email = $("account-email").value.trim();
  const password = $("account-password").value;
  if (!email || !password) return showError(error, "Enter your email and password.");
  let name = "";
  if (register) {
    name = $("account-name").value.trim() || $("create-display-name").value.trim();
    const problem = checkName(name);
    if (problem) {
      $("account-name").focus();
      return showError(error, problem);
    }
    if (password.length < 8) return showError(error, "A new account's password has at least 8 characters.");
  }
  const buttons = [...event.target.querySelectorAll("button")];
  for (const b of buttons) b.disabled = true;
  try {
    if (register) await registerApi(email, password, name);
    else await signInApi(email, password);
    $("account-password").value = "";
    const claims = tokenClaims(storedToken()) || {};
    if (claims.name) storeName(claims.name);
    for (const id of ["create-display-name", "join-display-name"]) $(id).value = claims.name || $(id).value;
  } catch (err) {
    if (err.status === 401) showError(error, "Wrong email or password.");
    else if (err.status === 409) showError(error, "An account with this email exists already: sign in instead.");
    else if (err.status === 429) showError(error, "Too many attempts: wait a minute and try again.");
    else showError(error, `Could not ${register ? "create the account" : "sign in"}: ${fieldProblem(err)}`);
  } finally {
    for (const b of buttons) b.disabled = false;
    renderIdentity();
  }
}

async function onSignOut() {
  const token = storedToken();
  const claims = token ? tokenClaims(token) : null;
  // A guest has nothing to revoke worth a request; an account's tokens are revoked.
  try {
    if (claims && !claims.guest) await signOutApi(await freshToken());
    else forgetSession();
  } catch {
    forgetSession(); // signed out here even if the server could not be told
  }
  renderIdentity();
}

// --- public rooms ----------------------------------------------------------------------
async function renderPublicRooms() {
  let rooms;
  try {
    rooms = await publicRoomsApi();
    $("public-error").hidden = true;
  } catch (err) {
    if (err instanceof ApiError && err.missing) {
      $("public-rooms").closest("section").hidden = true; // no REST API on this server
      return;
    }
    showError($("public-error"), `Could not load the public rooms: ${err.message}`);
    return;
  }
  const items = rooms.map((r) => {
    const people = r.participant_count === 1 ? "1 person" : `${r.participant_count} people`;
    const entry = { password: " · password", approval: " · asks the host" }[r.entry_mode] || "";
    const title = r.media && r.media.title ? ` · ${r.media.title}` : "";
    return el("li", { attrs: { "data-code": r.code } }, [
      el("a", { text: r.name, attrs: { href: `/watch/${encodeURIComponent(r.code)}` } }),
      el("span", { text: ` ${people}${entry}${title}`, cls: "muted" }),
    ]);
  });
  $("public-rooms").replaceChildren(...items);
  $("public-empty").hidden = rooms.length > 0;
}

$("create-form").addEventListener("submit", onCreate);
$("account-form").addEventListener("submit", onAccount);
for (const radio of $("create-form").querySelectorAll("input[name=entry_mode]")) {
  radio.addEventListener("change", renderEntryMode);
}
renderEntryMode();
$("join-form").addEventListener("submit", onJoin);
$("sign-out").addEventListener("click", onSignOut);
renderIdentity();
renderPublicRooms();
setInterval(() => { if (!document.hidden) renderPublicRooms(); }, PUBLIC_ROOMS_REFRESH_MS);
// A sign-in whose access token expired comes back with its refresh token.
if (!storedToken()) freshToken().then((token) => { if (token) renderIdentity(); });
