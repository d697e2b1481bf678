# mypy: disable-error-code="no-untyped-call"
"""Pages whose content only a browser sees (rendering, engine/rendering.py): every item is
inserted by script, so a plain download finds none.

/rendered/page/N/     a listing of PER_PAGE products, items and the next link by script
/rendered/delayed/    DELAYED_ITEMS products, inserted DELAY_MS (or ?ms=) after load
/rendered/scroll/     an infinite scroll: SCROLL_BATCH products per scroll from the JSON API
/rendered/click/      CLICK_FIRST products, the rest after a click on button.more
/rendered/outbound/   one product, and an image on a forbidden host (?host=...&port=...)
/rendered/api/items?offset=&limit=   the JSON endpoint behind the scroll and the button
/rendered/probe.png   a small image whose requests the site logs
/rendered/redirect/?to=URL   a 302 to URL
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from twisted.web.server import Request

from .behaviours import PNG
from .htmlutil import Leaf, arg, int_arg, not_found, redirect, segments, send_html

PAGES = 3
PER_PAGE = 5
DELAYED_ITEMS = 4
DELAY_MS = 500
SCROLL_TOTAL = 35
SCROLL_BATCH = 10
CLICK_FIRST = 3
CLICK_TOTAL = 12


def product(i: int) -> dict[str, Any]:
    return {"name": f"Rendered product {i}", "price": f"{(i * 7) % 50 + 0.99:.2f}"}


def products(start: int, stop: int) -> list[dict[str, Any]]:
    return [product(i) for i in range(start, stop)]


def listing_truth() -> list[dict[str, Any]]:
    """Every product of /rendered/page/1..PAGES/, in order."""
    return products(0, PAGES * PER_PAGE)


# Inserts products (a JSON list) into ul#items as li.product with h2 and span.price.
ADD = """
function add(list) {
  var ul = document.getElementById('items');
  list.forEach(function (p) {
    var li = document.createElement('li'); li.className = 'product';
    li.innerHTML = '<h2></h2><span class="price"></span>';
    li.querySelector('h2').textContent = p.name;
    li.querySelector('.price').textContent = p.price;
    ul.appendChild(li);
  });
}
function load(offset, limit, total, done) {
  fetch('/rendered/api/items?offset=' + offset + '&limit=' + limit + '&total=' + total)
    .then(function (r) { return r.json(); }).then(function (d) { add(d.items); done(d); });
}
"""


def _script(code: str) -> str:
    return f"<script>{ADD}{code}</script>"


def _shell(request: Request, title: str, extra: str, code: str) -> bytes:
    body = f'<h1>{escape(title)}</h1>\n<ul id="items"></ul>\n{extra}\n{_script(code)}'
    return send_html(request, title, body)


class Rendered(Leaf):
    def render_GET(self, request: Request) -> Any:
        segs = segments(request)
        if len(segs) == 2 and segs[0] == "page" and segs[1].isdigit():
            return self.listing(request, int(segs[1]))
        if segs == ["delayed"]:
            data = json.dumps(products(100, 100 + DELAYED_ITEMS))
            delay = int_arg(request, "ms", DELAY_MS)
            return _shell(request, "Delayed", "",
                          f"setTimeout(function () {{ add({data}); }}, {delay});")
        if segs == ["scroll"]:
            code = f"""
var offset = 0, busy = false, total = {SCROLL_TOTAL};
function more() {{
  if (busy || offset >= total) return; busy = true;
  load(offset, {SCROLL_BATCH}, total, function (d) {{ offset += d.items.length; busy = false; }});
}}
more();
window.addEventListener('scroll', function () {{
  if (window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 10) more();
}});"""
            # tall items, so that a batch is more than a screen
            return _shell(request, "Scroll", "<style>li.product{height:200px}</style>", code)
        if segs == ["click"]:
            code = f"""
add({json.dumps(products(0, CLICK_FIRST))});
document.querySelector('button.more').addEventListener('click', function () {{
  load({CLICK_FIRST}, {CLICK_TOTAL - CLICK_FIRST}, {CLICK_TOTAL}, function () {{
    var done = document.createElement('p');
    done.className = 'done'; done.textContent = 'All loaded'; document.body.appendChild(done);
  }});
}});"""
            return _shell(request, "Click", '<button class="more">Load more</button>', code)
        if segs == ["outbound"]:
            host = escape(arg(request, "host") or "metadata.google.internal")
            port = int_arg(request, "port", 80)
            extra = (f'<img src="http://{host}:{port}/rendered/probe.png?forbidden=1">\n'
                     '<img src="/rendered/probe.png?allowed=1">')
            return _shell(request, "Outbound", extra, f"add({json.dumps(products(0, 1))});")
        if segs == ["api", "items"]:
            offset = max(0, int_arg(request, "offset", 0))
            total = max(0, int_arg(request, "total", SCROLL_TOTAL))
            limit = max(0, int_arg(request, "limit", SCROLL_BATCH))
            request.setHeader(b"content-type", b"application/json")
            items = products(offset, min(offset + limit, total))
            return json.dumps({"items": items, "total": total}).encode()
        if segs == ["redirect"]:  # a 302 to ?to=
            return redirect(request, arg(request, "to") or "/rendered/delayed/")
        if segs == ["probe.png"]:
            request.setHeader(b"content-type", b"image/png")
            return PNG
        return not_found(request)

    def listing(self, request: Request, n: int) -> bytes:
        if not 1 <= n <= PAGES:
            return not_found(request)
        data = json.dumps(products((n - 1) * PER_PAGE, n * PER_PAGE))
        code = f"add({data});"
        if n < PAGES:
            code += (f"document.getElementById('pager').innerHTML = "
                     f"'<a class=\"next\" href=\"/rendered/page/{n + 1}/\">Next</a>';")
        return _shell(request, f"Rendered page {n}", '<nav id="pager"></nav>', code)
