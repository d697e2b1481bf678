# mypy: disable-error-code="no-untyped-call"
"""Content pages: index, robots.txt, quotes, authors, catalog, products, truth, /gen/."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from twisted.web.resource import Resource
from twisted.web.server import Request

from . import content as c
from .htmlutil import Leaf, int_arg, not_found, page, redirect, segments, send_html

ROBOTS_TXT = b"User-agent: *\nDisallow: /private/\nCrawl-delay: 0.5\n"


class Index(Resource):
    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        if segments(request):
            return not_found(request)
        body = (
            "<h1>Crawlplane test site</h1>\n<ul>\n"
            '<li><a href="/quotes/">Quotes</a></li>\n'
            '<li><a href="/catalog/">Catalog</a></li>\n'
            '<li><a href="/links/?n=5">Links</a></li>\n'
            '<li><a href="/private/secret/">Private</a></li>\n</ul>'
        )
        return send_html(request, "Crawlplane test site", body)


class Robots(Resource):
    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return ROBOTS_TXT


class Private(Leaf):
    def render_GET(self, request: Request) -> bytes:
        if segments(request) == ["secret"]:
            return send_html(request, "Secret", '<h1>Secret page</h1><p class="value">hidden</p>')
        return not_found(request)


def _quote_html(q: c.Quote) -> str:
    tags = "\n".join(f'    <a class="tag" href="/tag/{t}/">{t}</a>' for t in q.tags)
    return (
        '<div class="quote">\n'
        f'  <span class="text">{escape(q.raw_text)}</span>\n'
        f'  <span>by <small class="author">{escape(q.author.name)}</small> '
        f'<a href="/author/{q.author.slug}/">(about)</a></span>\n'
        f'  <div class="tags">Tags:\n{tags}\n  </div>\n</div>'
    )


class Quotes(Leaf):
    """/quotes/ -> 302 /quotes/page/1/ ; /quotes/page/N/."""

    def render_GET(self, request: Request) -> bytes:
        segs = segments(request)
        if not segs:
            return redirect(request, "/quotes/page/1/")
        if len(segs) != 2 or segs[0] != "page" or not segs[1].isdigit():
            return not_found(request)
        n = int(segs[1])
        if not 1 <= n <= c.QUOTE_PAGES:
            return not_found(request)
        quotes = [q for q in c.QUOTES if q.page == n]
        body = [f'<h1>Quotes to Scrape</h1>\n<p class="page-number">Page {n}</p>']
        body += [_quote_html(q) for q in quotes]
        body.append('<nav><ul class="pager">')
        if n > 1:
            body.append(f'<li class="previous"><a href="/quotes/page/{n - 1}/">Previous</a></li>')
        if n < c.QUOTE_PAGES:
            body.append(f'<li class="next"><a href="/quotes/page/{n + 1}/">Next</a></li>')
        body.append("</ul></nav>")
        return send_html(request, f"Quotes to Scrape - page {n}", "\n".join(body))


class Authors(Leaf):
    def render_GET(self, request: Request) -> bytes:
        segs = segments(request)
        a = c.AUTHOR_BY_SLUG.get(segs[0]) if len(segs) == 1 else None
        if a is None:
            return not_found(request)
        body = (
            f'<div class="author-details">\n<h3 class="author-title">{escape(a.name)}</h3>\n'
            f'<p><strong>Born:</strong> <span class="author-born-date">{a.born_date}</span> '
            f'<span class="author-born-location">{escape(a.born_location)}</span></p>\n'
            f'<div class="author-description">{escape(a.description)}</div>\n</div>'
        )
        return send_html(request, f"Quotes to Scrape - {a.name}", body)


class Tags(Leaf):
    def render_GET(self, request: Request) -> bytes:
        segs = segments(request)
        if len(segs) != 1 or segs[0] not in c.TAGS:
            return not_found(request)
        quotes = [q for q in c.QUOTES if segs[0] in q.tags]
        body = f"<h1>Tag: {segs[0]}</h1>\n" + "\n".join(_quote_html(q) for q in quotes)
        return send_html(request, f"Quotes tagged {segs[0]}", body)


class Catalog(Leaf):
    """/catalog/ ; /catalog/<cat>/ ; /catalog/<cat>/<sub>/?page=N."""

    def render_GET(self, request: Request) -> bytes:
        segs = segments(request)
        if not request.path.endswith(b"/"):  # relative links need the trailing slash
            q = request.uri.partition(b"?")[2].decode()
            return redirect(request, request.path.decode() + "/" + (f"?{q}" if q else ""), 301)
        if not segs:
            links = "\n".join(
                f'<li><a class="category" href="{cat.path}">{cat.name}</a></li>'
                for cat in c.CATEGORIES
            )
            return send_html(request, "Catalog", f"<h1>Catalog</h1>\n<ul>\n{links}\n</ul>")
        cat = c.CATEGORY_BY_SLUG.get("/".join(segs))
        if cat is None:
            return not_found(request)
        if cat.children:  # path-relative links to subcategories
            links = "\n".join(
                f'<li><a class="category" href="{sub.slug.rsplit("/", 1)[1]}/">{sub.name}</a></li>'
                for sub in cat.children
            )
            return send_html(
                request, f"Catalog - {cat.name}", f"<h1>{cat.name}</h1>\n<ul>\n{links}\n</ul>"
            )
        pages = c.category_pages(cat)
        n = int_arg(request, "page", 1)
        if not 1 <= n <= pages:
            return not_found(request)
        start = (n - 1) * c.PRODUCTS_PER_PAGE
        items = [
            f'<div class="product"><a class="title" href="{p.path}">{escape(p.name)}</a>'
            f'<p class="price">{p.price}</p><img src="{p.image}" alt="{escape(p.name)}"></div>'
            for p in cat.products[start : start + c.PRODUCTS_PER_PAGE]
        ]
        pager = ['<ul class="pager">']
        if n < pages:
            pager.append(f'<li class="next"><a href="?page={n + 1}">Next</a></li>')
        pager.append("</ul>")
        body = (
            f'<h1>{cat.name}</h1>\n<p class="page-number">Page {n} of {pages}</p>\n'
            + "\n".join(items)
            + "\n"
            + "".join(pager)
        )
        return send_html(request, f"Catalog - {cat.name} - page {n}", body)


class Products(Leaf):
    def render_GET(self, request: Request) -> bytes:
        segs = segments(request)
        p = c.PRODUCTS.get(int(segs[0])) if len(segs) == 1 and segs[0].isdigit() else None
        if p is None:
            return not_found(request)
        body = (
            f'<div class="product-page">\n<h1>{escape(p.name)}</h1>\n'
            f'<p class="price">{p.price}</p>\n<p>SKU: <span class="sku">{p.sku}</span></p>\n'
            f'<img src="{p.image}" alt="{escape(p.name)}">\n'
            f'<div class="description">{escape(p.description)}</div>\n'
            f'<a class="back" href="/catalog/{p.category}/">Back</a>\n</div>'
        )
        return send_html(request, p.name, body)


class Truth(Leaf):
    def __init__(self, gen_pages: int) -> None:
        super().__init__()
        self.gen_pages = gen_pages

    def render_GET(self, request: Request) -> bytes:
        segs = segments(request)
        name = segs[0] if len(segs) == 1 else ""
        data: Any
        if name == "quotes":
            data = c.truth_quotes()
        elif name == "authors":
            data = c.truth_authors()
        elif name == "catalog":
            data = c.truth_catalog()
        elif name == "gen":
            data = c.truth_gen(self.gen_pages)
        else:
            return not_found(request)
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(data, ensure_ascii=False).encode()


class Gen(Leaf):
    """/gen/<i>.html: prebuilt pages for throughput tests; /gen/~<token>/<i>.html the same
    pages with their links under /gen/~<token>/ (one test's own crawl)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.pages: list[bytes] = []
        for i in range(n):
            links = "\n".join(
                f'<li><a href="/gen/{j}.html">Page {j}</a></li>' for j in c.gen_links(i, n)
            )
            body = (
                f'<div class="item"><h2>Item {i}</h2><span class="price">{c.gen_price(i)}'
                f"</span></div>\n<ul>\n{links}\n</ul>"
            )
            self.pages.append(page(f"Generated page {i}", body))

    def render_GET(self, request: Request) -> bytes:
        segs = request.postpath or []
        if len(segs) == 2 and segs[0].startswith(b"~") and segs[1].endswith(b".html"):
            # /gen/~<token>/<i>.html: the same page, its links under the same token, so that a
            # test can tell its own crawl's requests in the shared request log.
            stem = segs[1][:-5]
            if stem.isdigit() and int(stem) < len(self.pages):
                request.setHeader(b"content-type", b"text/html; charset=utf-8")
                return self.pages[int(stem)].replace(b'href="/gen/',
                                                     b'href="/gen/' + segs[0] + b"/")
        if len(segs) == 1 and segs[0].endswith(b".html"):
            stem = segs[0][:-5]
            if stem.isdigit() and int(stem) < len(self.pages):
                request.setHeader(b"content-type", b"text/html; charset=utf-8")
                return self.pages[int(stem)]
        if not segs or segs == [b""]:
            return send_html(request, "Generated pages", '<a href="/gen/0.html">Start</a>')
        return not_found(request)
