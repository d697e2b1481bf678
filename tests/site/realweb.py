# mypy: disable-error-code="no-untyped-call"
"""The real web on the test site (issue 15): JSON endpoints, sitemaps, a login form with a
CSRF token, articles with boilerplate. The ground truth is this module's data, which the
tests import.

    /api/                       {"listings": ["/api/products?page=1"]}
    /api/products?page=N        {"products": [{"name", "price", "url"}], "next": url | null}
    /api/product/<id>           {"id", "sku", "tags": [...]}
    /web/robots.txt             Sitemap: /web/sitemap-index.xml
    /web/sitemap-index.xml      -> /web/sitemap-articles.xml.gz (gzipped), /web/sitemap-pages.xml
    /web/article/<slug>         an article between nav, ads, cookie banner and footer
    /web/page/<n>               a plain page (listed in the plain sitemap)
    /login                      GET: form with a CSRF token (session cookie); POST: log in
    /members/, /members/<n>     items whose `secret` shows only to a logged-in session
"""

from __future__ import annotations

import gzip
import json
import secrets
from html import escape
from typing import Any

from twisted.web.server import Request

from .htmlutil import Leaf, arg, int_arg, not_found, redirect, segments, send_html

PRODUCTS = [{"id": i, "name": f"Gadget {i}", "price": 10 + i * 1.5, "sku": f"SKU-{i:04d}",
             "tags": [f"t{i % 3}", f"t{i % 5}"]} for i in range(1, 13)]
PER_PAGE = 5
USERNAME, PASSWORD = "login-user-5513", "correct-horse-battery-9472"
MEMBER_ITEMS = [{"n": n, "name": f"Member item {n}", "secret": f"vault-code-{n * 37}"}
                for n in range(1, 5)]
PLAIN_PAGES = [1, 2, 3]

ARTICLES = {
    "first-steps": {
        "title": "First steps with crawling",
        "html": ('<p>Crawling starts with <strong>one URL</strong> and a '
                 '<a href="/web/article/second-look">second article</a>.</p>\n'
                 "<h2>Why it matters</h2>\n<ul><li>Fresh data</li><li>Less manual work</li>"
                 "</ul>\n<p>Read the <a href=\"../page/1\">first page</a> too.</p>"),
    },
    "second-look": {
        "title": "A second look",
        "html": ("<p>Boilerplate is everything around the article: menus, banners, "
                 "<em>footers</em>.</p>\n<p>Main content is what remains.</p>"),
    },
}


def article_markdown(slug: str, base: str) -> str:
    """The ground truth: the article's main content as Markdown, links absolute."""
    if slug == "first-steps":
        return (f"# First steps with crawling\n\nCrawling starts with **one URL** and a "
                f"[second article]({base}/web/article/second-look).\n\n## Why it matters\n\n"
                f"- Fresh data\n- Less manual work\n\nRead the [first page]({base}/web/page/1) "
                "too.")
    return ("# A second look\n\nBoilerplate is everything around the article: menus, banners, "
            "*footers*.\n\nMain content is what remains.")


def _json(request: Request, data: Any) -> bytes:
    request.setHeader(b"content-type", b"application/json")
    return json.dumps(data).encode()


class Api(Leaf):
    def render_GET(self, request: Request) -> bytes:
        segs = segments(request)
        if not segs:
            return _json(request, {"listings": ["/api/products?page=1"]})
        if segs == ["products"]:
            n = int_arg(request, "page", 1)
            chunk = PRODUCTS[(n - 1) * PER_PAGE: n * PER_PAGE]
            more = n * PER_PAGE < len(PRODUCTS)
            return _json(request, {
                "products": [{"name": p["name"], "price": p["price"],
                              "url": f"/api/product/{p['id']}"} for p in chunk],
                "next": f"/api/products?page={n + 1}" if more else None})
        if len(segs) == 2 and segs[0] == "product" and segs[1].isdigit():
            found = [p for p in PRODUCTS if p["id"] == int(segs[1])]
            if found:
                p = found[0]
                return _json(request, {"id": p["id"], "sku": p["sku"], "tags": p["tags"]})
        return not_found(request)


def _urlset(base: str, paths: list[str]) -> bytes:
    urls = "".join(f"<url><loc>{base}{path}</loc></url>" for path in paths)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns='
            f'"http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>').encode()


