"""Customer segments from recency, frequency and monetary (RFM) scores.

Scores are quintiles within one shop, among the members with at least one counted order
(paid, not cancelled, not fully refunded). Each measure is scored 1 (worst fifth) to 5
(best fifth) by rank, with ties sharing one score:

    score = 1 + floor(5 * worse / n)

where `n` is how many members are scored and `worse` how many of them have a strictly
worse value (recency: more days since the last order; frequency: fewer orders; monetary:
less spent). Members with equal values always get the same score, whatever their ids or
the order rows are read in, so the result is deterministic and the same on every
database. Ten members with ten different values score 1, 1, 2, 2, 3, 3, 4, 4, 5, 5.

The segment comes from R and FM = the rounded-up mean of F and M (see `segment_for`):

    FM ->    1                  2 3                 4              5
    R 5      new                potential_loyalist  champions      champions
    R 4      promising          potential_loyalist  loyal          champions
    R 3      need_attention     need_attention      loyal          loyal
    R 2      hibernating (FM 1-2), at_risk (FM 3-4), cannot_lose (FM 5)
    R 1      lost (FM 1-2),        at_risk (FM 3-4), cannot_lose (FM 5)

A member without a counted order has no scores and no segment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from plugin_server.domain.errors import UnknownSegment, ValidationFailed

SCORES = 5


class Segment(StrEnum):
    CHAMPIONS = "champions"
    LOYAL = "loyal"
    POTENTIAL_LOYALIST = "potential_loyalist"
    NEW = "new"
    PROMISING = "promising"
    NEED_ATTENTION = "need_attention"
    AT_RISK = "at_risk"
    CANNOT_LOSE = "cannot_lose"
    HIBERNATING = "hibernating"
    LOST = "lost"


DEFINITIONS: dict[Segment, str] = {
    Segment.CHAMPIONS: "Bought recently, often and for much: R 5 with FM 4-5, or R 4 with FM 5.",
    Segment.LOYAL: "Buy often and for much, fairly recently: R 4 with FM 4, or R 3 with FM 4-5.",
    Segment.POTENTIAL_LOYALIST: "Recent buyers of middling frequency and spend: R 4-5, FM 2-3.",
    Segment.NEW: "Bought very recently, seldom and for little (typically one order): R 5, FM 1.",
    Segment.PROMISING: "Recent buyers who bought seldom and for little: R 4, FM 1.",
    Segment.NEED_ATTENTION: "Middling recency, low to middling frequency and spend: R 3, FM 1-3.",
    Segment.AT_RISK: "Used to buy often or for much, not for a long time: R 1-2, FM 3-4.",
    Segment.CANNOT_LOSE: "Among the best buyers, not for a long time: R 1-2, FM 5.",
    Segment.HIBERNATING: "Long since the last order, seldom and for little: R 2, FM 1-2.",
    Segment.LOST: "The longest since the last order, seldom and for little: R 1, FM 1-2.",
}


def fm_score(f: int, m: int) -> int:
    """The frequency-and-monetary score the segments use: the mean of F and M, halves up."""
    return (f + m + 1) // 2


def segment_for(r: int, f: int, m: int) -> Segment:
    """The segment of a member with these scores (each 1 to 5)."""
    for name, value in (("r", r), ("f", f), ("m", m)):
        if not 1 <= value <= SCORES:
            raise ValueError(f"{name} score must be 1 to {SCORES}, not {value}")
    fm = fm_score(f, m)
    if r >= 4:
        if fm == 5 or (r == 5 and fm == 4):
            return Segment.CHAMPIONS
        if fm == 4:
            return Segment.LOYAL
        if fm >= 2:
            return Segment.POTENTIAL_LOYALIST
        return Segment.NEW if r == 5 else Segment.PROMISING
    if r == 3:
        return Segment.LOYAL if fm >= 4 else Segment.NEED_ATTENTION
    if fm == 5:
        return Segment.CANNOT_LOSE
    if fm >= 3:
        return Segment.AT_RISK
    return Segment.HIBERNATING if r == 2 else Segment.LOST


def segment_grid() -> dict[tuple[int, int], Segment]:
    """The segment of every (R, FM) pair; what the database's CASE is built from."""
    return {
        (r, fm): segment_for(r, fm, fm) for r in range(1, SCORES + 1) for fm in range(1, SCORES + 1)
    }


def cut_ranks(n: int) -> list[int]:
    """For a shop of `n` scored members: the 1-based ranks (in worst-to-best order) whose
    values are the cut points. A member scores at least s + 2 when its value is better than
    the value at rank `cut_ranks(n)[s]`."""
    return [-(-(s * n) // SCORES) for s in range(1, SCORES)] if n else []


def score(value: int, cuts: Sequence[int]) -> int:
    """The score of `value` (oriented so that higher is better) against the values at the
    cut ranks, in rank order."""
    return 1 + sum(1 for cut in cuts if value > cut)


def scores_of(values: Sequence[int]) -> list[int]:
    """Each value's score within `values` (higher is better): the rule the database applies,
    for tests and small shops."""
    ordered = sorted(values)
    cuts = [ordered[k - 1] for k in cut_ranks(len(values))]
    return [score(v, cuts) for v in values]


def validate_segments(value: object, field: str = "segments") -> list[str]:
    """A list of segment names, each once, in the order given; UnknownSegment for a name
    that is not a segment."""
    if not isinstance(value, list):
        raise ValidationFailed(f"{field} must be a list of segment names", field=field)
    out: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise ValidationFailed(f"{field}: {item!r} is not a segment name", field=field)
        try:
            name = Segment(item.strip()).value
        except ValueError:
            raise UnknownSegment(
                f"{field}: {item!r} is not a segment; one of {names()}", field=field
            ) from None
        if name not in out:
            out.append(name)
    return out


def names(segments: Iterable[Segment] = Segment) -> list[str]:
    return [s.value for s in segments]


# --- money in minor units ---------------------------------------------------------------

# ISO 4217 currencies whose minor unit is not the hundredth (the rest have 2 decimals).
_EXPONENTS = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"),
        0,
    ),
    **dict.fromkeys(("VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    "CLF": 4,
    "UYW": 4,
}


def minor_exponent(currency: str) -> int:
    """Decimal places of the currency's minor unit (2 for USD, 0 for JPY, 3 for KWD)."""
    return _EXPONENTS.get(currency.upper(), 2)
