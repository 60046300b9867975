// The watch page: wires the sync client and the player controller to the page.
//
// Every piece of user text (names, chat, titles, error messages) goes into the page
// through textContent, never innerHTML.
//
// Joining: a room whose entry mode is password or approval (GET /api/rooms/{code}/
// says so, or the sync server refuses the hello with `forbidden` and close 4003) is
// entered through the web app first (POST /api/rooms/join/) with an account token: the
// stored sign-in, else a guest sign-in. See "password and approval rooms" below.
//
// `window.watchparty` exposes the client and the player for debugging and for the
// browser tests (once the page starts connecting).

import { makeLocalClock } from "./clock.js";
import { el, showError } from "./dom.js";
import {
  checkName, decideJoinApi, forgetToken, freshToken, guestSignIn, joinRequestsApi, joinRoomApi,
  leaveRoomApi, pendingCreate, roomDetailApi, setPendingCreate, storedName, storedToken, storeName,
  storeToken, videosApi,
} from "./identity.js";
import { PlayerController, isAllowedMediaUrl, probeDuration } from "./player.js";
import { moderationButtons } from "./moderation.js";
import { setupPolls } from "./polls.js";
import { setupQueue } from "./queue.js";
import { setupReactions } from "./reactions.js";
import { CLOSE_FORBIDDEN, SessionStore, SyncClient } from "./sync.js";

const $ = (id) => document.getElementById(id);
const app = $("app");
const room = app.dataset.room;
const syncUrl = app.dataset.syncUrl;
const video = $("video");

const CONNECTION_TEXT = {
  idle: "Not connected",
  connecting: "Connecting…",
  syncing: "Connected, syncing the clock…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline: waiting for the network",
  closed: "Disconnected",
};
const TYPING_TIMEOUT_MS = 5000;

let client = null;
let player = null;

export function formatTime(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) seconds = 0;
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

function formatMs(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  const sign = ms > 0 ? "+" : ms < 0 ? "−" : "±";
  return `${sign}${Math.abs(ms).toFixed(Math.abs(ms) < 10 ? 1 : 0)} ms`;
}

// --- share link ----------------------------------------------------------------------
function setupShare() {
  const link = `${location.origin}/watch/${encodeURIComponent(room)}`;
  $("share-link").value = link;
  $("copy-link").addEventListener("click", async () => {
    const status = $("copy-status");
    try {
      await navigator.clipboard.writeText(link);
      status.textContent = "Copied";
    } catch {
      $("share-link").select();
      status.textContent = "Select and copy the link";
    }
  });
}

// --- connection state ----------------------------------------------------------------
let retryTimer = null;
function renderConnection(detail) {
  const conn = $("conn");
  conn.dataset.state = detail.state;
  let text = CONNECTION_TEXT[detail.state] || detail.state;
  clearInterval(retryTimer);
  if (detail.state === "reconnecting" && detail.retryInMs > 0) {
    const until = performance.now() + detail.retryInMs;
    const update = () => {
      const left = Math.max(0, Math.ceil((until - performance.now()) / 1000));
      $("conn-text").textContent = `${text} in ${left} s`;
    };
    update();
    retryTimer = setInterval(update, 500);
  } else {
    if (detail.state === "closed" && detail.reason) text = `${text}: ${detail.reason}`;
    $("conn-text").textContent = text;
  }
  $("reconnect").hidden = !(detail.state === "reconnecting" || detail.state === "offline");
  renderChatEnabled();
  renderControls();
}

function renderChatEnabled() {
  const off = client.settings.chat_enabled === false;
  $("chat-input").disabled = !client.joined || off;
  $("chat-send").disabled = $("chat-input").disabled;
  $("chat-input").placeholder = off ? "Chat is turned off in this room" : "Say something…";
}

// --- room, participants ----------------------------------------------------------------
function renderRoom() {
  const info = client.roomInfo;
  if (info) {
    $("room-name").textContent = info.name;
    document.title = `${info.name} · watchparty`;
  }
  renderChatEnabled();
  renderControls();
}

function renderControls() {
  const can = !!client && client.joined && client.canControl();
  $("controls").disabled = !can;
  if (can && !library.loaded) loadLibrary("");
  const me = client && client.participants.get(client.participantId);
  const control = client ? client.settings.control : null;
  let who = "";
  if (me && !can) who = control === "host" ? "(only the host controls playback)" : "(the host and co-hosts control playback)";
  else if (me) who = `(you are ${me.role})`;
  $("controls-who").textContent = who;
}

