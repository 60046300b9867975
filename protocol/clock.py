"""Clock math of the sync protocol: pure functions, no clock is ever read here.

Time is passed in. All times are **milliseconds** (floats): client times on the
client's own clock, server times on the server clock (Unix epoch milliseconds,
advancing monotonically). Positions are **seconds** of media time.

Sources:
    * RFC 5905 section 8 (NTPv4 on-wire protocol): the four timestamps, offset and
      round-trip delay.
    * RFC 5905 section 10 (clock filter): prefer the samples with the least delay,
      because their offset error is bounded by half their delay excess. We go one step
      further and take the minimum of each direction separately (see
      :class:`ClockEstimator`), which under independent per-direction jitter bounds
      the error by half the difference of the two directions' smallest excess instead
      of half the smallest total excess.
    * S. B. Moon, P. Skelly, D. Towsley, "Estimation and removal of clock skew from
      network delay measurements", IEEE INFOCOM 1999: skew as the slope of the line
      under all delay measurements that is closest to them in total (a linear
      program solved on the lower convex hull). :class:`ClockEstimator` solves it for
      both directions at once.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

#: The largest clock rate error, in parts per million, the estimator will believe.
#: Crystal oscillators are within about 100 ppm; beyond this a fit is noise.
MAX_SKEW_PPM = 1000.0


@dataclass(frozen=True, slots=True)
class ClockSample:
    """One request/response exchange (RFC 5905 section 8).

    Attributes:
        t0: Client send time, client clock, milliseconds.
        t1: Server receive time, server clock, milliseconds.
        t2: Server send time, server clock, milliseconds.
        t3: Client receive time, client clock, milliseconds.
    """

    t0: float
    t1: float
    t2: float
    t3: float

    @property
    def offset_ms(self) -> float:
        """Server clock minus client clock, milliseconds: ((t1 - t0) + (t2 - t3)) / 2."""
        return ((self.t1 - self.t0) + (self.t2 - self.t3)) / 2.0

    @property
    def delay_ms(self) -> float:
        """Round-trip delay without the server's hold time, milliseconds:
        (t3 - t0) - (t2 - t1)."""
        return (self.t3 - self.t0) - (self.t2 - self.t1)

    @property
    def up_ms(self) -> float:
        """Client-to-server leg as seen across the two clocks: t1 - t0 (offset included)."""
        return self.t1 - self.t0

    @property
    def down_ms(self) -> float:
        """Server-to-client leg as seen across the two clocks: t3 - t2 (offset included)."""
        return self.t3 - self.t2


def ntp_offset_delay(t0: float, t1: float, t2: float, t3: float) -> tuple[float, float]:
    """On-wire offset and round-trip delay from four timestamps (RFC 5905 section 8).

    Args:
        t0: Client send time, client clock, milliseconds.
        t1: Server receive time, server clock, milliseconds.
        t2: Server send time, server clock, milliseconds.
        t3: Client receive time, client clock, milliseconds.

    Returns:
        ``(offset_ms, delay_ms)``: server clock minus client clock, and the round-trip
        delay less the server's hold time. The offset's error is at most half the
        difference of the two legs' delays (zero on a symmetric path).
    """
    sample = ClockSample(t0, t1, t2, t3)
    return sample.offset_ms, sample.delay_ms


@dataclass(frozen=True, slots=True)
class ClockEstimate:
    """What the estimator believes about the server clock.

    Attributes:
        offset_ms: Server clock minus client clock at ``ref_local_ms``, milliseconds.
        ref_local_ms: The client time the offset refers to, milliseconds.
        skew_ppm: Server clock rate minus client clock rate, parts per million
            (positive: the server clock runs faster). 0 until enough time is covered.
        rtt_ms: Smallest round-trip delay in the window, milliseconds.
        samples: Number of samples the estimate is built from (those from the oldest
            one kept to the newest; see :meth:`ClockEstimator.__len__`).
    """

    offset_ms: float
    ref_local_ms: float
    skew_ppm: float
    rtt_ms: float
    samples: int

    def offset_at(self, local_ms: float) -> float:
        """Server clock minus client clock at client time *local_ms*, milliseconds."""
        return self.offset_ms + (local_ms - self.ref_local_ms) * self.skew_ppm * 1e-6

    def server_time(self, local_ms: float) -> float:
        """The server clock's reading at client time *local_ms*, milliseconds."""
        return local_ms + self.offset_at(local_ms)

    def local_time(self, server_ms: float) -> float:
        """The client time at which the server clock reads *server_ms*, milliseconds."""
        # Solve server = local + offset_ms + (local - ref) * k for local.
        k = self.skew_ppm * 1e-6
        return (server_ms - self.offset_ms + self.ref_local_ms * k) / (1.0 + k)


