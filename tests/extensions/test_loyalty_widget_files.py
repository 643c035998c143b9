"""The theme app extension's files against the Shopify CLI's rules and our own: only the four
folders and their file types, the size limits, no external URLs, both languages complete, and
block schemas whose settings the merchant needs (shared/reference/shopify-platform.md §2)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from web.demo.liquid import EXTENSION, block_schema

ALLOWED = {  # CLI specifications/theme.ts
    "blocks": {".liquid"},
    "snippets": {".liquid"},
    "assets": {".js", ".css", ".json", ".png", ".jpg", ".jpeg", ".svg", ".wasm"},
    "locales": {".json"},
}
LIQUID_LIMIT = 500 * 1024
BUNDLE_LIMIT = 10 * 1024 * 1024
URL = re.compile(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)
# The referral share links: pages a shopper opens by a click (plain links, URL-encoded text),
# never a script, style or image the storefront loads.
SHARE_LINKS = (
    "https://wa.me/?text=",
    "https://x.com/intent/tweet?text=",
    "https://www.facebook.com/sharer/sharer.php?u=",
)
TRANSLATION = re.compile(r"'([a-z_.]+)'\s*\|\s*t\b")


def files() -> list[Path]:
    return [p for p in EXTENSION.rglob("*") if p.is_file()]


def leaves(tree: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in tree.items():
        path = f"{prefix}{key}"
        keys |= leaves(value, f"{path}.") if isinstance(value, dict) else {path}
    return keys


class TestLayout:
    def test_only_the_cli_folders_and_file_types(self) -> None:
        """Anything else is refused by `shopify app deploy`."""
        stray = [
            str(p.relative_to(EXTENSION))
            for p in files()
            if p.name != "shopify.extension.toml"
            and (
                len(p.relative_to(EXTENSION).parts) != 2
                or p.suffix not in ALLOWED.get(p.relative_to(EXTENSION).parts[0], set())
            )
        ]
        assert stray == []

    def test_within_the_size_limits(self) -> None:
        """All Liquid under 500 kB, the whole extension under 10 MB."""
        liquid = sum(p.stat().st_size for p in files() if p.suffix == ".liquid")
        assert liquid < LIQUID_LIMIT
        assert sum(p.stat().st_size for p in files()) < BUNDLE_LIMIT

    def test_nothing_is_loaded_from_another_host(self) -> None:
        """No CDN: blocks, snippets and assets name no external URL (comments aside)."""
        found = {}
        for path in files():
            if path.suffix in {".liquid", ".js", ".css"}:
                text = re.sub(
                    r"{%-?\s*comment.*?endcomment\s*-?%}", "", path.read_text(), flags=re.S
                )
                text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
                for link in SHARE_LINKS:
                    text = text.replace(f"'{link}", "'")
                if URL.search(text):
                    found[path.name] = URL.findall(text)
        assert found == {}


class TestLocales:
    @pytest.mark.parametrize("kind", ["", ".schema"])
    def test_french_has_every_english_key(self, kind: str) -> None:
        """The second language is complete, storefront strings and editor labels alike."""
        english = json.loads((EXTENSION / f"locales/en.default{kind}.json").read_text())
        french = json.loads((EXTENSION / f"locales/fr{kind}.json").read_text())
        assert leaves(french) == leaves(english)

    def test_every_translated_string_exists_in_english(self) -> None:
        """Each `'key' | t` in the Liquid names a storefront string."""
        english = leaves(json.loads((EXTENSION / "locales/en.default.json").read_text()))
        used = {
            key
            for path in files()
            if path.suffix == ".liquid"
            for key in TRANSLATION.findall(path.read_text())
        }
        plural_roots = {key.rsplit(".", 1)[0] for key in english}
        assert used and {k for k in used if k not in english and k not in plural_roots} == set()


class TestSchemas:
    def test_the_embed_and_the_three_app_blocks(self) -> None:
        """One app embed (body) and the "Ways to earn", "Points balance" and "Rewards" app
        blocks."""
        targets = {p.stem: block_schema(p.stem)["target"] for p in EXTENSION.glob("blocks/*")}
        assert targets == {
            "loyalty-launcher": "body",
            "ways-to-earn": "section",
            "points-balance": "section",
            "rewards": "section",
        }

    @pytest.mark.parametrize(
        "block", ["loyalty-launcher", "ways-to-earn", "points-balance", "rewards"]
    )
    def test_merchant_settings(self, block: str) -> None:
        """Colours and texts are settings; the proxy path defaults to /apps/loyalty; assets are
        the extension's own (the embed links its stylesheet in the body, out of the <head>)."""
        schema = block_schema(block)
        settings = {s["id"]: s for s in schema["settings"] if "id" in s}
        assert settings["proxy_path"]["default"] == "/apps/loyalty"
        assert {s["type"] for s in settings.values()} >= {"color", "text"}
        assert schema["javascript"] == "loyalty-widget.js"
        assert schema.get("stylesheet") == (
            None if block == "loyalty-launcher" else "loyalty-widget.css"
        )
        if block == "loyalty-launcher":
            source = (EXTENSION / "blocks" / f"{block}.liquid").read_text()
            assert "{{ 'loyalty-widget.css' | asset_url | stylesheet_tag }}\n<div" in source
            assert {o["value"] for o in settings["position"]["options"]} == {"left", "right"}
            assert {"launcher_label", "panel_title", "background_color", "text_color"} <= set(
                settings
            )