function renderParticipants() {
  const list = $("participants");
  const people = [...client.participants.values()];
  const rank = { host: 0, cohost: 1, viewer: 2 };
  people.sort((a, b) => (rank[a.role] ?? 3) - (rank[b.role] ?? 3) || a.name.localeCompare(b.name));
  const items = people.map((p) => {
    const badges = [el("span", { text: p.role, cls: `badge role-${p.role}` })];
    if (p.id === client.participantId) badges.push(el("span", { text: "you", cls: "badge" }));
    if (!p.connected) badges.push(el("span", { text: "away", cls: "badge warn" }));
    if (p.buffering) badges.push(el("span", { text: "buffering", cls: "badge warn" }));
    if (client.muted.has(p.id)) badges.push(el("span", { text: "muted", cls: "badge warn" }));
    const stats = el("span", {
      cls: "stats muted",
      text: `drift ${formatMs(p.drift_ms)} · ping ${p.rtt_ms == null ? "–" : `${Math.round(p.rtt_ms)} ms`}`,
      attrs: {
        title: "Drift: how far this person's video is from the room's position. Ping: the round trip " +
          "of the server's latest heartbeat to this page and back, including the page's own delay in answering.",
      },
    });
    return el(
      "li",
      { attrs: { "data-pid": p.id, "data-buffering": String(!!p.buffering), "data-connected": String(!!p.connected) } },
      [el("span", { text: p.name, cls: "name" }), ...badges, stats, moderationButtons(client, p)],
    );
  });
  list.replaceChildren(...items);
  const connected = people.filter((p) => p.connected).length;
  $("people-count").textContent = `(${connected})`;
}

// --- the video library ---------------------------------------------------------------------
const library = { loaded: false, generation: 0 };

async function loadLibrary(search) {
  library.loaded = true;
  const generation = ++library.generation;
  let videos;
  try {
    videos = await videosApi(search, storedToken());
  } catch (err) {
    if (generation !== library.generation) return;
    if (err.missing) {
      $("library").hidden = true; // this server has no video library
      return;
    }
    showError($("control-error"), `Could not load the library: ${err.message}`);
    return;
  }
  if (generation !== library.generation) return; // a newer search answered first
  const items = videos.map((v) => {
    const play = el("button", { text: "Play in the room", attrs: { type: "button", "aria-label": `Play ${v.title} in the room` } });
    play.addEventListener("click", () => control(() => client.changeMediaById(v.id)));
    const length = v.duration_s == null ? "" : ` · ${formatTime(v.duration_s)}`;
    return el("li", { attrs: { "data-video-id": v.id } }, [
      el("span", { text: v.title, cls: "name" }),
      el("span", { text: `${length}${v.visibility === "public" ? "" : ` · ${v.visibility}`} `, cls: "muted" }),
      play,
    ]);
  });
  $("library-list").replaceChildren(...items);
  $("library-empty").hidden = videos.length > 0;
}

function setupLibrary() {
  $("library-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadLibrary($("library-search").value.trim());
  });
}

// --- requests to join (approval rooms) ---------------------------------------------------
// The host's (and the owner's) page lists the accounts waiting for approval, from
// GET /api/rooms/{code}/members/?status=pending: when the page becomes host, and when
// the sync server pushes a join_request. Approve and Deny answer over REST.
const requests = { loading: false, again: false, wasHost: false };

function isHost() {
  const me = client && client.participants.get(client.participantId);
  return !!me && me.role === "host";
}

async function refreshRequests() {
  const token = storedToken();
  if (!token) return; // a guest page without an account cannot moderate
  if (requests.loading) {
    requests.again = true; // one more round once this one is done
    return;
  }
  requests.loading = true;
  try {
    renderRequests(await joinRequestsApi(room, token));
    $("requests-error").hidden = true;
  } catch (err) {
    if (err.status === 403 || err.status === 401 || err.missing) renderRequests([]);
    else showError($("requests-error"), `Could not load the requests to join: ${err.message}`);
  } finally {
    requests.loading = false;
  }
  if (requests.again) {
    requests.again = false;
    refreshRequests();
  }
}

