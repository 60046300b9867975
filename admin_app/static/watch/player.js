// Drives a <video> element from the room's playback state (PROTOCOL.md section 4).
//
// * Paused: hold the video at exactly position_s (every paused page shows one frame).
// * Scheduled start (play, seek while playing, resume): seek to position_s paused, and
//   start so that the media begins to move at the page instant at which the server
//   clock reads server_time_ms. play() takes a while to get going (decoder and audio
//   output start-up), so it is called that much earlier: a lead learned from the
//   drift measured just after each start.
// * set_rate while playing: keep the old rate until the switch instant, then the new.
// * Playing: every 100 ms compare video.currentTime with the room position
//   (position_at of the server time now) and set playbackRate = room rate x nudge,
//   the nudge proportional to the drift (removing it in about a second, at most 5 %,
//   as the server's own corrections). A drift of 300 ms or more is removed with a
//   seek aimed ahead by a learned seek lead.
// * The server's drift_correction "seek" is obeyed when the local check agrees (the
//   server judged an older report); its "rate" nudges are not, since the local loop
//   already corrects the same drift from the same clock estimate continuously
//   (applying both would overshoot).
// * Every 2 s, a position_report; buffering (waiting/stalled) as buffer_state.
//
// Why the nudge is never exactly 1 (measured on Chromium 156 by integrating the rate): at a
// rate within about 0.1 % of 1 Chromium copies audio straight through; at any other
// rate it time-stretches (WSOLA), and every switch from the first mode to the second
// costs about 20 ms of media time. Changes between time-stretched rates cost nothing,
// so the loop keeps |nudge - 1| >= 0.25 % and dithers around zero drift instead of
// parking at the room rate.

import { statePositionAt } from "./clock.js";

const TICK_MS = 100;
const REPORT_MS = 2000;
const GAIN_PER_S = 1.0;       // nudge = drift x gain: removes a drift in about a second
const MAX_NUDGE = 0.05;       // largest relative rate change, as protocol/clock.py
const NUDGE_STEP = 0.0025;    // nudges are multiples of this, and at least one step
const SEEK_DRIFT_MS = 300;    // at or above this drift, seek instead of nudging
const CALIBRATE_AFTER_MS = 300; // measure a start's or seek's residual drift this late
const SEEK_GIVE_UP_MS = 5000;
const STEADY_MS = 15;         // "in step" for the page's status: drift under this
const PAUSED_TOLERANCE_S = 0.001;
const BUFFERING_DEBOUNCE_MS = 300;
const LEADS_KEY = "watchparty.player_leads";
const HAVE_METADATA = 1;
const HAVE_CURRENT_DATA = 2;
const HAVE_FUTURE_DATA = 3;

/** Whether a media URL may be loaded: http(s) or a path on this site (PROTOCOL.md 2). */
export function isAllowedMediaUrl(url) {
  if (typeof url !== "string" || !url) return false;
  if (url.startsWith("/") && !url.startsWith("//")) return true;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:";
  } catch {
    return false;
  }
}

function loadLeads() {
  try {
    const leads = JSON.parse(localStorage.getItem(LEADS_KEY) || "null");
    if (leads && [leads.start, leads.seek, leads.seekStart].every(Number.isFinite)) return leads;
  } catch { /* no storage: start from the defaults */ }
  return { start: 80, seek: 100, seekStart: 100 };
}

export class PlayerController extends EventTarget {
  constructor(video, client) {
    super();
    this.video = video;
    this.client = client;
    this.state = null;
    this.previous = null;
    this.action = null;
    this.mediaUrl = null;
    this.mode = "idle";           // idle | paused | hold | starting | playing | ended
    this.timers = [];
    this.seeking = false;
    this.seekStartedAt = 0;
    this.seekWhilePlaying = false;
    const leads = loadLeads();
    this.startLeadMs = leads.start; // play() this early before a scheduled start
    this.seekLeadMs = leads.seek;   // seek this far ahead while playing
    this.seekStartLeadMs = leads.seekStart; // seek, then play(), this early when paused
    this.calibrate = null;          // {kind: "start" | "seek" | "seekStart", atMs}
    this.nudge = 1 + NUDGE_STEP;
    this.roomRate = 1;
    this.driftMs = null;            // video minus room, milliseconds, last tick
    this.steadyTicks = 0;           // consecutive ticks playing within STEADY_MS
    this.autoplayBlocked = false;
    this.bufferingSent = null;      // last buffer_state sent on this connection
    this._bufferingTimer = null;
    this._lastReport = 0;
    this.log = [];                  // the newest 200 decisions, for debugging: {t, what, ...}
    this._bindVideo();
    this._bindClient();
    this._tickTimer = setInterval(() => this._tick(), TICK_MS);
  }

