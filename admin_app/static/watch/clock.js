// Clock math of the sync protocol, ported from protocol/clock.py (keep the two in step).
//
// All times are milliseconds (client times on the page's clock, server times on the
// server clock); positions are seconds of media time.
//
// Sources: RFC 5905 section 8 (on-wire offset and delay) and section 10 (prefer the
// samples with the least delay); like ClockEstimator in protocol/clock.py we take the
// minimum of each direction separately, with skew removed first.

/** The largest clock rate error, parts per million, the estimator will believe. */
export const MAX_SKEW_PPM = 1000;

/**
 * The page's clock: milliseconds on a monotonic timeline anchored once to Date.now().
 *
 * performance.now() never steps, unlike Date.now() (NTP on the laptop, a user changing
 * the time); anchoring it to Date.now() only makes its readings look like epoch
 * milliseconds for logs. Its offset from the server clock is what time sync estimates,
 * so a page whose clocks are both shifted (by an hour, say) works just the same.
 */
export function makeLocalClock(perf = globalThis.performance, dateNow = () => Date.now()) {
  const anchor = dateNow() - perf.now();
  return () => anchor + perf.now();
}

/** One request/response exchange (RFC 5905 section 8): t0, t3 client; t1, t2 server. */
export class ClockSample {
  constructor(t0, t1, t2, t3) {
    this.t0 = t0;
    this.t1 = t1;
    this.t2 = t2;
    this.t3 = t3;
  }
  /** Server clock minus client clock: ((t1 - t0) + (t2 - t3)) / 2. */
  get offsetMs() { return ((this.t1 - this.t0) + (this.t2 - this.t3)) / 2; }
  /** Round trip without the server's hold time: (t3 - t0) - (t2 - t1). */
  get delayMs() { return (this.t3 - this.t0) - (this.t2 - this.t1); }
  get upMs() { return this.t1 - this.t0; }
  get downMs() { return this.t3 - this.t2; }
}

/** What the estimator believes about the server clock (see protocol/clock.py). */
export class ClockEstimate {
  constructor({ offsetMs, refLocalMs, skewPpm, rttMs, samples }) {
    this.offsetMs = offsetMs;
    this.refLocalMs = refLocalMs;
    this.skewPpm = skewPpm;
    this.rttMs = rttMs;
    this.samples = samples;
  }
  /** Server clock minus client clock at client time localMs. */
  offsetAt(localMs) { return this.offsetMs + (localMs - this.refLocalMs) * this.skewPpm * 1e-6; }
  /** The server clock's reading at client time localMs. */
  serverTime(localMs) { return localMs + this.offsetAt(localMs); }
  /** The client time at which the server clock reads serverMs. */
  localTime(serverMs) {
    const k = this.skewPpm * 1e-6;
    return (serverMs - this.offsetMs + this.refLocalMs * k) / (1 + k);
  }
}

/** Offset at refLocalMs from each direction's minimum, after removing skew. */
export function minSplitOffset(samples, skewPpm, refLocalMs) {
  const k = skewPpm * 1e-6;
  let minUp = Infinity;
  let minDown = Infinity;
  for (const s of samples) {
    const drift = (refLocalMs - s.t0) * k;
    minUp = Math.min(minUp, s.upMs + drift);
    minDown = Math.min(minDown, s.downMs - drift);
  }
  if (minUp === Infinity) throw new Error("minSplitOffset needs at least one sample, got none");
  return (minUp - minDown) / 2;
}

/**
 * Offset and skew of the page's clock against the server, from time_sync exchanges:
 * the newest `window` samples no older than `maxAgeMs`; the offset from each
 * direction's minimum; skew from a line through bucket offsets (fitSkewPpm) once
 * the window spans `minSkewSpanMs` and holds 8 samples.
 */
export class ClockEstimator {
  constructor({ window = 128, maxAgeMs = 300_000, minSkewSpanMs = 20_000 } = {}) {
    if (window < 1) throw new Error(`window must be at least 1, got ${window}`);
    this.window = window;
    this.maxAgeMs = maxAgeMs;
    this.minSkewSpanMs = minSkewSpanMs;
    this.samples = [];
    this.estimate = null;
  }

  reset() {
    this.samples = [];
    this.estimate = null;
  }

  /** Add one exchange; impossible samples (t3 < t0, negative delay) are ignored. */
  add(sample) {
    if (sample.t3 < sample.t0 || sample.delayMs < 0) return this.estimate;
    this.samples.push(sample);
    if (this.samples.length > this.window) this.samples.shift();
    const newest = sample.t3;
    while (this.samples.length && newest - this.samples[0].t3 > this.maxAgeMs) this.samples.shift();
    this.estimate = this._compute(newest);
    return this.estimate;
  }

  _compute(refLocalMs) {
    const samples = this.samples;
    const span = samples[samples.length - 1].t0 - samples[0].t0;
    const skewPpm = span >= this.minSkewSpanMs && samples.length >= 8 ? fitSkewPpm(samples) : 0;
    return new ClockEstimate({
      offsetMs: minSplitOffset(samples, skewPpm, refLocalMs),
      refLocalMs,
      skewPpm,
      rttMs: Math.min(...samples.map((s) => s.delayMs)),
      samples: samples.length,
    });
  }
}

/** Python's round(): halves go to the even neighbour (so buckets match protocol/clock.py). */
function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Skew from a least-squares line through per-bucket offsets (protocol/clock.py
 * _fit_skew_ppm): up to 8 buckets of consecutive samples, each bucket's offset the
 * per-direction minimum at its mean time; refined once with the skew removed inside
 * each bucket; clamped to MAX_SKEW_PPM.
 */
export function fitSkewPpm(samples) {
  const buckets = Math.min(8, Math.floor(samples.length / 4));
  const size = samples.length / buckets;
  const groups = [];
  for (let i = 0; i < buckets; i++) {
    groups.push(samples.slice(roundHalfEven(i * size), roundHalfEven((i + 1) * size)));
  }
  let skewPpm = 0;
  for (let pass = 0; pass < 2; pass++) {
    const points = groups.map((group) => {
      const tMid = group.reduce((a, s) => a + s.t0, 0) / group.length;
      return [tMid, minSplitOffset(group, skewPpm, tMid)];
    });
    const tMean = points.reduce((a, [t]) => a + t, 0) / points.length;
    const oMean = points.reduce((a, [, o]) => a + o, 0) / points.length;
    const variance = points.reduce((a, [t]) => a + (t - tMean) ** 2, 0);
    if (variance <= 0) return 0;
    const slope = points.reduce((a, [t, o]) => a + (t - tMean) * (o - oMean), 0) / variance;
    skewPpm = Math.max(-MAX_SKEW_PPM, Math.min(MAX_SKEW_PPM, slope * 1e6));
  }
  return skewPpm;
}

/**
 * Media position at server instant atMs by linear extrapolation (protocol/clock.py
 * position_at): before referenceMs (a scheduled start) it holds at positionS.
 */
export function positionAt({ positionS, paused, rate, referenceMs, atMs, durationS = null }) {
  let pos = positionS;
  if (!paused && atMs > referenceMs) pos += ((atMs - referenceMs) / 1000) * rate;
  if (durationS !== null && durationS !== undefined) pos = Math.min(pos, durationS);
  return Math.max(0, pos);
}

/** positionAt for a playback state object of the protocol (PROTOCOL.md, section 2). */
export function statePositionAt(state, atMs) {
  return positionAt({
    positionS: state.position_s,
    paused: state.paused,
    rate: state.rate,
    referenceMs: state.server_time_ms,
    atMs,
    durationS: state.media ? state.media.duration_s : null,
  });
}
