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
        samples: Number of samples the estimate is built from.
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


class ClockEstimator:
    """Estimates a client clock's offset and skew against the server from samples.

    Keeps the newest *window* samples no older than *max_age_ms*. The offset comes
    from :func:`min_split_offset` over the whole window with the skew removed. Once
    the window spans at least *min_skew_span_ms*, skew is the slope of a
    least-squares line through per-bucket offsets (:func:`_fit_skew_ppm`).

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
        window: int = 128,
        max_age_ms: float = 300_000.0,
        min_skew_span_ms: float = 20_000.0,
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        if not (max_age_ms > 0 and min_skew_span_ms > 0):
            raise ValueError("max_age_ms and min_skew_span_ms must be positive")
        self._samples: deque[ClockSample] = deque(maxlen=window)
        self._max_age_ms = max_age_ms
        self._min_skew_span_ms = min_skew_span_ms
        self._estimate: ClockEstimate | None = None

    def __len__(self) -> int:
        return len(self._samples)

    @property
    def estimate(self) -> ClockEstimate | None:
        """The current estimate, or ``None`` before the first sample."""
        return self._estimate

    def reset(self) -> None:
        """Forget every sample (after the path changed, for example a reconnect)."""
        self._samples.clear()
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
        self._samples.append(sample)
        newest = sample.t3
        while self._samples and newest - self._samples[0].t3 > self._max_age_ms:
            self._samples.popleft()
        self._estimate = self._compute(newest)
        return self._estimate

    def _compute(self, ref_local_ms: float) -> ClockEstimate:
        samples = list(self._samples)
        span = samples[-1].t0 - samples[0].t0
        skew_ppm = 0.0
        if span >= self._min_skew_span_ms and len(samples) >= 8:
            skew_ppm = _fit_skew_ppm(samples)
        offset = min_split_offset(samples, skew_ppm, ref_local_ms)
        rtt = min(s.delay_ms for s in samples)
        return ClockEstimate(
            offset_ms=offset,
            ref_local_ms=ref_local_ms,
            skew_ppm=skew_ppm,
            rtt_ms=rtt,
            samples=len(samples),
        )


def _fit_skew_ppm(samples: list[ClockSample]) -> float:
    """Skew from a least-squares line through per-bucket offsets.

    The window is cut into up to 8 buckets of consecutive samples; each bucket's
    offset is :func:`min_split_offset` at its mean time. A line through those points
    averages the buckets' errors (about half the jitter floor each), which a slope
    between two halves would not. The slope is refined once with the skew removed
    inside each bucket, and clamped to :data:`MAX_SKEW_PPM`.
    """
    buckets = min(8, len(samples) // 4)
    size = len(samples) / buckets
    groups = [samples[round(i * size) : round((i + 1) * size)] for i in range(buckets)]
    skew_ppm = 0.0
    for _ in range(2):
        points = []
        for group in groups:
            t_mid = sum(s.t0 for s in group) / len(group)
            points.append((t_mid, min_split_offset(group, skew_ppm, t_mid)))
        t_mean = sum(t for t, _ in points) / len(points)
        o_mean = sum(o for _, o in points) / len(points)
        var = sum((t - t_mean) ** 2 for t, _ in points)
        if var <= 0:
            return 0.0
        slope = sum((t - t_mean) * (o - o_mean) for t, o in points) / var
        skew_ppm = max(-MAX_SKEW_PPM, min(MAX_SKEW_PPM, slope * 1e6))
    return skew_ppm


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
        duration_ms: For ``"rate"``: how long to hold that rate, milliseconds.
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
