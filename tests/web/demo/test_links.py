"""The local demo's three pages link to each other for the same shop (web.demo.links): the
default demo shop with plain URLs, another demo shop keeping `?shop=` on every link, and each
page honouring it."""

from __future__ import annotations

import html
import re

import pytest

from loyalty.settings import Settings
from loyalty.shops.demo import DemoShop, seed_demo
from tests.web.demo.conftest import running

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

PAGES = {
    "/demo/admin": "Admin preview",
    "/demo/storefront": "Demo storefront",
    "/demo/shopify": "Local Shopify",
}


def demo_links(page: str) -> dict[str, str]:
    """label → href of the page's "Demo pages" navigation."""
    nav = re.search(r'<nav class="[^"]*" aria-label="Demo pages">(.*?)</nav>', page, re.S)
    assert nav is not None, page
    found = re.findall(r'<a href="([^"]+)">([^<]+)</a>', nav.group(1))
    return {label: html.unescape(href) for href, label in found}


@pytest.mark.parametrize("here", list(PAGES))
async def test_each_page_links_to_the_other_two(
    here: str, demo: Settings, seeded: DemoShop
) -> None:
    async with running(demo) as http:
        page = await http.get(here)
    assert page.status_code == 200
    assert demo_links(page.text) == {label: path for path, label in PAGES.items() if path != here}


@pytest.mark.parametrize("here", list(PAGES))
async def test_another_demo_shop_is_kept_on_every_link(
    here: str, demo: Settings, seeded: DemoShop
) -> None:
    second = await seed_demo(domain="second.myshopify.com")
    async with running(demo) as http:
        page = await http.get(here, params={"shop": second.shop.domain})
        links = demo_links(page.text)
        followed = [await http.get(href) for href in links.values()]
    assert page.status_code == 200
    assert links == {
        label: f"{path}?shop=second.myshopify.com" for path, label in PAGES.items() if path != here
    }
    for answer in followed:  # each page opens for that shop, and links on for it
        assert answer.status_code == 200
        onward = demo_links(answer.text).values()
        assert onward and all(href.endswith("?shop=second.myshopify.com") for href in onward)
