// The watch page's client of the sync protocol (protocol/PROTOCOL.md), JSON encoding.
//
// One SyncClient per page: it connects, syncs the clock (a burst of 32 time_sync
// exchanges at connect, 4 every 15 s after), joins with hello, keeps a copy of the room
// in seq order, answers pings, and reconnects with resume after a drop, with a
// randomized exponential back-off (0.5 s doubling to 30 s, PROTOCOL.md section 9).
// It knows nothing of the <video> element: player.js drives that from the events here.
//
// Events (EventTarget, detail in event.detail):
//   connection  {state, reason?, retryInMs?,   idle | connecting | syncing | connected |
//                code?, error?}                 reconnecting | offline | closed; a closed
//                                               connection that will not come back has
//                                               the close code, and the error that
//                                               answered the hello, if any (a password
//                                               or approval room refuses a hello with
//                                               `forbidden`, then close 4003)
//   welcome     the welcome message
//   playback    {state, previous, action, by}  the playback state changed
//   participants                               the participant list or its stats changed
//   chat        {kind: "reset"|"add"|"edit"|"delete", message?, messageId?}
//   settings    the room settings or host changed
//   correction  a drift_correction message
//   typing      {participantId, typing}
//   reaction    the reaction message {participant_id, emoji, position_s}
//   clock       the clock estimate changed
//   servererror an error message that answered no pending request

import { ClockEstimator, ClockSample, makeLocalClock } from "./clock.js";

export const PROTOCOL_VERSION = 1;
export const SUBPROTOCOL = `watchparty.v${PROTOCOL_VERSION}.json`;
export const CLIENT_NAME = "watchparty-web/1";

// Close codes (PROTOCOL.md section 9) after which reconnecting would not help.
export const CLOSE_NORMAL = 1000;
export const CLOSE_AUTH_FAILED = 4001;
export const CLOSE_FORBIDDEN = 4003;
export const CLOSE_ROOM_NOT_FOUND = 4004;
export const CLOSE_UNSUPPORTED_VERSION = 4005;
export const CLOSE_REPLACED = 4011;
export const CLOSE_KICKED = 4012;
export const CLOSE_ROOM_CLOSED = 4013;
const FATAL_CLOSES = new Map([
  [CLOSE_FORBIDDEN, "This room does not admit guests: sign in to join."],
  [CLOSE_ROOM_NOT_FOUND, "No room has this code."],
  [CLOSE_UNSUPPORTED_VERSION, "This page is too old for the server: reload it."],
  [CLOSE_REPLACED, "You opened this room in another tab or device."],
  [CLOSE_KICKED, "The host removed you from the room."],
  [CLOSE_ROOM_CLOSED, "The room was closed."],
]);

const BURST_SAMPLES = 32;
const BURST_SPACING_MS = 50;
const PERIODIC_SAMPLES = 4;
const PERIODIC_SYNC_MS = 15_000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;
const PROBE_TIMEOUT_MS = 3_000;
const REQUEST_TIMEOUT_MS = 10_000;
// A timer that fires this late means the machine slept (or the tab was frozen).
const SLEEP_GAP_MS = 5_000;
const EVENT_TYPES = new Set([
  "participant_joined", "participant_left", "participant_updated", "host_changed",
  "playback", "chat_message", "chat_edited", "chat_deleted", "settings_changed",
  "poll_opened", "poll_closed", "queue_changed", "moderation",
]);

/** Stores the resume session of a room in the tab's sessionStorage (PROTOCOL.md 11). */
export class SessionStore {
  constructor(room, storage = globalThis.sessionStorage) {
    this.key = `watchparty.session.${room}`;
    this.storage = storage;
  }
  load() {
    try {
      const value = JSON.parse(this.storage.getItem(this.key) || "null");
      return value && typeof value.session === "string" ? value : null;
    } catch {
      return null;
    }
  }
  save(session, lastSeq) {
    try {
      this.storage.setItem(this.key, JSON.stringify({ session, last_seq: lastSeq }));
    } catch {
      // Storage full or disabled: resuming after a reload will just join afresh.
    }
  }
  clear() {
    try { this.storage.removeItem(this.key); } catch { /* disabled storage */ }
  }
}