  // --- inputs ------------------------------------------------------------------------
  _bindClient() {
    const c = this.client;
    c.addEventListener("playback", (e) => this.setState(e.detail.state, e.detail.previous, e.detail.action));
    c.addEventListener("welcome", () => {
      this.bufferingSent = null;
      if (this.video.readyState >= HAVE_FUTURE_DATA) this._sendBuffering(false);
    });
    c.addEventListener("clock", (e) => { if (e.detail && e.detail.first) this.apply(); });
    c.addEventListener("correction", (e) => this._onCorrection(e.detail));
  }

  _bindVideo() {
    const v = this.video;
    v.addEventListener("loadedmetadata", () => this.apply());
    v.addEventListener("seeked", () => this._onSeeked());
    v.addEventListener("waiting", () => this._bufferingSoon());
    v.addEventListener("stalled", () => { if (v.readyState < HAVE_FUTURE_DATA) this._bufferingSoon(); });
    for (const type of ["playing", "canplay", "canplaythrough"]) {
      v.addEventListener(type, () => this._ready());
    }
    v.addEventListener("ended", () => { if (this.mode === "playing") this._setMode("ended"); });
  }

  /** A new playback state from the room (welcome, playback event, state). */
  setState(state, previous, action) {
    this._note("state", { action, seq: state && state.seq });
    this.previous = previous || this.state;
    this.state = state;
    this.action = action;
    this.apply();
  }

  // --- applying the state ------------------------------------------------------------
  apply() {
    const s = this.state;
    const v = this.video;
    this._clearTimers();
    this.calibrate = null;
    this.nudge = 1 + NUDGE_STEP;
    if (!s) return;
    const media = s.media;
    if (!media || !isAllowedMediaUrl(media.url)) {
      if (this.mediaUrl !== null) {
        v.removeAttribute("src");
        v.load();
        this.mediaUrl = null;
      }
      this._setMode("idle");
      return;
    }
    if (media.url !== this.mediaUrl) {
      this.mediaUrl = media.url;
      this.seeking = false;
      v.src = media.url;
      v.load();
      this._setMode("idle");
      return; // loadedmetadata calls apply() again
    }
    if (v.readyState < HAVE_METADATA) return;
    const now = this.client.serverNow();
    if (now === null) return; // the first time_sync reply calls apply() again
    if (s.paused) {
      this._setMode("paused");
      this._applyRate(s.rate);
      if (!v.paused) v.pause();
      if (Math.abs(v.currentTime - s.position_s) > PAUSED_TOLERANCE_S) this._seek(s.position_s, { why: "paused" });
      return;
    }
    if (s.server_time_ms > now && this.action === "set_rate" && this.previous && !this.previous.paused
        && this.mode === "playing") {
      return; // keep playing at the old rate; expectedAt() switches at the instant
    }
    this._begin(now);
  }

  /** Room position and rate at server time t, with the set_rate switch window. */
  expectedAt(t) {
    const s = this.state;
    const p = this.previous;
    if (!s.paused && t < s.server_time_ms && this.action === "set_rate" && p && !p.paused) {
      return { position: statePositionAt(p, t), rate: p.rate };
    }
    return { position: statePositionAt(s, t), rate: s.rate };
  }

