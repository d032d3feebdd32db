"""The posting items of an article's views, as whoosh's fields would compute them.

A build worker computes every view's items ahead of the writer (:func:`fast_preanalyse`):
the tokens are :class:`indexer.views.Tokens`' (the views' one definition), counted
per distinct term into columns (:class:`~indexer.engine.whoosh.schema.ItemColumns`)
without whoosh's per-token generators or a tuple per posting; a ``Positions`` field's
items carry their positions as numbers and leave the encoded values out, which the
writer makes only for the lists whoosh's files hold (most postings are in long lists,
which the posting arrays hold alone); the pairs view's items are numbers
(:class:`~indexer.engine.whoosh.schema.PairColumns`: a build with keyed lists never
writes a pair out as text). The reference is the schema's own path
(``field.index``, through the analyzers); a worker checks the fast path against it on
fixed texts and on its first documents (:class:`Analyser`), and a test compares them
on many texts.
"""

from __future__ import annotations

import itertools
from array import array
from collections import Counter

from whoosh import formats

from indexer.article import Article
from indexer.engine.whoosh.schema import ItemColumns
from indexer.engine.whoosh.schema import PairColumns
from indexer.engine.whoosh.schema import Preanalysed
from indexer.engine.whoosh.schema import make_schema
from indexer.engine.whoosh.schema import preanalyse
from indexer.engine.whoosh.schema import with_values
from indexer.views import RECIPES
from indexer.views import Tokens
from indexer.views import view_texts

__all__ = ["Analyser", "fast_preanalyse"]

def _positions_items(positions: dict[str, list[int]]) -> ItemColumns:
    """Posting items of a positions field (``whoosh.formats.Positions``) with the
    ``positions`` of each distinct term, as columns with their positions as numbers
    (their values left out)."""
    return ItemColumns(list(map(str.encode, positions)), list(map(len, positions.values())),
                       array("I", itertools.chain.from_iterable(positions.values())))


def _frequency_items(terms: list[str]) -> ItemColumns:
    """Posting items of a frequency field (``whoosh.formats.Frequency``) for ``terms``."""
    counts = Counter(terms)  # counted in C, in first-occurrence order
    return ItemColumns(list(map(str.encode, counts)), list(counts.values()))


def _pair_items(found: tuple[list[str], object]) -> PairColumns:
    """Posting items of the pairs view (a frequency field) from
    :meth:`~indexer.views.Tokens.pair_numbers`."""
    return PairColumns(*found)


def _recipe(name: str, field) -> tuple[str, object] | None:
    """How to compute field ``name``'s posting items fast: its view's tokens
    (:data:`indexer.views.RECIPES`) in its format (``Positions`` or ``Frequency``, no
    field boost); None leaves the field to whoosh's own path."""
    tokens = RECIPES.get(name)
    fmt = getattr(field, "format", None)
    if tokens is None or getattr(fmt, "field_boost", None) != 1.0:
        return None
    if type(fmt) is formats.Positions and tokens in _POSITIONS_OF:
        return _POSITIONS_OF[tokens], _positions_items
    if type(fmt) is formats.Frequency and tokens in _NUMBERS_OF:
        return _NUMBERS_OF[tokens], _pair_items
    if type(fmt) is formats.Frequency:
        return tokens, _frequency_items
    return None


_RECIPES: dict | None = None
#: The :class:`~indexer.views.Tokens` method giving the positions of each token of a view.
_POSITIONS_OF = {"syllables": "syllable_positions", "folded": "folded_positions"}
#: The :class:`~indexer.views.Tokens` method giving a view's tokens as numbers.
_NUMBERS_OF = {"pairs": "pair_numbers"}


def fast_preanalyse(article: Article) -> dict[str, Preanalysed]:
    """The same posting items as :func:`indexer.engine.whoosh.schema.preanalyse`,
    computed from the views' tokens (one regular-expression pass per text, shared by
    the views of the same text)."""
    global _RECIPES
    if _RECIPES is None:
        schema = make_schema()
        _RECIPES = {name: (schema[name], _recipe(name, schema[name])) for name in schema.names()}
    texts: dict[str, Tokens] = {}
    result = {}
    for name, value in view_texts(article).items():
        field, recipe = _RECIPES[name]
        if recipe is None:
            result[name] = Preanalysed(tuple(field.index(value)))
            continue
        tokens = texts.get(value)
        if tokens is None:
            tokens = texts[value] = Tokens(value)
        method, items = recipe
        result[name] = Preanalysed(items(getattr(tokens, method)()))
    return result


def _encoded(result: dict[str, Preanalysed]) -> dict[str, Preanalysed]:
    """The fast path's items with the values it leaves out encoded, as the reference
    gives them."""
    return {name: Preanalysed(with_values(value.items)) for name, value in result.items()}


_CHECK_TEXTS = (
    Article(
        id="check-1",
        title="Thành uỷ TP.HCM họp bàn về công tác cán bộ nhiệm kỳ 2020-2025",
        body=(
            "Sáng 13/7, Ban Thường vụ Thành ủy tổ chức hội nghị. Đồng chí Bí thư Quận ủy "
            "quận Bình Thạnh phát biểu: \"Cần phát huy sức mạnh khối đại đoàn kết toàn dân\".\n\n"
            "UBND phường 19 đã hoà giải 12 vụ việc; HĐND quận thông qua 3 nghị quyết, "
            "chi 2.500 triệu đồng (khoẻ mạnh, thuỷ lợi, qúy vị). ĐẠI HỘI ĐẢNG BỘ lần thứ XI."
        ),
    ),
    Article(id="check-2", title="", body="   \n\n  "),
    Article(
        id="check-3",
        title="Ngày hội",
        body="Người dân\u00a0khu phố 5 vui   mừng!!! e-mail: a_b",
    ),
)


class Analyser:
    """The preanalysis a worker uses: the fast path while it agrees with the reference.

    The fast path is checked against :func:`indexer.engine.whoosh.schema.preanalyse` on
    fixed texts
    and on the first :attr:`CHECKED` documents; on any difference the worker uses
    the reference for the rest of the build (the schema's analysers changed and
    :func:`fast_preanalyse` was not updated).
    """

    CHECKED = 20

    def __init__(self):
        self.fast = all(_encoded(fast_preanalyse(a)) == preanalyse(a) for a in _CHECK_TEXTS)
        self.left_to_check = self.CHECKED

    def __call__(self, article: Article) -> dict[str, Preanalysed]:
        if not self.fast:
            return preanalyse(article)
        result = fast_preanalyse(article)
        if self.left_to_check:
            self.left_to_check -= 1
            reference = preanalyse(article)
            if reference != _encoded(result):
                self.fast = False
                return reference
        return result