function renderRequests(pending) {
  const items = pending.map((r) => {
    const name = r.display_name || "someone";
    const approve = el("button", { text: "Approve", cls: "primary", attrs: { type: "button", "aria-label": `Approve ${name}` } });
    const deny = el("button", { text: "Deny", attrs: { type: "button", "aria-label": `Deny ${name}` } });
    approve.addEventListener("click", () => decide(r.user_id, true, [approve, deny]));
    deny.addEventListener("click", () => decide(r.user_id, false, [approve, deny]));
    return el("li", { attrs: { "data-user-id": r.user_id } }, [el("span", { text: name, cls: "name" }), approve, deny]);
  });
  $("request-list").replaceChildren(...items);
  $("requests-count").textContent = pending.length ? `(${pending.length})` : "";
  $("requests").hidden = pending.length === 0;
}

async function decide(userId, approve, buttons) {
  for (const b of buttons) b.disabled = true;
  try {
    await decideJoinApi(room, storedToken(), userId, approve);
    $("requests-error").hidden = true;
  } catch (err) {
    // 404 no_pending_request: withdrawn, or answered from another page meanwhile.
    if (err.status !== 404) showError($("requests-error"), err.message);
  }
  await refreshRequests();
}

function onParticipantsForRequests() {
  const host = isHost();
  if (host && !requests.wasHost) refreshRequests();
  if (!host && requests.wasHost) renderRequests([]);
  requests.wasHost = host;
}

// --- chat ------------------------------------------------------------------------------
function chatItem(m) {
  const time = new Date(m.sent_at_ms);
  const stamp = Number.isNaN(time.getTime()) ? "" : time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const own = m.participant_id === client.participantId;
  let actions = null;
  if (own) {
    const edit = el("button", { text: "Edit", cls: "link-button", attrs: { type: "button", title: "Edit what you wrote" } });
    const remove = el("button", { text: "Delete", cls: "link-button", attrs: { type: "button", title: "Delete what you wrote" } });
    edit.addEventListener("click", () => startEdit(m));
    remove.addEventListener("click", () => deleteMessage(m, remove));
    actions = el("span", { cls: "chat-actions" }, [edit, remove]);
  }
  return el("li", { attrs: { "data-id": String(m.id), "data-own": String(own) } }, [
    el("span", { text: m.name, cls: "name" }),
    el("time", { text: stamp, cls: "muted", attrs: { datetime: Number.isNaN(time.getTime()) ? "" : time.toISOString() } }),
    actions,
    el("p", { text: m.text, cls: "text" }),
    m.edited_at_ms ? el("span", { text: "(edited)", cls: "muted" }) : null,
  ]);
}

function chatRow(id) {
  return $("chat-log").querySelector(`li[data-id="${CSS.escape(String(id))}"]`);
}

/** Replace the text of one's own message *m* by a small form; Enter saves, Escape cancels. */
function startEdit(m) {
  const row = chatRow(m.id);
  if (!row || row.querySelector("form")) return;
  const input = el("input", { attrs: { "aria-label": "New text", maxlength: String($("chat-input").maxLength), autocomplete: "off" } });
  input.value = m.text;
  const save = el("button", { text: "Save", cls: "primary", attrs: { type: "submit" } });
  const cancel = el("button", { text: "Cancel", attrs: { type: "button" } });
  const form = el("form", { cls: "chat-edit", attrs: { novalidate: "" } }, [input, save, cancel]);
  const text = row.querySelector(".text");
  text.hidden = true;
  row.append(form);
  const close = () => { form.remove(); text.hidden = false; };
  cancel.addEventListener("click", close);
  input.addEventListener("keydown", (event) => { if (event.key === "Escape") close(); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = input.value;
    if (!value.trim() || value === m.text) { close(); return; }
    save.disabled = true;
    try {
      await client.chatEdit(m.id, value);  // the chat_edited event redraws the row
      showError($("chat-error"), "");
    } catch (err) {
      save.disabled = false;
      showError($("chat-error"), `Not edited: ${err.message}`);
    }
  });
  input.focus();
}

async function deleteMessage(m, button) {
  button.disabled = true;
  try {
    await client.chatDelete(m.id);  // the chat_deleted event removes the row
    showError($("chat-error"), "");
  } catch (err) {
    button.disabled = false;
    showError($("chat-error"), `Not deleted: ${err.message}`);
  }
}