def min_split_offset(samples: Iterable[ClockSample], skew_ppm: float, ref_local_ms: float) -> float:
    """Offset at *ref_local_ms* from each direction's minimum, after removing skew.

    Each sample's legs are ``up = t1 - t0 = offset + d_up`` and
    ``down = t3 - t2 = -offset + d_down``. With the same smallest one-way delay in both
    directions, ``(min(up) - min(down)) / 2`` is the offset, with an error of half the
    difference between the two directions' smallest jitter. Skew is removed first by
    referring every leg to *ref_local_ms*.

    Args:
        samples: At least one sample.
        skew_ppm: Skew to remove, parts per million.
        ref_local_ms: Client time the result refers to, milliseconds.

    Raises:
        ValueError: if *samples* is empty.
    """
    k = skew_ppm * 1e-6
    min_up = math.inf
    min_down = math.inf
    for s in samples:
        drift = (ref_local_ms - s.t0) * k
        min_up = min(min_up, s.up_ms + drift)
        min_down = min(min_down, s.down_ms - drift)
    if min_up == math.inf:
        raise ValueError("min_split_offset needs at least one sample, got none")
    return (min_up - min_down) / 2.0


#: Prior spread of the skew between two clocks, parts per million (one standard
#: deviation). Crystals are specified to about +-100 ppm, and most PC clocks differ by
#: far less. While the envelopes still allow a wide range of skews (a short window, few
#: bursts), the estimate leans towards 0 by this prior instead of believing the extremes.
SKEW_PRIOR_PPM = 100.0

#: Leg flags of a sample that may still hold an envelope or the smallest delay.
_UP, _DOWN, _RTT = 1, 2, 4
#: Slope bound for dropping dominated legs: every line the estimator evaluates is
#: within MAX_SKEW_PPM, plus the offset's penalty of at most SKEW_PRIOR_PPM.
_PRUNE_SLOPE = (MAX_SKEW_PPM + SKEW_PRIOR_PPM) * 1e-6


class _Entry:
    """A kept sample with the client times its two legs refer to.

    ``up = t1 - t0`` is the offset at the moment the request reached the server,
    client time ``t0 + delay / 2`` on a symmetric path; ``down = t3 - t2`` is minus the
    offset when the reply left, ``t3 - delay / 2``.
    """

    __slots__ = ("delay", "down", "down_x", "live", "number", "sample", "up", "up_x")

    def __init__(self, sample: ClockSample, number: int) -> None:
        delay = sample.delay_ms
        self.sample = sample
        self.number = number  # samples accepted before this one
        self.up_x = sample.t0 + delay / 2.0
        self.up = sample.up_ms
        self.down_x = sample.t3 - delay / 2.0
        self.down = sample.down_ms
        self.delay = delay
        self.live = _UP | _DOWN | _RTT


