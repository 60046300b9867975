// The watch page: wires the sync client and the player controller to the page.
//
// Every piece of user text (names, chat, titles, error messages) goes into the page
// through textContent, never innerHTML. `window.watchparty` exposes the client and the
// player for debugging and for the browser tests.

import { makeLocalClock } from "./clock.js";
import {
  checkName, pendingCreate, setPendingCreate, storedName, storedToken, storeName, forgetToken,
} from "./identity.js";
import { PlayerController, isAllowedMediaUrl } from "./player.js";
import { SessionStore, SyncClient } from "./sync.js";

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

function el(tag, { text = null, cls = null, attrs = null } = {}, children = []) {
  const node = document.createElement(tag);
  if (text !== null) node.textContent = text;
  if (cls) node.className = cls;
  if (attrs) for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) if (child) node.append(child);
  return node;
}

function showError(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}

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
    const stats = el("span", {
      cls: "stats muted",
      text: `drift ${formatMs(p.drift_ms)} · rtt ${p.rtt_ms == null ? "–" : `${Math.round(p.rtt_ms)} ms`}`,
    });
    return el(
      "li",
      { attrs: { "data-pid": p.id, "data-buffering": String(!!p.buffering), "data-connected": String(!!p.connected) } },
      [el("span", { text: p.name, cls: "name" }), ...badges, stats],
    );
  });
  list.replaceChildren(...items);
  const connected = people.filter((p) => p.connected).length;
  $("people-count").textContent = `(${connected})`;
}

// --- chat ------------------------------------------------------------------------------
function chatItem(m) {
  const time = new Date(m.sent_at_ms);
  const stamp = Number.isNaN(time.getTime()) ? "" : time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return el("li", { attrs: { "data-id": String(m.id) } }, [
    el("span", { text: m.name, cls: "name" }),
    el("time", { text: stamp, cls: "muted", attrs: { datetime: Number.isNaN(time.getTime()) ? "" : time.toISOString() } }),
    el("p", { text: m.text, cls: "text" }),
    m.edited_at_ms ? el("span", { text: "(edited)", cls: "muted" }) : null,
  ]);
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
    ? `Clock offset ${formatMs(est.offsetMs)}, round trip ${est.rttMs.toFixed(1)} ms · drift ${formatMs(player.driftMs)}`
    : "";
}

function renderPlayback() {
  const s = client.playback;
  const media = s && s.media;
  $("media-title").textContent = media ? (media.title || media.url) : "No video loaded";
  $("media-title").classList.toggle("muted", !media);
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

/** The duration of a media URL from its metadata, or null (after at most 5 s). */
function probeDuration(url) {
  return new Promise((resolve) => {
    const probe = document.createElement("video");
    probe.preload = "metadata";
    probe.muted = true;
    const done = (value) => {
      clearTimeout(timer);
      probe.removeAttribute("src");
      probe.load();
      resolve(value);
    };
    const timer = setTimeout(() => done(null), 5000);
    probe.addEventListener("loadedmetadata", () => done(Number.isFinite(probe.duration) ? probe.duration : null), { once: true });
    probe.addEventListener("error", () => done(null), { once: true });
    probe.src = url;
  });
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
function start(displayName) {
  const token = storedToken();
  const sessions = new SessionStore(room);
  client = new SyncClient({
    url: syncUrl,
    room,
    token,
    displayName: displayName || null,
    create: pendingCreate(room),
    clock: makeLocalClock(),
    sessions,
  });
  player = new PlayerController(video, client);
  window.watchparty = { client, player, video };
  client.addEventListener("connection", (e) => renderConnection(e.detail));
  client.addEventListener("welcome", () => {
    setPendingCreate(room, null);
    $("leave").hidden = false;
    renderRoom();
  });
  client.addEventListener("settings", renderRoom);
  client.addEventListener("participants", renderParticipants);
  client.addEventListener("chat", (e) => renderChat(e.detail));
  client.addEventListener("typing", (e) => renderTyping(e.detail));
  client.addEventListener("playback", renderPlayback);
  client.addEventListener("tokenrejected", forgetToken);
  client.addEventListener("servererror", (e) => showError($("control-error"), e.detail.message));
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
  client.start();
}

function askName() {
  const form = $("join-form");
  const input = $("display-name");
  form.hidden = false;
  input.value = storedName();
  input.focus();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = input.value.trim();
    const problem = checkName(name);
    if (problem) {
      showError($("join-error"), problem);
      input.focus();
      return;
    }
    storeName(name);
    form.hidden = true;
    start(name);
  });
}

setupShare();
setupChat();
setupControls();
setupPlayerBar();
window.addEventListener("pagehide", () => {
  if (client && client.session) client.sessions.save(client.session, client.seq);
});
const name = storedName();
if (storedToken() || new SessionStore(room).load() || name) start(name);
else askName();
