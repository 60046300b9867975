// The landing page: create a room, or join one by its code.
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
  ApiError, checkName, createRoomApi, forgetToken, guestSignIn, newRoomCode, parseRoomCode,
  setPendingCreate, storedName, storedToken, storeName, storeToken, tokenClaims,
} from "./identity.js";

const $ = (id) => document.getElementById(id);

function showError(el, message) {
  el.textContent = message;
  el.hidden = !message;
}

function renderIdentity() {
  const token = storedToken();
  const claims = token ? tokenClaims(token) : null;
  $("identity").hidden = !claims;
  if (claims) {
    const who = claims.guest ? `Guest: ${claims.name || "guest"}` : `Signed in as ${claims.name || claims.sub}`;
    $("identity-text").textContent = who;
  }
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
  try {
    let token = storedToken();
    if (!token) {
      token = await guestSignIn(displayName);
      storeToken(token);
    }
    openRoom(await createRoomApi(roomName, token, { entryMode: mode, password }));
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
    if (err instanceof ApiError && err.status === 401) forgetToken();
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

$("create-form").addEventListener("submit", onCreate);
for (const radio of $("create-form").querySelectorAll("input[name=entry_mode]")) {
  radio.addEventListener("change", renderEntryMode);
}
renderEntryMode();
$("join-form").addEventListener("submit", onJoin);
$("sign-out").addEventListener("click", () => {
  forgetToken();
  renderIdentity();
});
renderIdentity();