class ClockEstimator:
    """Estimates a client clock's offset and skew against the server from samples.

    The model: ``up = t1 - t0 = offset(t) + d_up`` and ``down = t3 - t2 = -offset(t) +
    d_down`` with ``offset(t) = offset + skew * (t - ref)`` and one-way delays at least
    a common floor. Every up leg lies on or above the line ``offset(t) + floor`` and
    every down leg on or above ``-offset(t) + floor``: two lines of opposite slope, the
    lower envelopes of the two directions.

    * While the window spans less than *min_skew_span_ms* (or holds fewer than 8
      samples), skew is 0 and the offset is :func:`min_split_offset` over the window.
    * After that, skew is the slope within :data:`MAX_SKEW_PPM` that fits both
      envelopes at once as tightly as possible: the one that maximises the common
      floor, which is the one that minimises the total excess of all legs over the
      two lines (Moon, Skelly and Towsley's linear program, for both directions
      jointly; with exponentially distributed excess delays it is the
      maximum-likelihood fit). It is found by walking the two lower convex hulls
      until the legs supporting the two lines pass each other in time; three legs
      hold it (two on one line, one on the other). Leaving each of those out in turn
      and fitting again shows how far the slope could be off (*s*, the root sum of
      squares of the changes). The skew is then the posterior mean under a normal
      prior of spread *tau* = :data:`SKEW_PRIOR_PPM`: ``slope / (1 + (s / tau)**2)``,
      so a window of few bursts does not believe an extreme slope.
    * The offset at the newest sample is half the difference of the two lines there,
      each the lowest bound the legs give after removing the skew, with each leg's
      bound loosened by the skew's remaining uncertainty times the leg's age (so that
      old legs do not set the offset through a slope that may be off).

    Delays that are too long (a delayed burst, queueing) lie above the envelopes and
    change nothing; a path whose two directions differ by a fixed amount shifts the
    offset by half of that, as for any two-way method. Legs that can no longer be the
    lowest under any line the estimator evaluates (a newer leg is lower by more than
    ``MAX_SKEW_PPM + SKEW_PRIOR_PPM`` times their distance) are dropped at once, and
    a sample when all of its legs and its delay are: a window of 256 then covers the
    whole *max_age_ms* of periodic bursts (about 105 samples for 16 every 10 s).

    Args:
        window: Most samples kept (at least 1).
        max_age_ms: Samples older than this (client time, milliseconds) are dropped.
        min_skew_span_ms: Time the window must cover before skew is estimated,
            milliseconds.

    Raises:
        ValueError: if *window* < 1 or a duration is not positive.
    """

    def __init__(
        self,
        *,
        window: int = 256,
        max_age_ms: float = 300_000.0,
        min_skew_span_ms: float = 20_000.0,
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        if not (max_age_ms > 0 and min_skew_span_ms > 0):
            raise ValueError("max_age_ms and min_skew_span_ms must be positive")
        self._entries: deque[_Entry] = deque()
        # Receive times of the samples in the window, kept or dropped as dominated.
        self._received: deque[float] = deque()
        self._accepted = 0
        self._window = window
        self._max_age_ms = max_age_ms
        self._min_skew_span_ms = min_skew_span_ms
        self._estimate: ClockEstimate | None = None

    def __len__(self) -> int:
        """Samples in the window, including those dropped as dominated (which cannot
        change the estimate): the samples no older than *max_age_ms*, of which at most
        *window* are kept."""
        return len(self._received)

    @property
    def _samples(self) -> list[ClockSample]:
        """The kept samples, oldest first (for subclasses in bench/)."""
        return [e.sample for e in self._entries]

    @property
    def estimate(self) -> ClockEstimate | None:
        """The current estimate, or ``None`` before the first sample."""
        return self._estimate

    def reset(self) -> None:
        """Forget every sample (after the path changed, for example a reconnect)."""
        self._entries.clear()
        self._received.clear()
        self._estimate = None

    def add(self, sample: ClockSample) -> ClockEstimate:
        """Add one exchange and return the updated estimate.

        Samples with ``t3 < t0`` or a negative delay (clock stepped mid-exchange) are
        ignored and the previous estimate stays.

        Raises:
            ValueError: if the first sample added is such an impossible sample.
        """
        if sample.t3 < sample.t0 or sample.delay_ms < 0:
            if self._estimate is None:
                raise ValueError(
                    f"impossible sample: t0={sample.t0} t3={sample.t3} delay={sample.delay_ms} ms"
                )
            return self._estimate
        new = _Entry(sample, self._accepted)
        self._accepted += 1
        self._drop_dominated(new)
        entries = self._entries
        entries.append(new)
        received = self._received
        received.append(sample.t3)
        if len(entries) > self._window:
            # The window is full of samples that may matter: it ends at the oldest
            # one left, and the dropped samples older than that leave with it.
            first = entries.popleft().number + 1
            for _ in range(first - (self._accepted - len(received))):
                received.popleft()
        newest = sample.t3
        while newest - entries[0].sample.t3 > self._max_age_ms:
            entries.popleft()
        while newest - received[0] > self._max_age_ms:
            received.popleft()
        self._estimate = self._compute(newest)
        return self._estimate

    def _drop_dominated(self, new: _Entry) -> None:
        """Drop the kept samples none of whose legs can matter any more.

        An older up leg is dominated when *new*'s is lower by more than
        ``_PRUNE_SLOPE * |distance|``: then it is above *new*'s under every line the
        estimator evaluates, and *new* stays at least as long (the window drops the
        oldest first). Likewise for down legs, and for the delay (``rtt_ms``).
        """
        k = _PRUNE_SLOPE
        dropped = False
        for e in self._entries:
            live = e.live
            if live & _UP and new.up <= e.up - k * abs(new.up_x - e.up_x):
                live &= ~_UP
            if live & _DOWN and new.down <= e.down - k * abs(new.down_x - e.down_x):
                live &= ~_DOWN
            if live & _RTT and new.delay <= e.delay:
                live &= ~_RTT
            e.live = live
            dropped = dropped or not live
        if dropped:
            self._entries = deque(e for e in self._entries if e.live)

    def _compute(self, ref_local_ms: float) -> ClockEstimate:
        entries = self._entries
        rtt = min(e.delay for e in entries)
        t0s = [e.sample.t0 for e in entries]
        if max(t0s) - min(t0s) < self._min_skew_span_ms or len(self) < 8:
            skew_ppm = 0.0
            # min_split_offset with no skew to remove.
            offset = (min(e.up for e in entries) - min(e.down for e in entries)) / 2.0
        else:
            skew_ppm, offset = _envelope_fit(entries, ref_local_ms)
        return ClockEstimate(
            offset_ms=offset,
            ref_local_ms=ref_local_ms,
            skew_ppm=skew_ppm,
            rtt_ms=rtt,
            samples=len(self),
        )


_Point = tuple[float, float]


def _envelope_fit(entries: Iterable[_Entry], ref_local_ms: float) -> tuple[float, float]:
    """Skew (ppm) and offset at *ref_local_ms* (ms) from the two lower envelopes.

    Coordinates are relative to the reference time and to the newest legs, which keeps
    the arithmetic exact enough with epoch-sized clocks. Down legs are mirrored in
    time (``x = ref - t``), so that both directions' lines are ``y = a + k * x`` with
    the same *k*: under the up legs ``a_up = min(y - k x)`` and under the mirrored down
    legs ``a_down = min(y - k x)``; the floor ``a_up + a_down`` is concave in *k*.
    """
    entries = list(entries)
    newest = entries[-1]
    up = sorted((e.up_x - ref_local_ms, e.up - newest.up) for e in entries)
    down = sorted((ref_local_ms - e.down_x, e.down - newest.down) for e in entries)
    up_hull = _lower_hull(up)
    down_hull = _lower_hull(down)
    k = _widest_floor_slope(up_hull, down_hull)
    # Leave out each leg holding the fit (the two lowest of each direction under it;
    # a leg not holding it changes nothing) and see how far the slope moves.
    var = 0.0
    for a in _lowest_two(up_hull, k):
        change = _widest_floor_slope(_without_vertex(up_hull, a, up), down_hull) - k
        var += change * change
    for a in _lowest_two(down_hull, k):
        change = _widest_floor_slope(up_hull, _without_vertex(down_hull, a, down)) - k
        var += change * change
    tau = SKEW_PRIOR_PPM * 1e-6
    shrink = 1.0 + var / (tau * tau)
    k = k / shrink  # posterior mean of a normal prior (0, tau) and the fit (k, s)
    sigma = math.sqrt(var / shrink)  # its standard deviation
    # Each leg's bound on the line at x = 0, loosened by sigma per unit of age.
    a_up = min(y - k * x + sigma * abs(x) for x, y in up)
    a_down = min(y - k * x + sigma * abs(x) for x, y in down)
    offset = (a_up + newest.up - a_down - newest.down) / 2.0
    return k * 1e6, offset


def _lower_hull(points: list[_Point]) -> list[_Point]:
    """Lower convex hull of *points* sorted by ``(x, y)`` (Andrew's monotone chain);
    of equal x only the lowest point is kept."""
    hull: list[_Point] = []
    for p in points:
        if hull and hull[-1][0] == p[0]:
            continue
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            # Drop the middle point when it lies on or above the chord.
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) <= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    return hull