class Web(Leaf):
    def render_GET(self, request: Request) -> bytes:
        segs = segments(request)
        base = f"http://{request.getHeader('host')}"
        if segs == ["robots.txt"]:
            request.setHeader(b"content-type", b"text/plain")
            return f"User-agent: *\nAllow: /\nSitemap: {base}/web/sitemap-index.xml\n".encode()
        if segs == ["sitemap-index.xml"]:
            maps = "".join(f"<sitemap><loc>{base}/web/{name}</loc></sitemap>"
                           for name in ("sitemap-articles.xml.gz", "sitemap-pages.xml"))
            request.setHeader(b"content-type", b"application/xml")
            return ('<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns='
                    f'"http://www.sitemaps.org/schemas/sitemap/0.9">{maps}</sitemapindex>'
                    ).encode()
        if segs == ["sitemap-articles.xml.gz"]:
            request.setHeader(b"content-type", b"application/gzip")
            return gzip.compress(_urlset(base, [f"/web/article/{s}" for s in ARTICLES]))
        if segs == ["sitemap-pages.xml"]:
            request.setHeader(b"content-type", b"application/xml")
            return _urlset(base, [f"/web/page/{n}" for n in PLAIN_PAGES])
        if len(segs) == 2 and segs[0] == "article" and segs[1] in ARTICLES:
            a = ARTICLES[segs[1]]
            body = (
                '<header class="site"><a href="/">Home</a> <a href="/web/about">About</a>'
                '</header>\n<nav><ul><li><a href="/web/page/1">Pages</a></li></ul></nav>\n'
                '<div class="cookie-banner">We use cookies. <button>OK</button></div>\n'
                '<div class="ad">Buy the premium plan!</div>\n'
                f'<main><article><header><h1>{escape(a["title"])}</h1></header>\n{a["html"]}\n'
                '<aside class="related">Related: nothing</aside></article></main>\n'
                '<footer>(c) 2026 Test site - <a href="/web/privacy">Privacy</a></footer>'
            )
            return send_html(request, a["title"], body)
        if len(segs) == 2 and segs[0] == "page" and segs[1].isdigit():
            return send_html(request, f"Page {segs[1]}",
                             f'<h1 class="title">Plain page {segs[1]}</h1><p>Text.</p>')
        return not_found(request)


class Accounts:
    """Sessions by cookie: their CSRF token, and whether they logged in."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        self.logged_in: set[str] = set()
        self.attempts: list[dict[str, str]] = []

    def session(self, request: Request) -> str:
        sid = (request.getCookie(b"sid") or b"").decode()
        if sid not in self.tokens:
            sid = secrets.token_hex(8)
            self.tokens[sid] = secrets.token_hex(12)
            request.addCookie(b"sid", sid.encode(), path=b"/", httpOnly=True)
        return sid


ACCOUNTS = Accounts()


class Login(Leaf):
    def render_GET(self, request: Request) -> bytes:
        sid = ACCOUNTS.session(request)
        body = ('<h1>Sign in</h1>\n<form id="search" action="/members/" method="get">'
                '<input name="q"></form>\n'
                '<form id="login" action="/login" method="post">\n'
                f'<input type="hidden" name="csrf_token" value="{ACCOUNTS.tokens[sid]}">\n'
                '<input name="username"> <input type="password" name="password">\n'
                '<button type="submit">Sign in</button>\n</form>')
        return send_html(request, "Sign in", body)

    def render_POST(self, request: Request) -> bytes:
        sid = (request.getCookie(b"sid") or b"").decode()
        token, user, password = (arg(request, n) for n in ("csrf_token", "username", "password"))
        if sid in ACCOUNTS.tokens and token == ACCOUNTS.tokens[sid] and (
                user, password) == (USERNAME, PASSWORD):
            ACCOUNTS.logged_in.add(sid)
            return redirect(request, "/members/")
        return send_html(request, "Sign in", '<p class="error">Wrong credentials or token</p>',
                         403 if token != ACCOUNTS.tokens.get(sid) else 200)


class Members(Leaf):
    def render_GET(self, request: Request) -> bytes:
        segs = segments(request)
        logged_in = (request.getCookie(b"sid") or b"").decode() in ACCOUNTS.logged_in
        account = '<a href="/logout">Log out</a>' if logged_in else '<a href="/login">Log in</a>'
        if not segs:
            links = "".join(f'<li><a class="item" href="/members/{i["n"]}">{i["name"]}</a></li>'
                            for i in MEMBER_ITEMS)
            return send_html(request, "Members", f"{account}<h1>Members</h1><ul>{links}</ul>")
        found = [i for i in MEMBER_ITEMS if segs == [str(i["n"])]]
        if not found:
            return not_found(request)
        item = found[0]
        secret = f'<p class="secret">{item["secret"]}</p>' if logged_in else ""
        return send_html(request, str(item["name"]),
                         f'{account}<h1 class="name">{item["name"]}</h1>{secret}')
