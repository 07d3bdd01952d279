"""The demo shop: a small site on 127.0.0.1 for the spider examples, the README's worked
examples and ``python -m crawler demo --serve``.

- ``/`` links to the catalogue, the news, the login page and the JSON API, and features a few
  products (which the catalogue lists again: duplicates for a pipeline to drop);
- ``/catalog/1`` .. ``/catalog/5``: six products each (``li.product[data-sku] a``), an
  ``a.next`` link to the next page;
- ``/product/N``: ``h1.name``, ``p.price`` ("$12.50"), ``p.description``, a category link;
- ``/api/products?page=N``: the same products as JSON, ``{"products": [...], "next": URL}``;
- ``/sitemap.xml`` lists ``/news/1`` .. ``/news/3`` (``h1``, ``meta[name=author]``,
  ``time[datetime]``);
- ``/app``: the catalogue as a page built by script (an empty ``div#app`` that ``/app.js`` fills
  from the JSON API): a plain fetch finds no product there, ``--render auto`` finds them all;
- ``/login``: a form with a CSRF token in a hidden field, tied to a ``session`` cookie;
  posting it with user ``demo`` and password ``demo`` logs the session in and redirects to
  ``/account``, which lists ``/orders/1`` .. ``/orders/4``. Without the session those
  redirect to ``/login``.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
from collections.abc import Iterator

from aiohttp import web

from crawler.cli.testsite import ServerThread

PAGES = 5
PER_PAGE = 6
PRODUCTS = PAGES * PER_PAGE
ORDERS = 4
USER = PASSWORD = "demo"
CATEGORIES = ("books", "games", "tools")
_FEATURED = (1, 2, 3)


def _product(n: int) -> dict[str, object]:
    return {"id": n, "sku": f"{CATEGORIES[n % 3][0].upper()}{n}", "name": f"Widget {n}",
            "price": round(n * 1.5 + 0.5, 2), "category": CATEGORIES[n % 3]}


def _page(title: str, body: str) -> web.Response:
    html = (f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
            f'<body><nav><a href="/">Home</a> <a href="/catalog/1">Catalogue</a> <a href="/login">Log in</a></nav>'
            f"<main>{body}</main><footer>Demo shop</footer></body></html>")
    return web.Response(text=html, content_type="text/html")


def _item(n: int) -> str:
    p = _product(n)
    return f'<li class="product" data-sku="{p["sku"]}"><a href="/product/{n}">{p["name"]}</a></li>'


async def _home(request: web.Request) -> web.Response:
    featured = "".join(_item(n) for n in _FEATURED)
    return _page("Demo shop", f'<h1>Demo shop</h1><ul class="featured">{featured}</ul>'
                              '<p><a href="/news/1">News</a> <a href="/api/products?page=1">API</a> '
                              '<a href="/app">The shop as an app</a></p>')


APP_JS = """
async function load(url) {
  const items = [];
  while (url) {
    const page = await (await fetch(url)).json();
    items.push(...page.products);
    url = page.next;
  }
  document.getElementById('app').innerHTML = '<h1>Catalogue (built by script)</h1><ul>'
    + items.map(p => '<li class="product" data-sku="' + p.sku + '"><a href="/product/' + p.id + '">'
                     + p.name + '</a></li>').join('') + '</ul>';
}
load('/api/products?page=1');
"""


async def _app(request: web.Request) -> web.Response:
    return web.Response(text='<!doctype html><html><head><meta charset="utf-8"><title>Demo shop app</title>'
                             '<script src="/app.js" defer></script></head><body><div id="app"></div></body></html>',
                        content_type="text/html")


async def _app_js(request: web.Request) -> web.Response:
    return web.Response(text=APP_JS, content_type="application/javascript")


async def _catalog(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    if not 1 <= n <= PAGES:
        raise web.HTTPNotFound()
    first = (n - 1) * PER_PAGE + 1
    items = "".join(_item(i) for i in range(first, first + PER_PAGE))
    nxt = f'<a class="next" href="/catalog/{n + 1}">Next page</a>' if n < PAGES else ""
    return _page(f"Catalogue, page {n}", f"<h1>Catalogue</h1><ul>{items}</ul>{nxt}")


async def _product_page(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    if not 1 <= n <= PRODUCTS:
        raise web.HTTPNotFound()
    p = _product(n)
    return _page(str(p["name"]), f'<h1 class="name">{p["name"]}</h1><p class="price">${p["price"]:.2f}</p>'
                                 f'<p class="description">A fine widget, number {n}.</p>'
                                 f'<a class="category" href="/category/{p["category"]}">{p["category"]}</a>')


async def _category(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in CATEGORIES:
        raise web.HTTPNotFound()
    items = "".join(_item(n) for n in range(1, PRODUCTS + 1) if _product(n)["category"] == name)
    return _page(name.title(), f"<h1>{name.title()}</h1><ul>{items}</ul>")


async def _api(request: web.Request) -> web.Response:
    try:
        n = int(request.query.get("page", "1"))
    except ValueError:
        raise web.HTTPBadRequest(text="page must be a number") from None
    first = (n - 1) * PER_PAGE + 1
    products = [_product(i) for i in range(first, first + PER_PAGE) if 1 <= i <= PRODUCTS]
    nxt = f"/api/products?page={n + 1}" if n < PAGES else None
    return web.json_response({"page": n, "products": products, "next": nxt})


async def _sitemap(request: web.Request) -> web.Response:
    base = f"http://{request.host}"
    urls = "".join(f"<url><loc>{base}/news/{i}</loc><lastmod>2026-11-0{i}</lastmod></url>" for i in (1, 2, 3))
    return web.Response(text=f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>',
                        content_type="application/xml")


async def _news(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    if not 1 <= n <= 3:
        raise web.HTTPNotFound()
    return _page(f"Story {n}", f'<meta name="author" content="Ann {n}"><h1>Story {n}</h1>'
                               f'<time datetime="2026-11-0{n}T08:00:00Z">November {n}</time><p>News of the shop.</p>')


class _Sessions:
    """Sessions by cookie: each holds its CSRF token and whether it logged in."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        self.logged_in: set[str] = set()

    def of(self, request: web.Request) -> str | None:
        sid = request.cookies.get("session")
        return sid if sid in self.tokens else None

    async def login_form(self, request: web.Request) -> web.Response:
        sid = self.of(request) or secrets.token_hex(8)
        token = self.tokens.setdefault(sid, secrets.token_hex(8))
        response = _page("Log in", '<h1>Log in</h1><form id="login" action="/login" method="post">'
                                   f'<input type="hidden" name="csrf_token" value="{token}">'
                                   '<input name="username"> <input type="password" name="password">'
                                   '<button type="submit" name="action" value="login">Log in</button></form>')
        response.set_cookie("session", sid, httponly=True)
        return response

    async def login(self, request: web.Request) -> web.Response:
        sid = self.of(request)
        form = await request.post()
        if sid is None or form.get("csrf_token") != self.tokens[sid]:
            raise web.HTTPForbidden(text="missing or wrong CSRF token (or no session cookie)")
        if form.get("username") != USER or form.get("password") != PASSWORD:
            return _page("Log in", '<h1>Log in</h1><p class="error">Wrong user or password.</p>')
        self.logged_in.add(sid)
        raise web.HTTPSeeOther("/account")

    def _member(self, request: web.Request) -> None:
        if self.of(request) not in self.logged_in:
            raise web.HTTPFound("/login")

    async def account(self, request: web.Request) -> web.Response:
        self._member(request)
        orders = "".join(f'<li><a class="order" href="/orders/{i}">Order {i}</a></li>' for i in range(1, ORDERS + 1))
        return _page("Your account", f'<h1>Welcome, {USER}</h1><ul class="orders">{orders}</ul>')

    async def order(self, request: web.Request) -> web.Response:
        self._member(request)
        n = int(request.match_info["n"])
        if not 1 <= n <= ORDERS:
            raise web.HTTPNotFound()
        return _page(f"Order {n}", f'<h1>Order {n}</h1><p class="total">${n * 10 + 0.99:.2f}</p>')


