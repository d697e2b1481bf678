"""Markdown of a matched element, or of a page's main content (`"attr": "markdown"`).

markdownify turns HTML into Markdown. A page's main content is its `<main>` element, else its
longest `<article>`, else the block holding most paragraph text (readability's idea, kept to
its core); navigation, headers and footers outside it, asides, forms, scripts and elements
named like ads, banners or cookie notices are dropped. Links and images are made absolute.
"""

from __future__ import annotations

import copy
import re
from urllib.parse import urljoin

from lxml import etree
from markdownify import markdownify
from parsel import Selector

# Never content, wherever they are.
_ALWAYS_DROPPED = ("script", "style", "noscript", "template", "iframe", "svg", "form", "button",
                   "nav", "aside")
# Page furniture when outside the main content (an article's own header stays).
_FURNITURE = ("header", "footer")
_BOILERPLATE_NAMES = re.compile(
    r"(^|[\s_-])(ads?|advert\w*|banner|cookies?|consent|sidebar|promo\w*|share|social|"
    r"newsletter|related|comments?|breadcrumbs?|popup|modal|sponsor\w*|subscribe)($|[\s_-])",
    re.IGNORECASE)
_BOILERPLATE_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search"}
_BLANK_LINES = re.compile(r"\n{3,}")


def to_markdown(node: Selector, base_url: str, main: bool = False) -> str | None:
    """The node's content as Markdown; with `main`, the main content of the page (or of the
    node) without boilerplate. None for a text or attribute match."""
    if isinstance(node.root, str) or not isinstance(node.root, etree._Element):
        return None
    root = copy.deepcopy(node.root)
    if main:
        root = _main_content(root)
    else:
        _drop(root, _ALWAYS_DROPPED[:6], by_name=False)
    _absolute_links(root, base_url)
    html = etree.tostring(root, method="html", encoding="unicode", with_tail=False)
    text = markdownify(html, heading_style="ATX", bullets="-", escape_misc=False)
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip() or None


def _main_content(root: etree._Element) -> etree._Element:
    _drop(root, _ALWAYS_DROPPED, by_name=True)
    found = root.xpath("//main") or []
    if not found:
        articles = root.xpath("//article")
        if articles:
            found = [max(articles, key=_text_length)]
    best: etree._Element = found[0] if found else _densest(root)
    _drop(best, _FURNITURE, by_name=False, keep_first_header=True)
    return best


def _drop(root: etree._Element, tags: tuple[str, ...], by_name: bool,
          keep_first_header: bool = False) -> None:
    doomed = []
    for el in root.iter():
        if el is root or not isinstance(el.tag, str):
            continue
        tag = el.tag.lower()
        if tag in tags:
            if keep_first_header and tag == "header" and _is_article_header(el, root):
                continue
            doomed.append(el)
        elif by_name and (_BOILERPLATE_NAMES.search(
                f"{el.get('class') or ''} {el.get('id') or ''}")
                or (el.get("role") or "").lower() in _BOILERPLATE_ROLES):
            doomed.append(el)
    for el in doomed:
        parent = el.getparent()
        if parent is not None:
            _remove_keep_tail(el, parent)


def _is_article_header(el: etree._Element, root: etree._Element) -> bool:
    """A header inside the main content, in an <article> (its title), stays."""
    parent = el.getparent()
    while parent is not None:
        if isinstance(parent.tag, str) and parent.tag.lower() == "article":
            return True
        if parent is root:
            return str(root.tag).lower() == "article"
        parent = parent.getparent()
    return False


def _remove_keep_tail(el: etree._Element, parent: etree._Element) -> None:
    if el.tail:
        previous = el.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _text_length(el: etree._Element) -> int:
    return len(" ".join("".join(el.itertext()).split()))


def _densest(root: etree._Element) -> etree._Element:
    """The element with most paragraph text in its children and (half) grandchildren."""
    scores: dict[etree._Element, float] = {}
    for p in root.iter("p"):
        length = _text_length(p)
        parent = p.getparent()
        if parent is None:
            continue
        scores[parent] = scores.get(parent, 0) + length
        grand = parent.getparent()
        if grand is not None:
            scores[grand] = scores.get(grand, 0) + length / 2
    if scores:
        return max(scores, key=lambda el: scores[el])
    body = root.find(".//body")
    return body if body is not None else root


def _absolute_links(root: etree._Element, base_url: str) -> None:
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in ("href", "src"):
            value = el.get(attr)
            if value is not None and not value.strip().lower().startswith(
                    ("javascript:", "mailto:", "tel:", "data:")):
                el.set(attr, urljoin(base_url, value.strip()))