  /**
   * Start playing: a scheduled start (the instant still ahead), or joining a room that
   * plays already. The media should begin to move at page time moveLocal, from the
   * room position at that instant; play() is called startLeadMs before it, after a
   * seek to that position if the video is not there. When the instant is too close
   * for that (the server's lead can be as short as 50 ms), moveLocal is pushed later,
   * which is no harm: the room position keeps running and we join it there.
   */
  _begin(now) {
    const v = this.video;
    const client = this.client;
    const local = client.clock();
    if (!v.paused && this.mode === "playing" && this.state.server_time_ms <= now) {
      const { position, rate } = this.expectedAt(now);
      this._applyRate(rate);
      if (Math.abs(v.currentTime - position) * 1000 >= SEEK_DRIFT_MS) {
        this._seek(this.expectedAt(now + this.seekLeadMs).position, { why: "late" });
      }
      return;
    }
    if (!v.paused) v.pause();
    let moveLocal = Math.max(client.localTimeOf(this.state.server_time_ms), local + this.startLeadMs);
    let target = this.expectedAt(client.serverNow(moveLocal));
    let kind = "start";
    const needSeek = Math.abs(v.currentTime - target.position) > PAUSED_TOLERANCE_S;
    let playLead = this.startLeadMs;
    if (needSeek && moveLocal - local < this.seekStartLeadMs) {
      // A seek and then a start: both must fit before the media moves.
      moveLocal = local + this.seekStartLeadMs;
      target = this.expectedAt(client.serverNow(moveLocal));
      playLead = this.seekStartLeadMs;
      kind = "seekStart";
    }
    this._applyRate(target.rate);
    if (this._atEnd(target.position)) {
      this._seek(v.duration, { calibrate: false, why: "end" });
      this._setMode("ended");
      return;
    }
    if (needSeek) this._seek(target.position, { calibrate: false, why: "start" });
    this._setMode(moveLocal - local > playLead + 20 ? "hold" : "starting");
    this._after(Math.max(0, moveLocal - playLead - client.clock()), () => {
      this._setMode("starting");
      this._play();
    });
    this._after(Math.max(0, moveLocal - client.clock()), () => {
      this._setMode("playing");
      if (kind) this.calibrate = { kind, atMs: client.clock() + CALIBRATE_AFTER_MS };
    });
  }

  _play() {
    const v = this.video;
    if (!v.paused) return;
    const promise = v.play();
    if (promise && promise.catch) {
      promise.catch((err) => {
        if (err && err.name === "NotAllowedError" && !v.muted) {
          // No user gesture yet: browsers allow muted autoplay. Tell the page, which
          // offers an unmute button; playback stays in step meanwhile.
          v.muted = true;
          this.autoplayBlocked = true;
          this._emit("autoplayblocked");
          if (this.mode === "playing" || this.mode === "starting") v.play().catch(() => {});
        }
      });
    }
  }

  _atEnd(position) {
    const d = this.video.duration;
    return Number.isFinite(d) && position >= d - 0.05;
  }

  _seek(position, { calibrate = true, why = "" } = {}) {
    const v = this.video;
    this._note("seek", { from: v.currentTime, to: position, why });
    this.seeking = true;
    this.seekStartedAt = performance.now();
    this.calibrate = null;
    this.seekWhilePlaying = calibrate && !v.paused;
    v.currentTime = Math.max(0, position);
  }

  _onSeeked() {
    if (!this.seeking) return;
    this.seeking = false;
    if (this.seekWhilePlaying && this.mode === "playing") {
      this.calibrate = { kind: "seek", atMs: this.client.clock() + CALIBRATE_AFTER_MS };
    }
  }

  /** Learn from the drift just after a start or seek how much earlier to act. */
  _learn(kind, driftMs) {
    const key = `${kind}LeadMs`;
    this._note("learn", { kind, driftMs, lead: this[key] });
    // Behind (negative drift): act earlier next time. Half steps, bounded, so that
    // one odd measurement cannot throw the next start far off.
    this[key] = Math.max(0, Math.min(1000, this[key] - 0.5 * driftMs));
    try {
      localStorage.setItem(
        LEADS_KEY,
        JSON.stringify({ start: this.startLeadMs, seek: this.seekLeadMs, seekStart: this.seekStartLeadMs }),
      );
    } catch { /* no storage: learn again next time */ }
  }

  _after(ms, fn) {
    const timer = setTimeout(() => {
      this.timers = this.timers.filter((t) => t !== timer);
      fn();
    }, ms);
    this.timers.push(timer);
  }

  _clearTimers() {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
  }

  _applyRate(roomRate) {
    this.roomRate = roomRate;
    const target = roomRate * this.nudge;
    if (Math.abs(this.video.playbackRate - target) > 1e-9) this.video.playbackRate = target;
  }

  _setMode(mode) {
    if (this.mode !== mode) {
      this._note("mode", { mode });
      this.mode = mode;
      this._emit("mode", { mode });
    }
  }

