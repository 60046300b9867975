"""Candidate clock estimators, tried in the precision lab before proposing a change to
protocol/clock.py (``python -m bench.precision --estimator envelope``).

The lab's client processes replace ``sync_server.client.ClockEstimator`` with the
class named here; nothing in protocol/ or sync_server/ is changed.
"""

from __future__ import annotations

import itertools

from protocol.clock import (
    MAX_SKEW_PPM,
    ClockEstimate,
    ClockEstimator,
    ClockSample,
    min_split_offset,
)


def _lower_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Lower convex hull of points sorted by x (Andrew's monotone chain)."""
    hull: list[tuple[float, float]] = []
    for p in points:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            # Drop the middle point when it lies on or above the chord.
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) <= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    return hull


def envelope_line(points: list[tuple[float, float]]) -> tuple[float, float]:
    """The line under every point that is closest to them in total (a linear program
    whose optimum is the lower-hull edge above the points' mean x; Moon, Skelly and
    Towsley, "Estimation and removal of clock skew from network delay measurements",
    INFOCOM 1999). Returns ``(slope, value at the mean x)``."""
    pts = sorted(points)
    mean_x = sum(x for x, _ in pts) / len(pts)
    hull = _lower_hull(pts)
    if len(hull) == 1:
        return 0.0, hull[0][1]
    for (x1, y1), (x2, y2) in itertools.pairwise(hull):
        if x1 <= mean_x <= x2:
            slope = (y2 - y1) / (x2 - x1) if x2 > x1 else 0.0
            return slope, y1 + slope * (mean_x - x1)
    # mean_x is always inside [first x, last x]; numerically it may miss by a hair.
    (x1, y1), (x2, y2) = hull[-2], hull[-1]
    slope = (y2 - y1) / (x2 - x1) if x2 > x1 else 0.0
    return slope, y1 + slope * (mean_x - x1)


class EnvelopeEstimator(ClockEstimator):
    """Skew and offset from the lower envelopes of the up and down legs.

    ``up = t1 - t0 = offset(t) + d_up`` and ``down = t3 - t2 = -offset(t) + d_down``:
    the line under all up legs has slope +skew, the line under all down legs -skew,
    and half the difference of the two lines is the offset, at any instant. Before the
    window spans ``min_skew_span_ms`` it behaves as the parent (skew 0, min-split).
    """

    def _compute(self, ref_local_ms: float) -> ClockEstimate:
        samples: list[ClockSample] = list(self._samples)
        span = samples[-1].t0 - samples[0].t0
        rtt = min(s.delay_ms for s in samples)
        if span < self._min_skew_span_ms or len(samples) < 8:
            return ClockEstimate(
                offset_ms=min_split_offset(samples, 0.0, ref_local_ms),
                ref_local_ms=ref_local_ms,
                skew_ppm=0.0,
                rtt_ms=rtt,
                samples=len(samples),
            )
        # Times relative to the reference keep the arithmetic well conditioned.
        up_slope, up_mean = envelope_line([(s.t0 - ref_local_ms, s.up_ms) for s in samples])
        dn_slope, dn_mean = envelope_line([(s.t3 - ref_local_ms, s.down_ms) for s in samples])
        up_mx = sum(s.t0 - ref_local_ms for s in samples) / len(samples)
        dn_mx = sum(s.t3 - ref_local_ms for s in samples) / len(samples)
        up_at_ref = up_mean - up_slope * up_mx
        dn_at_ref = dn_mean - dn_slope * dn_mx
        skew = (up_slope - dn_slope) / 2.0 * 1e6
        skew = max(-MAX_SKEW_PPM, min(MAX_SKEW_PPM, skew))
        return ClockEstimate(
            offset_ms=(up_at_ref - dn_at_ref) / 2.0,
            ref_local_ms=ref_local_ms,
            skew_ppm=skew,
            rtt_ms=rtt,
            samples=len(samples),
        )


ESTIMATORS = {"project": None, "envelope": EnvelopeEstimator}
