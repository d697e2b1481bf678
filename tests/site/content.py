"""Deterministic content of the test site: quotes, authors, catalog, generated pages.

Everything here is plain data built once at import time; ``truth_*`` functions return the
ground truth served under ``/__truth__/<name>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

QUOTE_PAGES = 5
QUOTES_PER_PAGE = 10


@dataclass(frozen=True)
class Author:
    slug: str
    name: str  # exactly as displayed in <small class="author">
    born_date: str
    born_location: str  # raw, as in the HTML (some have surrounding whitespace)
    description: str  # raw, as in the HTML (mixed case, whitespace)


AUTHORS: list[Author] = [
    Author(
        "albert-einstein",
        "Albert Einstein",
        "March 14, 1879",
        "in Ulm, Germany",
        "  In 1879, Albert Einstein was born in Ulm, GERMANY.  ",
    ),
    Author(
        "jane-austen",
        "Jane Austen",
        "December 16, 1775",
        "  in Steventon Rectory, Hampshire, The United Kingdom  ",
        "Jane Austen was an English novelist known for SIX major novels.",
    ),
    Author(
        "mark-twain",
        "Mark Twain",
        "November 30, 1835",
        "in Florida, Missouri, The United States",
        "\n    Samuel Langhorne Clemens, better known by his pen name Mark Twain.\n  ",
    ),
    Author(
        "marilyn-monroe",
        "Marilyn Monroe",
        "June 01, 1926",
        "in The United States",
        "Marilyn Monroe was an American actress, model, and singer.",
    ),
    Author(
        "andre-gide",
        "André Gide",
        "November 22, 1869",
        "in Paris, France",
        "André Paul Guillaume Gide was a French author and winner of the Nobel Prize.",
    ),
    Author(
        "thomas-a-edison",
        "Thomas A. Edison",
        "February 11, 1847",
        "in Milan, Ohio, The United States",
        "thomas alva edison was an american inventor.",
    ),
    Author(
        "eleanor-roosevelt",
        "Eleanor Roosevelt",
        "October 11, 1884",
        "in The United States",
        "Anna Eleanor Roosevelt was an American political figure.",
    ),
    Author(
        "steve-martin",
        "Steve Martin",
        "August 14, 1945",
        "in Waco, Texas, The United States",
        'Stephen Glenn "Steve" Martin is an American actor & comedian.',
    ),
]
AUTHOR_BY_SLUG: dict[str, Author] = {a.slug: a for a in AUTHORS}

TAGS = [
    "life",
    "love",
    "inspirational",
    "humor",
    "books",
    "truth",
    "friendship",
    "change",
    "world",
    "simile",
]

_SUBJECTS = [
    "The world",
    "A good book",
    "Love",
    "Every day",
    "Friendship",
    "Truth",
    "Change",
    "A kind word",
    "Life",
    "Imperfection",
]
_VERBS = ["is", "becomes", "remains", "feels like", "can be"]
_OBJECTS = [
    "a journey without maps",
    "the best teacher",
    "a quiet kind of courage",
    "the only way forward",
    "stranger than fiction",
    "worth every mistake",
    "a song half remembered",
]


@dataclass(frozen=True)
class Quote:
    index: int
    page: int
    text: str  # normalised text, including the curly quotes
    raw_text: str  # exactly as inside <span class="text">
    author: Author
    tags: list[str] = field(default_factory=list)


def _build_quotes() -> list[Quote]:
    quotes: list[Quote] = []
    for i in range(QUOTE_PAGES * QUOTES_PER_PAGE):
        text = (
            f"\u201c{_SUBJECTS[i % 10]} {_VERBS[(i * 3) % 5]} "
            f"{_OBJECTS[(i * 5 + i // 10) % 7]} (no. {i + 1}).\u201d"
        )
        raw = f"  {text}\n  " if i % 7 == 3 else text  # some with surrounding whitespace
        author = AUTHORS[(i * 3 + i // 8) % len(AUTHORS)]
        ntags = 1 + i % 3
        tags = [TAGS[(i + k * 4) % len(TAGS)] for k in range(ntags)]
        quotes.append(Quote(i, i // QUOTES_PER_PAGE + 1, text, raw, author, tags))
    return quotes


QUOTES = _build_quotes()


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    price_cents: int
    category: str  # "books/fiction"
    description: str  # raw (mixed case, whitespace)

    @property
    def price(self) -> str:
        return f"$ {self.price_cents // 100}.{self.price_cents % 100:02d}"

    @property
    def sku(self) -> str:
        return f"SKU-{self.id:05d}"

    @property
    def path(self) -> str:
        return f"/product/{self.id}/"

    @property
    def image(self) -> str:
        return f"/img/{self.id}.png"


@dataclass
class Category:
    slug: str  # path below /catalog/, e.g. "books/fiction"
    name: str
    children: list[Category] = field(default_factory=list)
    products: list[Product] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"/catalog/{self.slug}/"


PRODUCTS_PER_PAGE = 5

# (slug, name, children [(slug, name, n_products)] or n_products)
_CATALOG_SPEC: list[tuple[str, str, list[tuple[str, str, int]] | int]] = [
    ("books", "Books", [("fiction", "Fiction", 12), ("science", "Science", 8)]),
    ("electronics", "Electronics", [("phones", "Phones", 10), ("laptops", "Laptops", 6)]),
    ("garden", "Garden", 14),
]
_ADJ = ["Red", "Tiny", "Classic", "Modern", "Vintage", "Smart", "Solid", "Bright"]


def _build_catalog() -> tuple[list[Category], dict[int, Product], dict[str, Category]]:
    cats: list[Category] = []
    products: dict[int, Product] = {}
    by_slug: dict[str, Category] = {}
    next_id = 101

    def make_products(cat: Category, n: int) -> None:
        nonlocal next_id
        for _ in range(n):
            pid = next_id
            next_id += 1
            noun = cat.name.rstrip("s")
            p = Product(
                pid,
                f"{_ADJ[pid % len(_ADJ)]} {noun} {pid}",
                499 + (pid * 137) % 9000,
                cat.slug,
                f"  The {_ADJ[pid % len(_ADJ)].upper()} {noun.lower()} number {pid}. "
                f"Great Value!  ",
            )
            cat.products.append(p)
            products[pid] = p

    for slug, name, spec in _CATALOG_SPEC:
        cat = Category(slug, name)
        by_slug[slug] = cat
        if isinstance(spec, int):
            make_products(cat, spec)
        else:
            for sslug, sname, n in spec:
                sub = Category(f"{slug}/{sslug}", sname)
                by_slug[sub.slug] = sub
                make_products(sub, n)
                cat.children.append(sub)
        cats.append(cat)
    return cats, products, by_slug


CATEGORIES, PRODUCTS, CATEGORY_BY_SLUG = _build_catalog()


def category_pages(cat: Category) -> int:
    return max(1, -(-len(cat.products) // PRODUCTS_PER_PAGE))


def gen_links(i: int, n: int) -> list[int]:
    """Targets of the 10 links on /gen/<i>.html."""
    return [(i * 7 + k) % n for k in range(1, 11)]


def gen_price(i: int) -> str:
    return f"$ {(i * 31) % 1000}.{i % 100:02d}"


# --- ground truth -------------------------------------------------------------------------


def truth_quotes() -> list[dict[str, Any]]:
    return [
        {
            "text": q.text,
            "raw_text": q.raw_text,
            "author": q.author.name,
            "author_slug": q.author.slug,
            "author_path": f"/author/{q.author.slug}/",
            "tags": q.tags,
            "page": q.page,
            "page_path": f"/quotes/page/{q.page}/",
        }
        for q in QUOTES
    ]


def truth_authors() -> dict[str, dict[str, Any]]:
    return {
        a.slug: {
            "name": a.name,
            "born_date": a.born_date,
            "born_location": a.born_location.strip(),
            "born_location_raw": a.born_location,
            "description": " ".join(a.description.split()),
            "description_raw": a.description,
            "path": f"/author/{a.slug}/",
        }
        for a in AUTHORS
    }


def _cat_truth(c: Category) -> dict[str, Any]:
    return {
        "slug": c.slug,
        "name": c.name,
        "path": c.path,
        "pages": category_pages(c),
        "subcategories": [_cat_truth(s) for s in c.children],
        "products": [p.id for p in c.products],
    }


def truth_catalog() -> dict[str, Any]:
    return {
        "categories": [_cat_truth(c) for c in CATEGORIES],
        "products": [
            {
                "id": p.id,
                "path": p.path,
                "name": p.name,
                "price": p.price,
                "price_value": p.price_cents / 100,
                "sku": p.sku,
                "description": " ".join(p.description.split()),
                "description_raw": p.description,
                "image": p.image,
                "category": p.category,
            }
            for p in PRODUCTS.values()
        ],
    }


def truth_gen(n: int) -> dict[str, Any]:
    return {
        "pages": n,
        "link_formula": "(i*7+k) % pages for k in 1..10",
        "items": [
            {"path": f"/gen/{i}.html", "title": f"Item {i}", "price": gen_price(i)}
            for i in range(n)
        ],
    }