  // --- the control loop ------------------------------------------------------------
  _tick() {
    const v = this.video;
    const s = this.state;
    const local = this.client.clock();
    const now = this.client.serverNow(local);
    if (!s || now === null || !this.mediaUrl || v.readyState < HAVE_METADATA) return;
    if (local - this._lastReport >= REPORT_MS && !this.seeking && this.client.joined) {
      this._lastReport = local;
      this.client.reportPosition(v.currentTime, this.client.clock(), v.paused);
    }
    if (this.mode === "ended" && !s.paused) {
      // A seek back (or a change of state) may make the room play again.
      if (!this._atEnd(this.expectedAt(now).position)) this.apply();
      return;
    }
    if (this.mode === "paused" && !v.paused) v.pause(); // media keys, picture-in-picture
    if (this.mode !== "playing" || this.seeking) this.steadyTicks = 0;
    if (this.mode !== "playing") {
      this.driftMs = this.mode === "paused" ? (v.currentTime - s.position_s) * 1000 : null;
      return;
    }
    if (this.seeking && performance.now() - this.seekStartedAt > SEEK_GIVE_UP_MS) {
      this.seeking = false; // a seek that never finished (the source changed under it)
    }
    if (this.seeking || v.readyState < HAVE_CURRENT_DATA) return;
    const { position, rate } = this.expectedAt(now);
    if (this._atEnd(position)) {
      if (v.ended) this._setMode("ended");
      return;
    }
    if (v.paused) this._play();
    // currentTime is the position at the start of this task: compare it with the
    // room position at the same instant.
    const drift = (v.currentTime - position) * 1000;
    this.driftMs = drift;
    this.steadyTicks = Math.abs(drift) < STEADY_MS ? this.steadyTicks + 1 : 0;
    if (this.calibrate) {
      if (local < this.calibrate.atMs) {
        this._applyRate(rate);
        return; // let the start or seek settle before judging it
      }
      if (Math.abs(drift) < SEEK_DRIFT_MS) this._learn(this.calibrate.kind, drift);
      this.calibrate = null;
    }
    if (Math.abs(drift) >= SEEK_DRIFT_MS) {
      this._applyRate(rate);
      this._seek(this.expectedAt(now + this.seekLeadMs).position, { why: "drift" });
      this._emit("drift", { driftMs: drift, action: "seek" });
      return;
    }
    const change = Math.max(-MAX_NUDGE, Math.min(MAX_NUDGE, (drift / 1000) * GAIN_PER_S));
    let steps = Math.round(change / NUDGE_STEP);
    if (steps === 0) steps = change > 0 ? 1 : change < 0 ? -1 : (this.nudge > 1 ? -1 : 1);
    this.nudge = 1 - steps * NUDGE_STEP;
    this._applyRate(rate);
    this._emit("drift", { driftMs: drift, action: "rate" });
  }

  _onCorrection(msg) {
    this._note("server correction", { action: msg.action, driftMs: msg.drift_ms, localDriftMs: this.driftMs });
    // The server judged a report up to a round trip old; our own check is newer and
    // uses the same clock estimate. Seek only when it agrees that we are far off.
    if (msg.action === "seek" && this.mode === "playing" && !this.seeking
        && this.driftMs !== null && Math.abs(this.driftMs) >= SEEK_DRIFT_MS / 2) {
      const now = this.client.serverNow();
      if (now !== null) this._seek(this.expectedAt(now + this.seekLeadMs).position, { why: "server" });
    }
  }

  // --- buffering ----------------------------------------------------------------------
  _bufferingSoon() {
    // A seek of our own fires "waiting" for a moment: report buffering only when it
    // lasts, so a wait-for-everyone room does not stop for every small correction.
    if (this._bufferingTimer !== null) return;
    this._bufferingTimer = setTimeout(() => {
      this._bufferingTimer = null;
      this._sendBuffering(true);
    }, BUFFERING_DEBOUNCE_MS);
  }

  _ready() {
    if (this._bufferingTimer !== null) {
      clearTimeout(this._bufferingTimer);
      this._bufferingTimer = null;
    }
    this._sendBuffering(false);
  }

  _sendBuffering(buffering) {
    if (this.bufferingSent === buffering || !this.client.joined) return;
    if (this.client.bufferState(buffering)) this.bufferingSent = buffering;
    this._emit("buffering", { buffering });
  }

  _emit(type, detail = null) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _note(what, fields = {}) {
    this.log.push({ t: Math.round(performance.now()), what, ...fields });
    if (this.log.length > 200) this.log.shift();
  }
}

/** The duration of a media URL from its metadata, or null (after at most 5 s). */
export function probeDuration(url) {
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