def shop_app() -> web.Application:
    """The demo shop as an aiohttp application (each one its own sessions)."""
    sessions = _Sessions()
    app = web.Application()
    app.router.add_get("/", _home)
    app.router.add_get("/catalog/{n:\\d+}", _catalog)
    app.router.add_get("/product/{n:\\d+}", _product_page)
    app.router.add_get("/category/{name}", _category)
    app.router.add_get("/api/products", _api)
    app.router.add_get("/app", _app)
    app.router.add_get("/app.js", _app_js)
    app.router.add_get("/sitemap.xml", _sitemap)
    app.router.add_get("/news/{n:\\d+}", _news)
    app.router.add_get("/login", sessions.login_form)
    app.router.add_post("/login", sessions.login)
    app.router.add_get("/account", sessions.account)
    app.router.add_get("/orders/{n:\\d+}", sessions.order)
    app.router.add_get("/robots.txt", _robots)
    return app


async def _robots(request: web.Request) -> web.Response:
    return web.Response(text="User-agent: *\nAllow: /\n")


@contextlib.contextmanager
def demo_shop(url: str | None = None) -> Iterator[str]:
    """The root URL of a demo shop: ``url`` when one is given (a shop someone serves already),
    else a new one served from a thread for as long as the block runs."""
    if url:
        yield url
        return
    with ServerThread(shop_app()) as server:
        print(f"serving the demo shop at {server.url}", file=sys.stderr)
        yield server.url


__all__ = ["ORDERS", "PASSWORD", "PRODUCTS", "USER", "demo_shop", "shop_app"]