export class SyncClient extends EventTarget {
  /**
   * @param {object} options
   * @param {string} options.url       sync socket, ws://host:port/ws
   * @param {string} options.room      room code
   * @param {string} [options.token]   access token from the web app
   * @param {string} [options.displayName]
   * @param {object} [options.create]  hello.create: {name, settings?, media?}
   * @param {() => number} [options.clock]  page clock, milliseconds
   * @param {SessionStore} [options.sessions]
   */
  constructor({ url, room, token = null, displayName = null, create = null, clock = null, sessions = null }) {
    super();
    this.url = url;
    this.room = room;
    this.token = token;
    this.displayName = displayName;
    this.create = create;
    this.clock = clock || makeLocalClock();
    this.sessions = sessions || new SessionStore(room);
    this.estimator = new ClockEstimator();
    this.lastEstimate = null; // bridges a reset until new samples arrive
    this.connectionState = "idle";
    this.closeInfo = null;
    this.helloError = null; // the error message that answered the last hello, if any
    // Room copy.
    this.welcome = null;
    this.welcomes = 0; // welcomes received: 1 after joining, +1 per reconnection
    this.participantId = null;
    this.participant = null;
    this.session = null;
    this.seq = 0;
    this.playback = null;
    this.participants = new Map();
    this.hostId = null;
    this.settings = {};
    this.roomInfo = null;
    this.chat = [];
    this.polls = new Map(); // poll id -> poll (open and recently closed), with results
    this.pollVotes = new Map(); // poll id -> our choices
    this.queue = { version: 0, items: [], skip_votes: 0, skip_needed: 1 };
    this.muted = new Set(); // participant ids seen muted (moderation events)
    this.limits = {};
    this.lastDriftMs = null; // as the server judged our last position report
    this.corrections = { seek: 0, rate: 0 };
    // Connection internals.
    this.ws = null;
    this._generation = 0;
    this._ids = 1;
    this._pending = new Map();
    this._syncSent = new Map();
    this._timers = new Set();
    this._backoffMs = BACKOFF_FIRST_MS;
    this._attempt = 0;
    this._stopped = true;
    this._leaving = false;
    this._lastReceived = 0;
    this._probe = null;
    this._tickAt = 0;
    this._onOnline = () => this._wake("online");
    this._onOffline = () => this._dropForOffline();
    this._onVisible = () => { if (document.visibilityState === "visible") this._wake("visible"); };
  }

  // --- public ------------------------------------------------------------------------
  /** Start connecting (and keep reconnecting until stop() or a fatal close). */
  start() {
    if (!this._stopped) return;
    this._stopped = false;
    addEventListener("online", this._onOnline);
    addEventListener("offline", this._onOffline);
    document.addEventListener("visibilitychange", this._onVisible);
    this._tickAt = performance.now();
    this._watchdog = setInterval(() => this._tick(), 1000);
    this._connect();
  }

  /**
   * Connect again after a close that stopped the client (a refused hello, say), with
   * this token and display name: the page got the account into the room meanwhile.
   */
  restart({ token = this.token, displayName = this.displayName } = {}) {
    if (!this._stopped) this.stop();
    this.token = token;
    this.displayName = displayName;
    this.closeInfo = null;
    this.helloError = null;
    this._leaving = false;
    this._attempt = 0;
    this._backoffMs = BACKOFF_FIRST_MS;
    this.start();
  }

  /** The id of the last hello sent. */
  get helloId() { return this._helloId; }

  /** Stop for good: close the socket, cancel timers and pending requests. */
  stop() {
    this._stopped = true;
    removeEventListener("online", this._onOnline);
    removeEventListener("offline", this._onOffline);
    document.removeEventListener("visibilitychange", this._onVisible);
    clearInterval(this._watchdog);
    this._teardown("stopped");
  }

  /** Leave the room (others see participant_left) and stop. */
  async leave() {
    this._leaving = true;
    try {
      await this.request({ type: "leave" });
    } catch {
      // Closed already: leaving is what we wanted anyway.
    }
    this.sessions.clear();
    this.stop();
    this._setConnection("closed", { reason: "You left the room." });
  }

  get joined() { return this.connectionState === "connected" || this.connectionState === "syncing"; }

  /** The clock estimate in use, or null before the first time_sync reply. */
  get clockEstimate() { return this.estimator.estimate || this.lastEstimate; }

  /** The server clock now (estimated), or null before any time sync. */
  serverNow(localMs = this.clock()) {
    const est = this.clockEstimate;
    return est ? est.serverTime(localMs) : null;
  }

