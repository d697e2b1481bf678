# mypy: disable-error-code="no-untyped-call"
"""The Crawlplane test site: ``python tests/site/server.py [--port 0] [--gen-pages 5000]``.

Prints the site URL on the first stdout line and a JSON object of proxy URLs (and the same
site's https URL, "site_tls") on the second, then serves on 127.0.0.1 until killed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, cast

if __package__ in (None, ""):  # run as a script: import as tests.site.*, don't shadow stdlib
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [x for x in sys.path if x and Path(x).resolve() != Path(_here)]
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from twisted.internet import reactor as _reactor
from twisted.web.resource import IResource, Resource

from tests.site import behaviours as b
from tests.site import pages as p
from tests.site import proxy, realweb, tls
from tests.site import rendered as r
from tests.site.reqlog import LoggingSite, LogResource


def build_root(gen_pages: int) -> Resource:
    root = Resource()
    children: dict[str, Resource] = {
        "": p.Index(),
        "robots.txt": p.Robots(),
        "private": p.Private(),
        "quotes": p.Quotes(),
        "author": p.Authors(),
        "tag": p.Tags(),
        "catalog": p.Catalog(),
        "product": p.Products(),
        "__truth__": p.Truth(gen_pages),
        "gen": p.Gen(gen_pages),
        "redirect": b.Redirects(),
        "redirect-loop": b.RedirectLoop(),
        "image.png": b.Binary(b.PNG, b"image/png"),
        "img": b.Images(),
        "data.pdf": b.Binary(b.PDF, b"application/pdf"),
        "status": b.Status(),
        "slow": b.Slow(),
        "flaky": b.Flaky(),
        "cookies": b.Cookies(),
        "headers": b.Headers(),
        "big": b.Big(),
        "etag": b.ETag(),
        "links": b.Links(),
        "outbound": b.Outbound(),
        "rendered": r.Rendered(),
        "__log__": LogResource(),
        "api": realweb.Api(),
        "web": realweb.Web(),
        "login": realweb.Login(),
        "members": realweb.Members(),
    }
    for name, res in children.items():
        root.putChild(name.encode(), cast(IResource, res))
    return root


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--gen-pages", type=int, default=5000)
    args = ap.parse_args(argv)

    site = LoggingSite(build_root(args.gen_pages))
    tcp: Any = _reactor  # zope interfaces confuse mypy without its plugin
    port = tcp.listenTCP(args.port, site, interface="127.0.0.1")
    secure = tcp.listenSSL(0, site, tls.server_options(), interface="127.0.0.1")
    ok = tcp.listenTCP(0, proxy.forwarding_factory(), interface="127.0.0.1")
    auth = tcp.listenTCP(0, proxy.auth_forwarding_factory(), interface="127.0.0.1")
    forbidden = tcp.listenTCP(0, proxy.forbidden_factory(), interface="127.0.0.1")

    def url(listening: Any) -> str:
        return f"http://127.0.0.1:{listening.getHost().port}"

    proxies = {
        "proxy_ok": url(ok),
        "proxy_403": url(forbidden),
        "proxy_refused": f"http://127.0.0.1:{proxy.refused_port()}",
        "proxy_auth": url(auth).replace("http://", "http://user:pass@"),
        "site_tls": url(secure).replace("http://", "https://"),
    }
    sys.stdout.write(url(port) + "\n" + json.dumps(proxies) + "\n")
    sys.stdout.flush()
    # nothing else goes to stdout, so a parent that stops reading the pipe cannot block us
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    tcp.run()


if __name__ == "__main__":
    main()