def _widest_floor_slope(up_hull: list[_Point], down_hull: list[_Point]) -> float:
    """The slope *k* within ``+-MAX_SKEW_PPM`` maximising ``min(y - k x)`` over
    *up_hull* plus the same over *down_hull* (both lower hulls, x increasing).

    The derivative of that sum is minus the x of the two supporting vertices; raising
    *k* moves each support to the right, so walk the hull edges in order of slope until
    the supports' x add up to 0 or more.
    """
    i = j = 0
    k = -math.inf
    while up_hull[i][0] + down_hull[j][0] < 0:
        up_next = _edge_slope(up_hull, i)
        down_next = _edge_slope(down_hull, j)
        if up_next <= down_next:
            k = up_next
            i += 1
        else:
            k = down_next
            j += 1
        if k == math.inf:
            break
    k_max = MAX_SKEW_PPM * 1e-6
    return max(-k_max, min(k_max, k))


def _edge_slope(hull: list[_Point], i: int) -> float:
    if i + 1 >= len(hull):
        return math.inf
    (x1, y1), (x2, y2) = hull[i], hull[i + 1]
    return (y2 - y1) / (x2 - x1)


def _lowest_two(hull: list[_Point], k: float) -> list[int]:
    """Indexes of the two vertices of *hull* lowest under slope *k*."""
    order = sorted(range(len(hull)), key=lambda a: hull[a][1] - k * hull[a][0])
    return order[:2]