function renderChat(detail) {
  const log = $("chat-log");
  const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  if (detail.kind === "add") {
    log.append(chatItem(detail.message));
  } else if (detail.kind === "edit") {
    const old = log.querySelector(`li[data-id="${CSS.escape(String(detail.message.id))}"]`);
    if (old) old.replaceWith(chatItem(detail.message));
  } else if (detail.kind === "delete") {
    const old = log.querySelector(`li[data-id="${CSS.escape(String(detail.messageId))}"]`);
    if (old) old.remove();
  } else {
    log.replaceChildren(...client.chat.map(chatItem));
  }
  if (nearBottom || detail.kind === "reset") log.scrollTop = log.scrollHeight;
}

const typists = new Map();
function renderTyping({ participantId, typing }) {
  clearTimeout(typists.get(participantId));
  typists.delete(participantId);
  if (typing) typists.set(participantId, setTimeout(() => renderTyping({ participantId, typing: false }), TYPING_TIMEOUT_MS));
  const names = [...typists.keys()].map((id) => client.participants.get(id)?.name).filter(Boolean);
  $("typing").textContent = names.length ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…` : "";
}

function setupChat() {
  const input = $("chat-input");
  let typingSent = false;
  let typingTimer = null;
  const stopTyping = () => {
    clearTimeout(typingTimer);
    if (typingSent) client.typing(false);
    typingSent = false;
  };
  input.addEventListener("input", () => {
    if (!typingSent && input.value) {
      typingSent = client.typing(true);
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 3000);
  });
  input.addEventListener("blur", stopTyping);
  $("chat-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    showError($("chat-error"), "");
    stopTyping();
    try {
      input.value = "";
      await client.chatSend(text);
    } catch (err) {
      if (!input.value) input.value = text;
      showError($("chat-error"), `Not sent: ${err.message}`);
    }
  });
}

// --- player status ---------------------------------------------------------------------
let seekDragging = false;
function renderTimes() {
  const duration = Number.isFinite(video.duration) ? video.duration : (client.playback?.media?.duration_s ?? 0);
  $("time-current").textContent = formatTime(video.currentTime);
  $("time-duration").textContent = formatTime(duration);
  const range = $("seek-range");
  range.max = String(duration || 0);
  if (!seekDragging) range.value = String(video.currentTime);
  const s = client.playback;
  const playState = $("play-state");
  const state = !s || !s.media ? "no video" : s.waiting ? "waiting for everyone" : s.paused ? "paused" : player.mode === "hold" ? "starting…" : "playing";
  playState.textContent = state;
  playState.dataset.state = state;
  const rate = $("rate-state");
  rate.hidden = !s || s.rate === 1;
  if (s) rate.textContent = `${s.rate}×`;
  const est = client.clockEstimate;
  $("clock-info").textContent = est
    ? `Your clock vs the server: ${formatMs(est.offsetMs)} (fastest time-sync round trip ${est.rttMs.toFixed(1)} ms) · your drift ${formatMs(player.driftMs)}`
    : "";
}

function renderPlayback() {
  const s = client.playback;
  const media = s && s.media;
  $("media-title").textContent = media ? (media.title || media.url) : "No video loaded";
  $("media-title").classList.toggle("muted", !media);
  $("video-wrap").dataset.empty = String(!media);
  $("video-placeholder").textContent = "No video yet: whoever controls playback picks one under Playback controls.";
  if (s && document.activeElement !== $("rate")) $("rate").value = String(s.rate);
  renderTimes();
}

// --- host controls -----------------------------------------------------------------------
async function control(action) {
  const error = $("control-error");
  showError(error, "");
  try {
    await action();
  } catch (err) {
    showError(error, err.message);
  }
}


function roomPosition() {
  const s = client.playback;
  const now = client.serverNow();
  return s && now !== null ? player.expectedAt(now).position : video.currentTime;
}

function setupControls() {
  $("btn-play").addEventListener("click", () => control(() => client.play()));
  $("btn-pause").addEventListener("click", () => control(() => client.pause()));
  $("btn-back").addEventListener("click", () => control(() => client.seek(Math.max(0, roomPosition() - 10))));
  $("btn-forward").addEventListener("click", () => control(() => client.seek(roomPosition() + 10)));
  $("rate").addEventListener("change", (e) => control(() => client.setRate(Number(e.target.value))));
  const range = $("seek-range");
  range.addEventListener("pointerdown", () => { seekDragging = true; });
  range.addEventListener("input", () => { seekDragging = true; });
  range.addEventListener("change", () => {
    seekDragging = false;
    control(() => client.seek(Number(range.value)));
  });
  range.addEventListener("blur", () => { seekDragging = false; });
  $("seek-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = Number($("seek-to").value);
    if (!Number.isFinite(value) || value < 0) {
      showError($("control-error"), "Enter a position in seconds, 0 or more.");
      return;
    }
    control(() => client.seek(value));
  });
  $("media-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const url = $("media-url").value.trim();
    if (!isAllowedMediaUrl(url)) {
      showError($("control-error"), "The video URL must start with http://, https:// or / (a path on this site).");
      return;
    }
    const title = $("media-title-input").value.trim();
    control(async () => {
      const duration = await probeDuration(url);
      const media = { url, title };
      if (duration !== null) media.duration_s = duration;
      await client.changeMedia(media);
      $("media-url").value = "";
      $("media-title-input").value = "";
    });
  });
}

function setupPlayerBar() {
  const mute = $("mute");
  const renderMute = () => { mute.textContent = video.muted ? "Unmute" : "Mute"; mute.setAttribute("aria-pressed", String(video.muted)); };
  mute.addEventListener("click", () => {
    video.muted = !video.muted;
    $("video-overlay").hidden = true;
    renderMute();
  });
  video.addEventListener("volumechange", renderMute);
  $("volume").addEventListener("input", (e) => { video.volume = Number(e.target.value); });
  $("fullscreen").addEventListener("click", () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else video.requestFullscreen?.().catch(() => {});
  });
  renderMute();
}

// --- joining -------------------------------------------------------------------------------
/** The sync client and the player, made once; a refused hello restarts the same client. */
function ensureClient() {
  if (client) return client;
  client = new SyncClient({
    url: syncUrl,
    room,
    create: pendingCreate(room),
    clock: makeLocalClock(),
    sessions: new SessionStore(room),
  });
  player = new PlayerController(video, client);
  window.watchparty = { client, player, video };
  client.addEventListener("connection", (e) => {
    renderConnection(e.detail);
    if (!isEntryRefusal(e.detail)) return;
    if (entry.admissions >= 2) {
      // Let in by the web app, refused by the sync server, twice: do not go round.
      entryFailed("The room did not let this account in although it was admitted: reload the page to try again.");
    } else {
      admit();
    }
  });
  client.addEventListener("welcome", () => {
    entry.admissions = 0;
    setPendingCreate(room, null);
    $("leave").hidden = false;
    renderRoom();
  });
  client.addEventListener("settings", renderRoom);
  client.addEventListener("participants", renderParticipants);
  client.addEventListener("settings", renderParticipants); // the permission table
  client.addEventListener("participants", onParticipantsForRequests);
  client.addEventListener("welcome", () => {
    requests.wasHost = false;
    onParticipantsForRequests();
  });
  client.addEventListener("joinrequest", () => refreshRequests());
  client.addEventListener("chat", (e) => renderChat(e.detail));
  client.addEventListener("typing", (e) => renderTyping(e.detail));
  client.addEventListener("playback", renderPlayback);
  setupPolls(client);
  setupReactions(client, video);
  setupQueue(client);
  client.addEventListener("tokenrejected", forgetToken);
  client.addEventListener("servererror", (e) => {
    // A refused hello is told by the close that follows (and a password or approval
    // room's refusal leads to the entry form), not as a control error.
    if (e.detail === client.helloError && e.detail.code === "forbidden") return;
    showError($("control-error"), e.detail.message);
  });
  player.addEventListener("autoplayblocked", () => {
    const overlay = $("video-overlay");
    overlay.textContent = "Playing without sound: press Unmute to hear it.";
    overlay.hidden = false;
  });
  $("reconnect").addEventListener("click", () => client.reconnectNow());
  $("leave").addEventListener("click", async () => {
    await client.leave();
    location.assign("/");
  });
  $("chat-input").maxLength = 2000;
  client.addEventListener("welcome", () => {
    if (client.limits.max_chat_chars) $("chat-input").maxLength = client.limits.max_chat_chars;
  });
  setInterval(renderTimes, 250);
  return client;
}

/** Connect (or connect again) with the stored token, if any, and this display name. */
function connect(displayName) {
  ensureClient().restart({ token: storedToken(), displayName: displayName || null });
}

/** The sync server refused the hello because the room needs a password or the host's
 * approval (PROTOCOL.md: `forbidden`, then close 4003); not a refused room creation. */
function isEntryRefusal(detail) {
  return detail.state === "closed" && detail.code === CLOSE_FORBIDDEN
    && !!detail.error && detail.error.code === "forbidden" && !client.create;
}

// The name form: shown when the page needs a display name and has none.
let nameWaiter = null;
function askName() {
  const form = $("join-form");
  const input = $("display-name");
  form.hidden = false;
  if (!input.value) input.value = storedName();
  input.focus();
  return new Promise((resolve) => { nameWaiter = resolve; });
}

function setupNameForm() {
  const form = $("join-form");
  const input = $("display-name");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = input.value.trim();
    const problem = checkName(name);
    if (problem) {
      showError($("join-error"), problem);
      input.focus();
      return;
    }
    showError($("join-error"), "");
    storeName(name);
    form.hidden = true;
    const resolve = nameWaiter;
    nameWaiter = null;
    if (resolve) resolve(name);
  });
}

// --- password and approval rooms -----------------------------------------------------------
// The sync socket admits to such a room only an account with an approved membership
// (or the owner). The page makes sure it has an account token (the stored sign-in, else
// a guest sign-in with the display name), asks POST /api/rooms/join/ to let it in (with
// the password the visitor types, or as a request the host approves), then connects.
const APPROVAL_POLL_MS = 5000;
const entry = {
  active: false,      // the entry flow is under way
  waiting: false,     // a request waits for the host's approval
  generation: 0,      // bumped to ignore the answers of requests made before a cancel
  pollTimer: null,
  tokenRetried: false,
  admissions: 0,      // admitted by the web app since the last welcome
};

/** Show one part of the entry card: "password", "approval", "message", or none (null). */
function showEntryPart(part) {
  $("entry").hidden = part === null;
  $("password-form").hidden = part !== "password";
  $("approval").hidden = part !== "approval";
  if (part !== "message") showError($("entry-error"), "");
}

/** The connection line while the page is not connected. */
function setStatus(state, text) {
  clearInterval(retryTimer);
  $("conn").dataset.state = state;
  $("conn-text").textContent = text;
  $("reconnect").hidden = true;
}

async function admit() {
  if (entry.active) return;
  entry.active = true;
  entry.tokenRetried = false;
  setStatus("idle", "Not connected: this room lets in only those it admits");
  await requestEntry(null);
}

/** One POST /api/rooms/join/ (with *password* when not null), and what follows from it. */
async function requestEntry(password) {
  const generation = entry.generation;
  const token = await ensureToken();
  if (!token || generation !== entry.generation) return;
  let answer;
  try {
    answer = await joinRoomApi(room, token, password);
  } catch (err) {
    if (generation === entry.generation) await onEntryError(err, password);
    return;
  }
  if (generation !== entry.generation) return;
  if (answer.joined) admitted();
  else waitForApproval();
}

/** An account token: the stored one, else a guest sign-in (asking the name if need be). */
async function ensureToken() {
  const stored = await freshToken();
  if (stored) return stored;
  let name = storedName();
  if (!name) {
    showEntryPart(null);
    name = await askName();
  }
  try {
    const token = await guestSignIn(name);
    storeToken(token);
    return token;
  } catch (err) {
    entryFailed(err.status === 403
      ? "This server does not admit guests: sign in to join this room."
      : `Could not sign in as a guest: ${err.message}`);
    return null;
  }
}

async function onEntryError(err, password) {
  if (err.status === 401 && !entry.tokenRetried) {
    // The stored token is no good any more: sign in afresh, once.
    entry.tokenRetried = true;
    forgetToken();
    await requestEntry(password);
    return;
  }
  switch (err.code) {
    case "password_required": askPassword(""); return;
    case "wrong_password": askPassword("Wrong password: check it and try again."); return;
    case "join_pending": waitForApproval(); return;
    case "join_denied": entryFailed("The host declined your request to join this room."); return;
    case "guests_not_allowed": entryFailed("This room does not admit guests: sign in to join it."); return;
    default: break;
  }
  if (err.status === 404) {
    entryFailed("No room has this code.");
    return;
  }
  if (entry.waiting && (err.status === 0 || err.status === 429 || err.status >= 500)) {
    waitForApproval(err.retryAfterMs || APPROVAL_POLL_MS); // keep asking
    return;
  }
  if (password !== null) {
    askPassword(`Could not check the password: ${err.message}`);
    return;
  }
  entryFailed(`Could not join the room: ${err.message}`);
}

function askPassword(message) {
  entry.waiting = false;
  showEntryPart("password");
  const input = $("room-password");
  showError($("password-error"), message);
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  setStatus("idle", "Not connected: this room needs a password");
  input.focus();
  if (message) input.select();
}

function setupPasswordForm() {
  const input = $("room-password");
  $("password-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const password = input.value;
    if (!password) {
      showError($("password-error"), "Enter the room's password.");
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    const button = $("password-submit");
    button.disabled = true;
    showError($("password-error"), "");
    try {
      await requestEntry(password);
    } finally {
      button.disabled = false;
    }
  });
}

function waitForApproval(delayMs = APPROVAL_POLL_MS) {
  const first = !entry.waiting;
  entry.waiting = true;
  if (first) {
    showEntryPart("approval");
    // Set once, so that the live region does not repeat it at every check.
    $("approval-status").textContent = "Waiting for the host's approval… This page joins by itself once the host lets you in.";
    $("approval-cancel").hidden = false;
    $("approval-retry").hidden = true;
    $("approval-home").hidden = true;
    setStatus("idle", "Not connected: waiting for the host's approval");
  }
  clearTimeout(entry.pollTimer);
  entry.pollTimer = setTimeout(() => {
    entry.pollTimer = null;
    requestEntry(null);
  }, delayMs);
}

function stopWaiting() {
  entry.generation += 1;
  entry.waiting = false;
  clearTimeout(entry.pollTimer);
  entry.pollTimer = null;
}

function setupApproval() {
  const cancel = $("approval-cancel");
  const retry = $("approval-retry");
  cancel.addEventListener("click", async () => {
    stopWaiting();
    cancel.disabled = true;
    const token = storedToken();
    let withdrawn = true;
    try {
      if (token) await leaveRoomApi(room, token);
    } catch {
      withdrawn = false; // the request stays; asking again finds it waiting
    }
    cancel.disabled = false;
    cancel.hidden = true;
    retry.hidden = false;
    $("approval-home").hidden = false;
    $("approval-status").textContent = withdrawn
      ? "You withdrew your request to join."
      : "You stopped waiting (the request could not be withdrawn: the host may still approve it).";
    setStatus("idle", "Not connected");
    retry.focus();
  });
  retry.addEventListener("click", () => {
    retry.hidden = true;
    $("approval-home").hidden = true;
    $("approval-status").textContent = "Asking the host…";
    requestEntry(null);
  });
  // Back in the tab: ask at once rather than at the next check.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && entry.waiting && entry.pollTimer !== null) {
      waitForApproval(0);
    }
  });
}

function entryFailed(message) {
  stopWaiting();
  entry.active = false;
  showEntryPart("message");
  showError($("entry-error"), message);
  setStatus("closed", message);
}

function admitted() {
  stopWaiting();
  entry.active = false;
  entry.admissions += 1;
  showEntryPart(null);
  connect(storedName());
}

/** The room's entry mode from GET /api/rooms/{code}/, or null when the API does not
 * say (a private room shows itself to members only, an unknown room, no REST API): the
 * sync socket's answer to the hello tells then. */
async function entryModeOf() {
  try {
    const detail = await roomDetailApi(room, storedToken());
    return typeof detail.entry_mode === "string" ? detail.entry_mode : null;
  } catch {
    return null;
  }
}

async function boot() {
  await freshToken(); // renew an expired access token of a sign-in before connecting
  const resumable = new SessionStore(room).load() !== null;
  if (!resumable && !pendingCreate(room)) {
    const mode = await entryModeOf();
    if (mode === "password" || mode === "approval") {
      await admit();
      return;
    }
  }
  const name = storedName();
  if (storedToken() || resumable || name) connect(name);
  else connect(await askName());
}

setupShare();
setupChat();
setupControls();
setupLibrary();
setupPlayerBar();
setupNameForm();
setupPasswordForm();
setupApproval();
window.addEventListener("pagehide", () => {
  if (client && client.session) client.sessions.save(client.session, client.seq);
});
boot();
