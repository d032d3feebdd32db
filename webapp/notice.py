"""The notice above the results that says which reading of the query they are.

A query is read strictest first (:mod:`indexer.readings`): the syllables typed side by
side, side by side; then its words near each other; then every word anywhere; then
most of the words. The total, the facets, the histogram and the export all count the
reading shown, so the page says which one it is when it is not the strict one, and
offers the other reading in one click (``match=``).
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup
from markupsafe import escape

from indexer import SearchResult
from webapp.params import UrlState

#: What the one-click link offers, per tier.
OTHER_LABELS = {
    "all": "Tìm các từ ở bất kỳ đâu trong bài",
    "most": "Tìm bài chứa phần lớn các từ",
    "phrase": "Chỉ tìm đúng cụm từ",
    "near": "Tìm các cụm từ đứng gần nhau",
    "typed": "Tìm chính xác",
    "auto": "Trở về cách tìm mặc định",
}


@dataclass(frozen=True, slots=True)
class Notice:
    """A sentence (HTML) and an optional link to the other reading."""

    text: Markup
    link_label: str | None = None
    link_href: str | None = None
    strict: bool = False  # the strict reading: shown small, not as a warning


def _quoted(words) -> Markup:
    return Markup(", ").join(Markup("«{}»").format(word) for word in words)


def match_notice(result: SearchResult, state: UrlState, href) -> Notice | None:
    """The notice for a result, or None when there is nothing to say.

    :param href: turns a :class:`UrlState` into a link.
    """
    match = result.match
    typed = result.query
    chosen = state.get("match") or "auto"
    if match.tier in ("every", "none") or not typed:
        return None
    if match.corrected:
        return Notice(
            Markup("Không có kết quả cho {} — đang hiển thị kết quả cho {}.").format(
                _quoted([typed]), _quoted([match.corrected])),
            f"{OTHER_LABELS['typed']} «{typed}»", href(state.replace(match="typed")))
    if chosen not in ("auto", "typed"):
        return Notice(_reading(match), OTHER_LABELS["auto"], href(state.replace(match=None)))
    if match.tier == "phrase":
        multi = any(" " in phrase for phrase in match.phrases)
        if not multi or "all" not in match.others or not result.total:
            return None
        return Notice(Markup("Các bài chứa đúng cụm {}.").format(_quoted(match.phrases)),
                      OTHER_LABELS["all"], href(state.replace(match="all")), strict=True)
    text = Markup("Không có bài chứa đúng cụm {} — đang hiển thị {}").format(
        _quoted([typed]), _reading(match, lead=False))
    if match.tier == "most":
        text = Markup("Không có bài chứa tất cả các từ của {} — đang hiển thị {}").format(
            _quoted([typed]), _reading(match, lead=False))
    other = next((tier for tier in ("all", "most") if tier in match.others
                  and _looser(tier, match.tier)), None)
    if other is None:
        return Notice(text)
    return Notice(text, OTHER_LABELS[other], href(state.replace(match=other)))


def _looser(tier: str, than: str) -> bool:
    order = ("phrase", "near", "all", "most")
    return order.index(tier) > order.index(than)


def _reading(match, *, lead: bool = True) -> Markup:
    """What the reading shows, as a sentence."""
    start = Markup("Đang hiển thị ") if lead else Markup("")
    if match.tier == "phrase":
        body = Markup("bài chứa đúng cụm {}").format(_quoted(match.phrases))
    elif match.tier == "near":
        body = Markup("bài có {} đứng gần nhau").format(_quoted(match.phrases))
    elif match.tier == "all":
        body = Markup("bài chứa tất cả các từ {} ở bất kỳ đâu").format(
            _quoted(match.phrases))
    else:
        body = Markup("bài chứa ít nhất {} trong {} từ {}").format(
            escape(match.minimum), escape(len(match.phrases)), _quoted(match.phrases))
    text = start + body
    if match.dropped:
        text += Markup(" (bỏ qua: {})").format(_quoted(match.dropped))
    return text + Markup(".")