def _without_vertex(hull: list[_Point], a: int, points: list[_Point]) -> list[_Point]:
    """*hull* of *points* with vertex *a* left out: only the stretch between its
    neighbours changes, and is rebuilt from the points in it."""
    if len(hull) == 1:
        return _lower_hull([p for p in points if p is not hull[0]]) or hull
    lo = hull[a - 1][0] if a > 0 else -math.inf
    hi = hull[a + 1][0] if a + 1 < len(hull) else math.inf
    left = hull[: a - 1] if a > 0 else []
    right = hull[a + 2 :]
    middle = [p for p in points if lo <= p[0] <= hi and p is not hull[a]]
    return left + _lower_hull(middle) + right


def position_at(
    *,
    position_s: float,
    paused: bool,
    rate: float,
    reference_ms: float,
    at_ms: float,
    duration_s: float | None = None,
) -> float:
    """Media position at a server instant, by linear extrapolation.

    A playing state means: at server time *reference_ms* the position is
    *position_s* and it advances *rate* media seconds per second after that. Before
    *reference_ms* (a scheduled start not yet reached) the position holds at
    *position_s*, so every client starts together at the scheduled instant.

    Args:
        position_s: Position at *reference_ms*, seconds.
        paused: Whether playback is paused (the position then never moves).
        rate: Playback rate (1.0 is normal speed).
        reference_ms: Server time the position refers to, milliseconds.
        at_ms: Server time to compute the position for, milliseconds.
        duration_s: Media duration in seconds, if known: the result never passes it.

    Returns:
        The position in seconds, at least 0.
    """
    pos = position_s
    if not paused and at_ms > reference_ms:
        pos += (at_ms - reference_ms) / 1000.0 * rate
    if duration_s is not None:
        pos = min(pos, duration_s)
    return max(0.0, pos)


def schedule_lead_ms(rtts_ms: Iterable[float], *, min_ms: float, max_ms: float) -> float:
    """How far ahead to schedule a play or seek so every participant has it in time.

    One-way delay is at most a round trip (asymmetry can put all of it in one
    direction), so the lead is the largest RTT plus a jitter margin of a quarter of it,
    clamped to ``[min_ms, max_ms]``: one slow participant never delays the room by
    more than *max_ms*; if its message arrives late it catches up by extrapolation.

    Args:
        rtts_ms: Round-trip times of the participants, milliseconds.
        min_ms: Smallest lead, milliseconds.
        max_ms: Largest lead, milliseconds.

    Returns:
        The lead, milliseconds.
    """
    worst = max(rtts_ms, default=0.0)
    return max(min_ms, min(max_ms, worst * 1.25))


@dataclass(frozen=True, slots=True)
class Correction:
    """What a participant should do about its drift.

    Attributes:
        action: ``"rate"`` (play at *rate* for *duration_ms*, then return to the room
            rate) or ``"seek"`` (jump to the position the room state gives now).
        drift_ms: Participant position minus room position, milliseconds (positive:
            ahead).
        rate: For ``"rate"``: the playback rate to use meanwhile.
        duration_ms: For ``"rate"``: how long to hold that rate, milliseconds
            (``None`` from :func:`follow_rate`: until the player's next check).
    """

    action: str
    drift_ms: float
    rate: float | None = None
    duration_ms: float | None = None


