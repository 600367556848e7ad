"""Across-seed statistics: Student-t confidence intervals and paired relative changes.

Pure Python (``math`` only): the t quantile is computed exactly (to ~1e-12) by inverting
the t CDF, which is expressed through the regularized incomplete beta function.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

_BETA_EPS = 1e-15
_BETA_MAX_ITER = 500


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz method)."""
    tiny = 1e-300
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, _BETA_MAX_ITER + 1):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < _BETA_EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def regularized_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x: must be in [0, 1], got {x!r}")
    if x in (0.0, 1.0):
        return x
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_cdf(x: float, df: int) -> float:
    """P(T <= x) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * regularized_beta(df / 2.0, 0.5, df / (df + x * x))
    return 1.0 - tail if x >= 0 else tail


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p: must be in (0, 1), got {p!r}")
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f"df: must be an integer >= 1, got {df!r}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, 2.0 * hi
    while hi - lo > 1e-12 * max(1.0, hi):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with the half-width of its confidence interval (None from one sample)."""

    value: float
    ci: float | None
    n: int


def _half_width(sample_sd: float, n: int, level: float) -> float:
    return t_quantile(0.5 + level / 2.0, n - 1) * sample_sd / math.sqrt(n)


def _sample_sd(values: Sequence[float]) -> float:
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: must be in (0, 1), got {level!r}")


def mean_ci(values: Sequence[float], level: float = 0.95) -> Estimate:
    """Mean of independent ``values`` with a Student-t confidence interval."""
    _check_level(level)
    n = len(values)
    if n == 0:
        raise ValueError("values: needs at least one value")
    mean = math.fsum(values) / n
    if n < 2:
        return Estimate(mean, None, n)
    return Estimate(mean, _half_width(_sample_sd(values), n, level), n)


def paired_change(baseline: Sequence[float], treatment: Sequence[float], level: float = 0.95) -> Estimate:
    """Relative change ``mean(treatment) / mean(baseline) - 1`` over paired samples.

    Negative means the treatment's values (JCTs) are lower: -0.203 reads "-20.3 %". The
    point estimate equals the change computed from the two mean columns of a table. Its
    interval is the delta-method (ratio-estimator) interval: with ratio
    ``q = mean(t) / mean(b)``, the standard error is
    ``sd(t_i - q * b_i) / (sqrt(n) * mean(b))``, scaled by the Student-t quantile.
    """
    _check_level(level)
    if len(baseline) != len(treatment):
        raise ValueError(f"treatment: {len(treatment)} values for {len(baseline)} baseline values")
    n = len(baseline)
    if n == 0:
        raise ValueError("baseline: needs at least one value")
    mean_b = math.fsum(baseline) / n
    if mean_b <= 0:
        raise ValueError(f"baseline: mean must be > 0, got {mean_b!r}")
    ratio = math.fsum(treatment) / n / mean_b
    if n < 2:
        return Estimate(ratio - 1.0, None, n)
    residuals = [t - ratio * b for b, t in zip(baseline, treatment, strict=True)]
    return Estimate(ratio - 1.0, _half_width(_sample_sd(residuals) / mean_b, n, level), n)