  /** The page-clock instant at which the server clock reads serverMs. */
  localTimeOf(serverMs) {
    const est = this.clockEstimate;
    return est ? est.localTime(serverMs) : null;
  }

  /** Whether this participant may play, pause, seek, set the rate and change media. */
  canControl() {
    const me = this.participants.get(this.participantId);
    if (!me) return false;
    const control = this.settings.control || "cohosts";
    if (me.role === "host") return true;
    if (me.role === "cohost") return control !== "host";
    return control === "everyone";
  }

  /** Whether we may open polls under the room's `polls` setting. */
  canCreatePoll() {
    const me = this.participants.get(this.participantId);
    if (!me) return false;
    const who = this.settings.polls || "cohosts";
    if (me.role === "host") return true;
    if (me.role === "cohost") return who !== "host";
    return who === "everyone";
  }

  /** Whether we may close *poll*: its creator, the host or a co-host. */
  canClosePoll(poll) {
    const me = this.participants.get(this.participantId);
    if (!me || poll.closed) return false;
    return me.role === "host" || me.role === "cohost" || poll.created_by === this.participantId;
  }

  /** Send a message as is (no answer expected). Returns false when not connected. */
  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /**
   * Send a message with a fresh id; resolve with its answer (ack, state, ...).
   * Rejects with a ServerError for an error answer, or an Error when the connection
   * closes first or no answer comes within 10 s.
   */
  request(message, timeoutMs = REQUEST_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const id = this._ids++;
      if (!this.send({ ...message, id })) {
        reject(new Error("not connected"));
        return;
      }
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new Error(`no answer to ${message.type} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this._pending.set(id, { resolve, reject, timer });
    });
  }

  play(positionS = null) {
    return this.request(positionS === null ? { type: "play" } : { type: "play", position_s: positionS });
  }
  pause() { return this.request({ type: "pause" }); }
  seek(positionS) { return this.request({ type: "seek", position_s: Math.max(0, positionS) }); }
  setRate(rate) { return this.request({ type: "set_rate", rate }); }
  changeMedia(media) { return this.request({ type: "change_media", media }); }
  /** Play a library video (the server resolves its URL, title and duration). */
  changeMediaById(videoId) { return this.request({ type: "change_media", video_id: videoId }); }
  chatSend(text) { return this.request({ type: "chat_send", text }); }
  /** Open a poll: {question, options, multiple, anonymous, duration_s}. */
  pollCreate(poll) { return this.request({ type: "poll_create", ...poll }); }
  /** Vote (or change the vote) in a poll; no choices withdraws it. */
  async pollVote(pollId, choices) {
    const ack = await this.request({ type: "poll_vote", poll_id: pollId, choices });
    this.pollVotes.set(pollId, ack.choices);
    this._emit("polls", { pollId });
    return ack;
  }
  pollClose(pollId) { return this.request({ type: "poll_close", poll_id: pollId }); }
  /** Queue a media ({url, title, duration_s}) at the end. */
  queueAdd(media) { return this.request({ type: "queue_add", media }); }
  queueRemove(itemId) { return this.request({ type: "queue_remove", item_id: itemId }); }
  /** Move an item, as of the queue version we show (a stale one is refused). */
  queueMove(itemId, toIndex) {
    return this.request({ type: "queue_move", item_id: itemId, to_index: toIndex, version: this.queue.version });
  }
  queueSkip() { return this.request({ type: "queue_skip" }); }
  mute(pid, durationS = null) {
    return this.request(durationS ? { type: "mute", participant_id: pid, duration_s: durationS } : { type: "mute", participant_id: pid });
  }
  unmute(pid) { return this.request({ type: "unmute", participant_id: pid }); }
  ban(pid) { return this.request({ type: "ban", participant_id: pid }); }
  voteSkip() { return this.request({ type: "vote_skip" }); }
  /** React at the room's position now (the server computes it). */
  react(emoji) { return this.request({ type: "reaction", emoji }); }
  /** Counts per second of the current media: {media_key, bucket_s, counts}. */
  reactionTimeline() { return this.request({ type: "get_reaction_timeline" }); }
  /** Edit one's own message *messageId* (integer); the others get chat_edited. */
  chatEdit(messageId, text) { return this.request({ type: "chat_edit", message_id: messageId, text }); }
  /** Delete one's own message (the host and co-hosts may delete anyone's). */
  chatDelete(messageId) { return this.request({ type: "chat_delete", message_id: messageId }); }
  typing(typing) { return this.send({ type: "typing", typing }); }
  bufferState(buffering) { return this.send({ type: "buffer_state", buffering }); }

  /** Report the player's position sampled at page time localMs (PROTOCOL.md 4). */
  reportPosition(positionS, localMs, paused) {
    const serverMs = this.serverNow(localMs);
    if (serverMs === null || !this.joined) return;
    this.request({
      type: "position_report",
      position_s: Math.max(0, positionS),
      server_time_ms: serverMs,
      paused,
    }).then(
      (ack) => { this.lastDriftMs = ack.drift_ms ?? null; },
      () => { /* a dropped report is harmless: the next one follows in 2 s */ },
    );
  }

  /** Run a burst of time_sync exchanges (RFC 5905 on-wire), spaced so none queue. */
  syncBurst(samples = BURST_SAMPLES, spacingMs = BURST_SPACING_MS) {
    const generation = this._generation;
    let sent = 0;
    const sendOne = () => {
      if (generation !== this._generation || this._stopped) return;
      const id = `ts${this._ids++}`;
      const msg = { type: "time_sync", id, client_send_ms: 0 };
      const est = this.estimator.estimate;
      if (est) {
        msg.rtt_ms = Math.round(est.rttMs * 100) / 100;
        msg.offset_ms = Math.round(est.offsetMs * 100) / 100;
      }
      const t0 = this.clock();
      msg.client_send_ms = t0;
      this._syncSent.set(id, t0);
      if (this._syncSent.size > 256) this._syncSent.delete(this._syncSent.keys().next().value);
      this.send(msg);
      sent += 1;
      if (sent < samples) this._later(sendOne, spacingMs);
    };
    sendOne();
  }

  // --- connection --------------------------------------------------------------------
  _connect() {
    if (this._stopped) return;
    this._teardown(null);
    const generation = ++this._generation;
    this._setConnection(this._attempt === 0 ? "connecting" : "reconnecting", { retryInMs: 0 });
    let ws;
    try {
      ws = new WebSocket(this.url, [SUBPROTOCOL]);
    } catch (err) {
      this._scheduleReconnect(`cannot open ${this.url}: ${err.message}`);
      return;
    }
    this.ws = ws;
    const connectTimer = this._later(() => {
      if (generation === this._generation && ws.readyState !== WebSocket.OPEN) {
        this._lost("connection timed out");
      }
    }, CONNECT_TIMEOUT_MS);
    ws.onopen = () => {
      if (generation !== this._generation) return;
      clearTimeout(connectTimer);
      this._timers.delete(connectTimer);
      this._lastReceived = performance.now();
      // A new path may have another delay: start a fresh estimate, keeping the old
      // one in use until the first new sample (PROTOCOL.md 4, step 7).
      this.lastEstimate = this.clockEstimate;
      this.estimator.reset();
      this.syncBurst();
      this._hello();
      this._every(() => this.syncBurst(PERIODIC_SAMPLES), PERIODIC_SYNC_MS);
    };
    ws.onmessage = (event) => {
      if (generation !== this._generation) return;
      const received = this.clock();
      this._lastReceived = performance.now();
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      this._onMessage(msg, received);
    };
    ws.onclose = (event) => {
      if (generation !== this._generation) return;
      this._onClose(event.code, event.reason);
    };
  }

  _hello() {
    const hello = { type: "hello", id: this._ids++, protocol: PROTOCOL_VERSION, room: this.room, client: CLIENT_NAME };
    const saved = this.session ? { session: this.session, last_seq: this.seq } : this.sessions.load();
    if (saved) {
      hello.resume = { session: saved.session, last_seq: saved.last_seq };
      this._helloKind = "resume";
    } else if (this.token) {
      hello.token = this.token;
      if (this.displayName) hello.display_name = this.displayName;
      this._helloKind = "token";
    } else {
      hello.display_name = this.displayName || "guest";
      this._helloKind = "guest";
    }
    if (this.create) hello.create = this.create;
    this._helloId = hello.id;
    this.helloError = null;
    this.send(hello);
  }

  _onClose(code, reason) {
    const generation = this._generation;
    this._teardown(null);
    if (generation !== this._generation || this._stopped) return;
    if (this._leaving) return;
    if (code === CLOSE_AUTH_FAILED) {
      // A stale resume session: join afresh. A rejected access token: go on as a
      // display-name guest if we can, else give up (the page asks to sign in).
      if (this._helloKind === "resume") {
        this.session = null;
        this.sessions.clear();
        this._connectSoon();
        return;
      }
      if (this._helloKind === "token") {
        this.token = null;
        this.dispatchEvent(new CustomEvent("tokenrejected", { detail: { reason } }));
        if (this.displayName) {
          this._connectSoon();
          return;
        }
      }
      this._fatal(code, "Your sign-in has expired: sign in again.");
      return;
    }
    if (FATAL_CLOSES.has(code)) {
      if (code !== CLOSE_REPLACED) this.sessions.clear();
      this._fatal(code, FATAL_CLOSES.get(code), this.helloError);
      return;
    }
    this._scheduleReconnect(`connection closed (${code}${reason ? `: ${reason}` : ""})`);
  }

  _fatal(code, reason, error = null) {
    this.stop();
    this.closeInfo = { code, reason, error };
    this._setConnection("closed", { reason, code, error });
  }

  /** The connection is gone (or assumed dead): forget the socket, then reconnect. */
  _lost(reason) {
    this._teardown(null);
    ++this._generation; // ignore whatever the old socket still reports
    this._scheduleReconnect(reason);
  }

  _connectSoon() {
    this._attempt += 1;
    this._later(() => this._connect(), 50);
  }

  _scheduleReconnect(reason) {
    if (this._stopped) return;
    if (navigator.onLine === false) {
      this._setConnection("offline", { reason: "offline: waiting for the network" });
      return;
    }
    this._attempt += 1;
    // Randomized exponential back-off so a restarting server is not flooded.
    const delay = Math.round(this._backoffMs * (0.5 + Math.random() / 2));
    this._backoffMs = Math.min(BACKOFF_MAX_MS, this._backoffMs * 2);
    this._setConnection("reconnecting", { reason, retryInMs: delay });
    this._reconnectTimer = this._later(() => this._connect(), delay);
  }

  /** Reconnect now (the "Reconnect now" button, the online event). */
  reconnectNow() {
    if (this._stopped) return;
    this._backoffMs = BACKOFF_FIRST_MS;
    this._connect();
  }

  _dropForOffline() {
    if (this._stopped) return;
    this._teardown(null);
    ++this._generation;
    this._setConnection("offline", { reason: "offline: waiting for the network" });
  }

  /** The network came back, the tab became visible, or the machine woke up. */
  _wake(why) {
    if (this._stopped) return;
    if (!this.ws || this.connectionState === "offline" || this.connectionState === "reconnecting") {
      this._backoffMs = BACKOFF_FIRST_MS;
      this._connect();
      return;
    }
    if (this.ws.readyState === WebSocket.CONNECTING) return; // an attempt is under way
    // The socket may be half dead after a sleep: probe it, and resync the clock (a
    // monotonic clock may have stopped during suspend while the server's went on).
    this._probeLiveness(why);
    this.lastEstimate = this.clockEstimate;
    this.estimator.reset();
    this.syncBurst(8);
  }

  _probeLiveness(why) {
    if (this._probe) return;
    const nonce = `probe-${this._ids++}`;
    const timer = this._later(() => {
      if (this._probe && this._probe.nonce === nonce) {
        this._probe = null;
        this._lost(`no answer after ${why}`);
      }
    }, PROBE_TIMEOUT_MS);
    this._probe = { nonce, timer };
    if (!this.send({ type: "ping", nonce })) {
      this._probe = null;
      this._lost(`socket closed (${why})`);
    }
  }

  _tick() {
    const now = performance.now();
    const gap = now - this._tickAt;
    this._tickAt = now;
    if (this._stopped) return;
    if (gap > SLEEP_GAP_MS) {
      this._wake("sleep");
      return;
    }
    // The server pings every heartbeat_interval_s: a long silence means a dead path.
    const interval = (this.limits.heartbeat_interval_s || 10) * 1000;
    if (this.ws && this.ws.readyState === WebSocket.OPEN && now - this._lastReceived > interval * 2.5 + 2000) {
      this._lost("no message from the server for too long");
    }
  }

  _teardown(reason) {
    for (const timer of this._timers) {
      clearTimeout(timer);
      clearInterval(timer);
    }
    this._timers.clear();
    this._probe = null;
    this._syncSent.clear();
    for (const { reject, timer } of this._pending.values()) {
      clearTimeout(timer);
      reject(new Error("connection closed"));
    }
    this._pending.clear();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) {
        try { ws.close(); } catch { /* already closing */ }
      }
    }
    if (reason) this._setConnection("closed", { reason });
  }

  _later(fn, ms) {
    const timer = setTimeout(() => {
      this._timers.delete(timer);
      fn();
    }, ms);
    this._timers.add(timer);
    return timer;
  }

  _every(fn, ms) {
    const timer = setInterval(fn, ms);
    this._timers.add(timer);
    return timer;
  }

  _setConnection(state, detail = {}) {
    this.connectionState = state;
    this.dispatchEvent(new CustomEvent("connection", { detail: { state, ...detail } }));
  }

  _emit(type, detail = null) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // --- messages ----------------------------------------------------------------------
  _onMessage(msg, receivedLocalMs) {
    const type = msg.type;
    if (type === "time_sync_reply") {
      const t0 = this._syncSent.get(msg.request_id);
      if (t0 === undefined) return;
      this._syncSent.delete(msg.request_id);
      const hadEstimate = !!this.estimator.estimate;
      this.estimator.add(new ClockSample(t0, msg.server_recv_ms, msg.server_send_ms, receivedLocalMs));
      if (this.estimator.estimate) this.lastEstimate = null;
      this._emit("clock", { first: !hadEstimate });
      if (this.connectionState === "syncing" && this.estimator.size >= 4) {
        this._setConnection("connected");
      }
      return;
    }
    if (type === "ping") {
      this.send({ type: "pong", nonce: msg.nonce });
      return;
    }
    if (type === "pong") {
      if (this._probe && msg.nonce === this._probe.nonce) {
        clearTimeout(this._probe.timer);
        this._timers.delete(this._probe.timer);
        this._probe = null;
      }
      return;
    }
    if (type === "welcome") {
      this._onWelcome(msg);
      this._settle(msg);
      return;
    }
    if (EVENT_TYPES.has(type) && Number.isInteger(msg.seq)) {
      if (msg.seq <= this.seq) return; // the state we have already includes it
      if (msg.seq > this.seq + 1) {
        this._resync();
        return;
      }
      this.seq = msg.seq;
      this._applyEvent(msg);
      if (this.session) this.sessions.save(this.session, this.seq);
      return;
    }
    switch (type) {
      case "participant_stats":
        for (const [pid, stats] of Object.entries(msg.stats || {})) {
          const p = this.participants.get(pid);
          if (p) Object.assign(p, stats);
        }
        this._emit("participants");
        break;
      case "drift_correction":
        this.corrections[msg.action] = (this.corrections[msg.action] || 0) + 1;
        this._emit("correction", msg);
        break;
      case "typing":
        this._emit("typing", { participantId: msg.participant_id, typing: !!msg.typing });
        break;
      case "reaction":
        this._emit("reaction", msg);
        break;
      case "poll_results": {
        const poll = this.polls.get(msg.poll_id);
        if (poll && !poll.closed) {
          poll.results = msg.results;
          this._emit("polls", { pollId: msg.poll_id });
        }
        break;
      }
      case "join_request":
        // Someone asks to join this approval room (we are its host or owner).
        this._emit("joinrequest", msg);
        break;
      case "state":
        if (msg.resync) {
          // The server dropped events queued for us and sent the room as it is now:
          // its seq replaces ours and its chat replaces what we had.
          this.seq = msg.seq || 0;
          this.chat = Array.isArray(msg.chat) ? msg.chat.slice() : this.chat;
          this._emit("chat", { kind: "reset" });
        }
        this._loadState(msg);
        this._emit("playback", { state: this.playback, previous: null, action: "state", by: null });
        this._emit("participants");
        this._emit("settings");
        this._emit("polls", { pollId: null });
        this._emit("queue");
        break;
      default:
        break;
    }
    this._settle(msg);
  }

  /** Resolve or reject the pending request a message answers. */
  _settle(msg) {
    const rid = msg.request_id;
    if (msg.type === "error" && rid !== undefined && rid !== null && rid === this._helloId) {
      this.helloError = msg;
    }
    if (rid === undefined || rid === null) {
      if (msg.type === "error") this._emit("servererror", msg);
      return;
    }
    const pending = this._pending.get(rid);
    if (!pending) {
      if (msg.type === "error") this._emit("servererror", msg);
      return;
    }
    this._pending.delete(rid);
    clearTimeout(pending.timer);
    if (msg.type === "error") pending.reject(new ServerError(msg));
    else pending.resolve(msg);
  }

  _onWelcome(msg) {
    this.welcome = msg;
    this.welcomes += 1;
    this.participantId = msg.participant.id;
    this.participant = msg.participant;
    this.session = msg.session;
    this.limits = msg.limits || {};
    this.create = null; // the room exists now
    this._backoffMs = BACKOFF_FIRST_MS;
    this._attempt = 0;
    this._loadState(msg);
    // After a server crash the room's seq can be lower than ours: take the welcome's.
    this.seq = msg.seq;
    this.chat = Array.isArray(msg.chat) ? msg.chat.slice() : [];
    this.pollVotes = new Map((msg.poll_votes || []).map((v) => [v.poll_id, v.choices]));
    this.sessions.save(this.session, this.seq);
    const ready = (this.estimator.estimate ? this.estimator.size : 0) >= 4;
    this._setConnection(ready ? "connected" : "syncing");
    this._emit("welcome", msg);
    this._emit("settings");
    this._emit("participants");
    this._emit("chat", { kind: "reset" });
    this._emit("polls", { pollId: null });
    this._emit("queue");
    this._emit("playback", { state: this.playback, previous: null, action: msg.resumed ? "resume_session" : "welcome", by: null });
  }

  _loadState(msg) {
    this.seq = Math.max(this.seq, msg.seq || 0);
    this.playback = msg.playback;
    this.participants = new Map((msg.participants || []).map((p) => [p.id, { ...p }]));
    this.roomInfo = msg.room;
    this.hostId = msg.room ? msg.room.host_id : null;
    this.settings = msg.room ? { ...msg.room.settings } : {};
    // Servers before polls send no "polls": keep none.
    this.polls = new Map((msg.polls || []).map((p) => [p.id, p]));
    if (msg.queue) this.queue = msg.queue;
  }

  async _resync() {
    try {
      await this.request({ type: "get_state" });
    } catch {
      // The connection dropped: the resume will bring the state.
    }
  }

  _applyEvent(msg) {
    switch (msg.type) {
      case "playback": {
        const previous = this.playback;
        this.playback = msg.state;
        this._emit("playback", { state: msg.state, previous, action: msg.action, by: msg.by });
        break;
      }
      case "participant_joined":
      case "participant_updated": {
        const p = msg.participant;
        const old = this.participants.get(p.id);
        this.participants.set(p.id, { ...old, ...p });
        if (p.id === this.participantId) this.participant = p;
        this._emit("participants");
        if (msg.type === "participant_updated") this._emit("settings"); // roles decide controls
        break;
      }
      case "participant_left":
        this.participants.delete(msg.participant_id);
        this._emit("participants");
        break;
      case "host_changed":
        this.hostId = msg.host_id;
        this._emit("settings");
        this._emit("participants");
        break;
      case "settings_changed":
        this.settings = { ...msg.settings };
        this._emit("settings");
        break;
      case "chat_message":
        this.chat.push(msg.message);
        this._emit("chat", { kind: "add", message: msg.message });
        break;
      case "chat_edited": {
        const i = this.chat.findIndex((m) => m.id === msg.message.id);
        if (i >= 0) this.chat[i] = msg.message;
        this._emit("chat", { kind: "edit", message: msg.message });
        break;
      }
      case "chat_deleted":
        this.chat = this.chat.filter((m) => m.id !== msg.message_id);
        this._emit("chat", { kind: "delete", messageId: msg.message_id });
        break;
      case "poll_opened":
      case "poll_closed":
        this.polls.set(msg.poll.id, msg.poll);
        if (msg.type === "poll_closed") this.pollVotes.delete(msg.poll.id);
        this._emit("polls", { pollId: msg.poll.id });
        break;
      case "queue_changed":
        this.queue = msg.queue;
        this._emit("queue", msg);
        break;
      case "moderation":
        if (msg.participant_id && msg.action === "mute") this.muted.add(msg.participant_id);
        if (msg.participant_id && msg.action === "unmute") this.muted.delete(msg.participant_id);
        this._emit("moderation", msg);
        this._emit("participants");
        break;
      default:
        break;
    }
  }
}

/** The server answered a request with an error message. */
export class ServerError extends Error {
  constructor(body) {
    super(body.message || body.code || "error");
    this.code = body.code;
    this.details = body.details;
  }
}