def correction_for(
    drift_ms: float,
    *,
    room_rate: float,
    threshold_ms: float,
    seek_threshold_ms: float,
    max_rate_change: float = 0.05,
    min_duration_ms: float = 500.0,
) -> Correction | None:
    """Choose a correction for a drift (our rule; Jellyfin SyncPlay uses the same two
    tools: a speed change for small drift, a seek for large).

    A rate nudge removes the drift in ``|drift| / (room_rate * max_rate_change)``
    milliseconds of wall time (at least *min_duration_ms*); a seek is used beyond
    *seek_threshold_ms*, where nudging would take too long to be useful.

    Args:
        drift_ms: Participant position minus room position, milliseconds.
        room_rate: The room's playback rate.
        threshold_ms: Below this absolute drift nothing is done, milliseconds.
        seek_threshold_ms: At or above this absolute drift, seek, milliseconds.
        max_rate_change: Largest relative rate change of a nudge (0.05 is 5 %).
        min_duration_ms: Shortest nudge, milliseconds.

    Returns:
        A :class:`Correction`, or ``None`` when the drift is under *threshold_ms*.
    """
    size = abs(drift_ms)
    if size < threshold_ms:
        return None
    if size >= seek_threshold_ms or room_rate <= 0:
        return Correction(action="seek", drift_ms=drift_ms)
    duration = max(min_duration_ms, size / (room_rate * max_rate_change))
    change = size / (duration * room_rate)  # relative change removing the drift in time
    factor = 1.0 - change if drift_ms > 0 else 1.0 + change
    return Correction(
        action="rate", drift_ms=drift_ms, rate=room_rate * factor, duration_ms=duration
    )


#: Defaults of :func:`follow_rate`, the same as the watch page's player loop
#: (admin_app/static/watch/player.js).
FOLLOW_GAIN_PER_S = 1.0
FOLLOW_MAX_RATE_CHANGE = 0.05
FOLLOW_SEEK_MS = 300.0


def follow_rate(
    drift_ms: float,
    *,
    room_rate: float,
    gain_per_s: float = FOLLOW_GAIN_PER_S,
    max_rate_change: float = FOLLOW_MAX_RATE_CHANGE,
    seek_threshold_ms: float = FOLLOW_SEEK_MS,
) -> Correction:
    """The rate a player should play at until its next check, from its own drift
    (a proportional controller; our rule, the one the watch page runs every 100 ms).

    A client that can read its player's position (``video.currentTime``, mpv's
    ``time-pos``) checks it often (every 100 ms or so) against :func:`position_at` of
    its estimated server time, and plays at ``room_rate * (1 - gain_per_s * drift_s)``,
    the change clamped to *max_rate_change*: a drift decays by ``e`` in about
    ``1 / gain_per_s`` seconds, and a player whose clock or decoder runs fast or slow
    by ``d`` (a fraction, 200 ppm is 2e-4) settles ``d / gain_per_s`` seconds away
    from the room (0.2 ms at 200 ppm and the default gain). This closes drifts far
    below the server's ``drift_threshold_ms``; the server's own ``drift_correction``
    (see :func:`correction_for`) remains for clients that do not follow themselves.

    Args:
        drift_ms: Player position minus room position, milliseconds (positive: ahead).
        room_rate: The room's playback rate.
        gain_per_s: Fraction of the drift removed per second of playback, 1/s.
        max_rate_change: Largest relative rate change (0.05 is 5 %).
        seek_threshold_ms: At or above this absolute drift, seek, milliseconds.

    Returns:
        A :class:`Correction`: ``"seek"`` (jump to the room position), or ``"rate"``
        with the rate to play at until the next check (``duration_ms`` is ``None``).
    """
    if abs(drift_ms) >= seek_threshold_ms or room_rate <= 0:
        return Correction(action="seek", drift_ms=drift_ms)
    change = max(-max_rate_change, min(max_rate_change, drift_ms / 1000.0 * gain_per_s))
    return Correction(action="rate", drift_ms=drift_ms, rate=room_rate * (1.0 - change))
