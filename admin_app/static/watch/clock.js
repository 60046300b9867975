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
 * Prior spread of the skew between two clocks, ppm (one standard deviation): while the
 * envelopes still allow a wide range of skews, the estimate leans towards 0 by it.
 */
export const SKEW_PRIOR_PPM = 100;

// Leg flags of a sample that may still hold an envelope or the smallest delay.
const UP = 1;
const DOWN = 2;
const RTT = 4;
// Slope bound for dropping dominated legs (every line evaluated is within it).
const PRUNE_SLOPE = (MAX_SKEW_PPM + SKEW_PRIOR_PPM) * 1e-6;

/** A kept sample with the client times its two legs refer to. */
class Entry {
  constructor(sample, number) {
    const delay = sample.delayMs;
    this.sample = sample;
    this.number = number; // samples accepted before this one
    this.upX = sample.t0 + delay / 2;
    this.up = sample.upMs;
    this.downX = sample.t3 - delay / 2;
    this.down = sample.downMs;
    this.delay = delay;
    this.live = UP | DOWN | RTT;
  }
}

/**
 * Offset and skew of the page's clock against the server, from time_sync exchanges
 * (a port of ClockEstimator in protocol/clock.py; see its docstring for the method):
 * skew 0 and the offset from each direction's minimum until the window spans
 * `minSkewSpanMs` and holds 8 samples; then skew from the lower envelopes of the two
 * directions fitted jointly, shrunk towards 0 by SKEW_PRIOR_PPM as far as the fit is
 * uncertain, and the offset from the two envelopes at the newest sample. Samples none
 * of whose legs can matter any more are dropped as soon as a newer one hides them.
 */
export class ClockEstimator {
  constructor({ window = 256, maxAgeMs = 300_000, minSkewSpanMs = 20_000 } = {}) {
    if (window < 1) throw new Error(`window must be at least 1, got ${window}`);
    this.window = window;
    this.maxAgeMs = maxAgeMs;
    this.minSkewSpanMs = minSkewSpanMs;
    this.entries = [];
    this.received = []; // receive times of the samples in the window, kept or dropped
    this.accepted = 0;
    this.estimate = null;
  }

  /** Samples in the window (protocol/clock.py ClockEstimator.__len__). */
  get size() { return this.received.length; }

  /** The kept samples, oldest first (at most `window`). */
  get samples() { return this.entries.map((e) => e.sample); }

  reset() {
    this.entries = [];
    this.received = [];
    this.estimate = null;
  }

  /** Add one exchange; impossible samples (t3 < t0, negative delay) are ignored. */
  add(sample) {
    if (sample.t3 < sample.t0 || sample.delayMs < 0) return this.estimate;
    const entry = new Entry(sample, this.accepted);
    this.accepted += 1;
    this._dropDominated(entry);
    this.entries.push(entry);
    this.received.push(sample.t3);
    if (this.entries.length > this.window) {
      const first = this.entries.shift().number + 1;
      const drop = first - (this.accepted - this.received.length);
      if (drop > 0) this.received.splice(0, drop);
    }
    const newest = sample.t3;
    while (newest - this.entries[0].sample.t3 > this.maxAgeMs) this.entries.shift();
    while (newest - this.received[0] > this.maxAgeMs) this.received.shift();
    this.estimate = this._compute(newest);
    return this.estimate;
  }

  _dropDominated(entry) {
    const k = PRUNE_SLOPE;
    let dropped = false;
    for (const e of this.entries) {
      let live = e.live;
      if (live & UP && entry.up <= e.up - k * Math.abs(entry.upX - e.upX)) live &= ~UP;
      if (live & DOWN && entry.down <= e.down - k * Math.abs(entry.downX - e.downX)) live &= ~DOWN;
      if (live & RTT && entry.delay <= e.delay) live &= ~RTT;
      e.live = live;
      dropped = dropped || !live;
    }
    if (dropped) this.entries = this.entries.filter((e) => e.live);
  }

  _compute(refLocalMs) {
    const entries = this.entries;
    let rttMs = Infinity;
    let minT0 = Infinity;
    let maxT0 = -Infinity;
    let minUp = Infinity;
    let minDown = Infinity;
    for (const e of entries) {
      rttMs = Math.min(rttMs, e.delay);
      minT0 = Math.min(minT0, e.sample.t0);
      maxT0 = Math.max(maxT0, e.sample.t0);
      minUp = Math.min(minUp, e.up);
      minDown = Math.min(minDown, e.down);
    }
    let skewPpm = 0;
    let offsetMs;
    if (maxT0 - minT0 < this.minSkewSpanMs || this.size < 8) {
      offsetMs = (minUp - minDown) / 2; // minSplitOffset with no skew to remove
    } else {
      [skewPpm, offsetMs] = envelopeFit(entries, refLocalMs);
    }
    return new ClockEstimate({ offsetMs, refLocalMs, skewPpm, rttMs, samples: this.size });
  }
}

