"""The unit facet as a drill-down tree of links, and unit labels for the pages.

The search layer lists the unit facet in tree order, each value with its level and
parent (:mod:`indexer.unit_facets`). Here each value becomes a link:

* a selected unit's link removes it;
* a unit under a selected one *narrows* the selection to it (the selected units above
  it are dropped: choosing Quận 4 inside Thành phố Hồ Chí Minh keeps Quận 4 only);
* any other unit is added (units combine with OR).

Provinces come first, by count; the subtrees that hold a selection come before the
rest, and provinces past the first :data:`VISIBLE` fold into a "more" list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from indexer import FacetValue
from indexer import Warning
from indexer.units import registry
from webapp.params import UrlState

__all__ = ["UnitLink", "suggestion_links", "unit_filter_label", "unit_group"]

VISIBLE = 8


@dataclass(frozen=True, slots=True)
class UnitLink:
    """A unit facet value as a link, with its depth in the tree (0 for a province)."""

    label: str
    href: str
    active: bool
    count: int
    depth: int
    title: str


def unit_filter_label(value: str) -> str:
    """How a selected unit reads among the active filters (its unambiguous label)."""
    return registry().label(value)


def unit_group(values: list[FacetValue], state: UrlState,
               href: Callable[[UrlState], str]) -> dict | None:
    """The facet group of the search page for the unit facet (``None`` if empty)."""
    if not values:
        return None
    reg = registry()
    selected = {value.value for value in values if value.selected} | set(state.getlist("unit"))
    depth: dict[str, int] = {}
    trees: list[list[UnitLink]] = []
    for value in values:
        level = depth.get(value.parent, -1) + 1 if value.parent in depth else 0
        depth[value.value] = level
        above = {unit.name for unit in reg.ancestors(value.value)}
        active = value.value in selected
        if active:
            target = state.toggle("unit", value.value)
        else:
            narrowed = [pair for pair in state.pairs
                        if not (pair[0] == "unit" and pair[1] in above)]
            target = UrlState(pairs=narrowed).toggle("unit", value.value)
        link = UnitLink(
            label=value.label or value.value,
            href=href(target),
            active=active,
            count=value.count,
            depth=level,
            title=reg.full_label(value.value),
        )
        if level == 0 or not trees:
            trees.append([link])
        else:
            trees[-1].append(link)
    chosen = [tree for tree in trees if any(link.active for link in tree) or len(tree) > 1]
    rest = [tree for tree in trees if tree not in chosen]
    ordered = chosen + rest
    visible_trees = ordered[: max(VISIBLE, len(chosen))]
    more_trees = ordered[len(visible_trees):]
    return {
        "name": "unit",
        "label": "Đơn vị hành chính",
        "visible": [link for tree in visible_trees for link in tree],
        "more": [link for tree in more_trees for link in tree],
    }


def suggestion_links(warning: Warning, state: UrlState,
                     href: Callable[[UrlState], str]) -> list[tuple[str, str]]:
    """For an unknown or ambiguous unit filter: ``(label, href)`` of each closest unit,
    the URL's bad value replaced by it."""
    if warning.about != "unit":
        return []
    reg = registry()
    links = []
    for name in warning.suggestions:
        pairs = [pair for pair in state.pairs if pair != ("unit", warning.value)]
        target = UrlState(pairs=pairs).toggle("unit", name)
        links.append((reg.full_label(name), href(target)))
    return links