const byXY = (a, b) => a[0] - b[0] || a[1] - b[1];

/** Skew (ppm) and offset at refLocalMs from the two lower envelopes (_envelope_fit). */
function envelopeFit(entries, refLocalMs) {
  const newest = entries[entries.length - 1];
  const up = entries.map((e) => [e.upX - refLocalMs, e.up - newest.up]).sort(byXY);
  const down = entries.map((e) => [refLocalMs - e.downX, e.down - newest.down]).sort(byXY);
  const upHull = lowerHull(up);
  const downHull = lowerHull(down);
  let k = widestFloorSlope(upHull, downHull);
  let variance = 0;
  for (const a of lowestTwo(upHull, k)) {
    const change = widestFloorSlope(withoutVertex(upHull, a, up), downHull) - k;
    variance += change * change;
  }
  for (const a of lowestTwo(downHull, k)) {
    const change = widestFloorSlope(upHull, withoutVertex(downHull, a, down)) - k;
    variance += change * change;
  }
  const tau = SKEW_PRIOR_PPM * 1e-6;
  const shrink = 1 + variance / (tau * tau);
  k = k / shrink;
  const sigma = Math.sqrt(variance / shrink);
  let aUp = Infinity;
  for (const [x, y] of up) aUp = Math.min(aUp, y - k * x + sigma * Math.abs(x));
  let aDown = Infinity;
  for (const [x, y] of down) aDown = Math.min(aDown, y - k * x + sigma * Math.abs(x));
  return [k * 1e6, (aUp + newest.up - aDown - newest.down) / 2];
}

/** Lower convex hull of points sorted by (x, y); of equal x only the lowest is kept. */
function lowerHull(points) {
  const hull = [];
  for (const p of points) {
    if (hull.length && hull[hull.length - 1][0] === p[0]) continue;
    while (hull.length >= 2) {
      const [x1, y1] = hull[hull.length - 2];
      const [x2, y2] = hull[hull.length - 1];
      if ((x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) <= 0) hull.pop();
      else break;
    }
    hull.push(p);
  }
  return hull;
}

/** The slope within +-MAX_SKEW_PPM maximising min(y - kx) over both hulls, summed. */
function widestFloorSlope(upHull, downHull) {
  let i = 0;
  let j = 0;
  let k = -Infinity;
  while (upHull[i][0] + downHull[j][0] < 0) {
    const upNext = edgeSlope(upHull, i);
    const downNext = edgeSlope(downHull, j);
    if (upNext <= downNext) {
      k = upNext;
      i += 1;
    } else {
      k = downNext;
      j += 1;
    }
    if (k === Infinity) break;
  }
  const kMax = MAX_SKEW_PPM * 1e-6;
  return Math.max(-kMax, Math.min(kMax, k));
}

function edgeSlope(hull, i) {
  if (i + 1 >= hull.length) return Infinity;
  const [x1, y1] = hull[i];
  const [x2, y2] = hull[i + 1];
  return (y2 - y1) / (x2 - x1);
}

/** Indexes of the two vertices of hull lowest under slope k. */
function lowestTwo(hull, k) {
  const key = (a) => hull[a][1] - k * hull[a][0];
  return hull.map((_, a) => a).sort((a, b) => key(a) - key(b)).slice(0, 2);
}

/** hull of points with vertex a left out: the stretch between its neighbours rebuilt. */
function withoutVertex(hull, a, points) {
  if (hull.length === 1) {
    const rest = lowerHull(points.filter((p) => p !== hull[0]));
    return rest.length ? rest : hull;
  }
  const lo = a > 0 ? hull[a - 1][0] : -Infinity;
  const hi = a + 1 < hull.length ? hull[a + 1][0] : Infinity;
  const left = a > 0 ? hull.slice(0, a - 1) : [];
  const right = hull.slice(a + 2);
  const middle = points.filter((p) => lo <= p[0] && p[0] <= hi && p !== hull[a]);
  return left.concat(lowerHull(middle), right);
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
