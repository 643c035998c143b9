"""The embedded admin's pages (`/app/…`): every document is verified like App Home (ID token in
the query, the bounce for a missing or bad one, token exchange for a shop without a usable
token, the CSP header), another shop's ids are a 404 page, and each page shows what the
merchant needs, empty states included. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import respx

from loyalty.clock import utcnow
from loyalty.crypto import SecretBox
from loyalty.customers import directory
from loyalty.customers.compliance import export_customer_data
from loyalty.models import (
    Activity,
    ActorType,
    EarningHistoryEntry,
    EarningStatus,
    RuleCategory,
    Shop,
)
from standins.shopify_admin import ShopifyAdmin
from tests.factories import (
    create_api_key,
    create_customer,
    create_rule,
    create_shop,
    create_tier,
)
from tests.tokens import id_token

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

SHOP = "pages-shop"
DOMAIN = f"{SHOP}.myshopify.com"
HOST = "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvcGFnZXMtc2hvcA"
BOX = SecretBox("test-secret-key-0123456789abcdef")
TOKEN_URL = f"https://{DOMAIN}/admin/oauth/access_token"

PAGES = [
    "/app",
    "/app/rules",
    "/app/rules/new",
    "/app/tiers",
    "/app/tiers/new",
    "/app/customers",
    "/app/integrations",
    "/app/api-keys",
    "/app/settings",
]


def url(path: str, token: str | None = "valid", **extra: str) -> str:  # noqa: S107 - a mode, not a secret
    query = {"shop": DOMAIN, "host": HOST, "embedded": "1", **extra}
    if token == "valid":
        query["id_token"] = id_token(SHOP)
    elif token is not None:
        query["id_token"] = token
    return f"{path}?{urlencode(query)}"


async def installed(**fields: object) -> Shop:
    now = utcnow()
    return await create_shop(
        domain=DOMAIN,
        installed_at=now,
        access_token_enc=BOX.encrypt("shpat_pages"),
        access_token_expires_at=now + timedelta(hours=1),
        refresh_token_enc=BOX.encrypt("shprt_pages"),
        refresh_token_expires_at=now + timedelta(days=90),
        **fields,
    )


@pytest.fixture
async def shop(db: str) -> Shop:
    return await installed()


@pytest.fixture
async def other_shop(db: str) -> Shop:
    return await create_shop(domain="elsewhere.myshopify.com")


def text_of(html: str) -> str:
    """The page's words without tags, whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


class TestVerification:
    @pytest.mark.parametrize("path", PAGES)
    async def test_a_verified_document_renders_with_the_csp_header(
        self, client: httpx.AsyncClient, shop: Shop, path: str
    ) -> None:
        """200 HTML, CSP frame-ancestors for the shop and the admin, App Bridge and the nav."""
        response = await client.get(url(path))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/html")
        csp = response.headers["content-security-policy"]
        assert csp.startswith("frame-ancestors") and f"https://{DOMAIN}" in csp
        assert "https://admin.shopify.com" in csp
        assert "polaris-1.js" in response.headers["link"]
        assert '<meta name="shopify-api-key" content="test-client-id">' in response.text
        assert "<s-app-nav>" in response.text and "/static/admin.js?v=" in response.text

    @pytest.mark.parametrize("path", PAGES)
    async def test_a_document_without_a_token_bounces_back_to_itself(
        self, client: httpx.AsyncClient, shop: Shop, path: str
    ) -> None:
        """No id_token: 302 to the patch page, which reloads this very page with one."""
        response = await client.get(url(path, token=None))
        assert response.status_code == 302
        location = urlsplit(response.headers["location"])
        assert location.path == "/auth/patch-id-token"
        reload = urlsplit(parse_qs(location.query)["shopify-reload"][0])
        assert reload.path == path and parse_qs(reload.query)["shop"] == [DOMAIN]
        assert "content-security-policy" not in response.headers

    @pytest.mark.parametrize(
        "token",
        [
            pytest.param(lambda: id_token(SHOP, secret="forged-secret"), id="forged"),
            pytest.param(lambda: id_token(SHOP, issued_at=time.time() - 3600), id="expired"),
            pytest.param(lambda: id_token(SHOP, aud="another-app"), id="wrong-audience"),
            pytest.param(lambda: "not-a-jwt", id="garbage"),
        ],
    )
    @pytest.mark.parametrize("path", ["/app/rules", "/app/customers", "/app/settings"])
    async def test_a_bad_token_shows_nothing(
        self, client: httpx.AsyncClient, shop: Shop, path: str, token: object
    ) -> None:
        """Forged, expired, other app's or garbage: a bounce or a 401, never the page."""
        await create_rule(shop, name="Secret rule")
        response = await client.get(url(path, token=token()))  # type: ignore[operator]
        assert response.status_code in {302, 401}
        assert "Secret rule" not in response.text
        assert "frame-ancestors" not in response.headers.get("content-security-policy", "")

    async def test_a_shop_without_a_usable_token_is_installed_from_any_page(
        self, client: httpx.AsyncClient, db: str
    ) -> None:
        """The first verified load of any page runs token exchange, like App Home."""
        graphql = f"https://{DOMAIN}/admin/api/2026-10/graphql.json"
        with respx.mock(assert_all_called=False) as mock:
            exchange = mock.post(TOKEN_URL).respond(
                200,
                json={
                    "access_token": "shpat_new",
                    "scope": "read_customers",
                    "expires_in": 3600,
                    "refresh_token": "shprt_new",
                    "refresh_token_expires_in": 7_776_000,
                },
            )
            mock.post(graphql).mock(side_effect=ShopifyAdmin())
            response = await client.get(url("/app/customers"))
        assert response.status_code == 200
        assert exchange.called
        shop = await Shop.get(domain=DOMAIN)
        assert BOX.decrypt(shop.access_token_enc or "") == "shpat_new"
        assert shop.backfill_requested_at is not None

    async def test_a_token_for_another_shop_shows_that_shop_only(
        self, client: httpx.AsyncClient, shop: Shop, other_shop: Shop
    ) -> None:
        """The shop is the token's `dest`, never the query's `shop`."""
        await create_rule(other_shop, name="Their rule")
        await create_rule(shop, name="Our rule")
        response = await client.get(url("/app/rules"))
        assert "Our rule" in response.text and "Their rule" not in response.text


class TestWrongShopIds:
    @pytest.mark.parametrize("kind", ["rule", "tier", "customer"])
    async def test_another_shops_record_is_a_not_found_page(
        self, client: httpx.AsyncClient, shop: Shop, other_shop: Shop, kind: str
    ) -> None:
        """Ids of another shop (or of nothing) answer a 404 document, still framed by the CSP."""
        if kind == "rule":
            path = f"/app/rules/{(await create_rule(other_shop)).public_id}"
        elif kind == "tier":
            path = f"/app/tiers/{(await create_tier(other_shop)).public_id}"
        else:
            path = f"/app/customers/{(await create_customer(other_shop)).shopify_customer_id}"
        response = await client.get(url(path))
        assert response.status_code == 404
        assert "Not found" in response.text
        assert "frame-ancestors" in response.headers["content-security-policy"]
        missing = await client.get(url(path.rsplit("/", 1)[0] + "/nothing-here"))
        assert missing.status_code == 404


class TestHome:
    async def test_shows_the_numbers_the_chart_and_the_checklist(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Members, points issued in 30 days, a 30-bar SVG chart, and the setup steps to do."""
        customer = await create_customer(shop, pending_points=40, redeemed_points=15)
        await create_customer(shop, is_excluded=True, excluded_by="staff")
        rule = await create_rule(shop, is_active=False)
        await EarningHistoryEntry.create(
            public_id="cer_home1",
            shop_id=shop.id,
            customer_id=customer.id,
            rule_id=rule.id,
            action="follow_on_instagram",
            base_points=120,
            points_multiplier=Decimal("1.00"),
            points=120,
            status=EarningStatus.APPROVED,
            dedupe_key="rule:home",
            points_remaining=120,
        )
        response = await client.get(url("/app"))
        html = response.text
        assert len(re.findall(r"<rect [^>]*data-points=", html)) == 30
        assert 'role="img"' in html and "120 points in total" in html
        stat = {
            key: re.search(rf'data-stat="{key}".*?data-value>([\d,]+)<', html, re.S).group(1)  # type: ignore[union-attr]
            for key in ("members", "issued", "pending", "redeemed", "expired")
        }
        assert stat == {
            "members": "1",
            "issued": "120",
            "pending": "40",
            "redeemed": "15",
            "expired": "0",
        }
        assert "Set up your programme" in html and "0 of 3 steps done" in text_of(html)
        assert "admin.shopify.com" in html or f"https://{DOMAIN}/admin/themes" in html

    async def test_an_empty_shop_says_what_to_do_next(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """No points yet: the chart says so and points to the ways to earn."""
        html = (await client.get(url("/app"))).text
        assert "No points issued in the last 30 days yet" in html

    async def test_a_finished_checklist_is_not_shown(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Rules on, theme embed confirmed, a platform connected: no setup guide."""
        await create_rule(shop)
        await Activity.create(
            shop_id=shop.id,
            customer_id=None,
            kind="theme_embed_confirmed",
            actor_type=ActorType.STAFF,
            data={},
        )
        from loyalty.models import Integration, Platform

        await Integration.create(
            shop=shop, platform=Platform.KLAVIYO, enabled=True, credentials_enc="x"
        )
        html = (await client.get(url("/app"))).text
        assert "Set up your programme" not in html

    async def test_an_import_in_progress_shows_its_count(
        self, client: httpx.AsyncClient, db: str
    ) -> None:
        """The install-time customer import shows how far it has got."""
        await installed(
            backfill_requested_at=utcnow(), backfill_started_at=utcnow(), backfill_customers=750
        )
        html = (await client.get(url("/app"))).text
        assert "Importing your Shopify customers" in html and "750" in html


class TestRules:
    async def test_rules_are_grouped_by_category_with_toggles(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Each category with rules is a section; each rule has an accessible on/off switch."""
        await create_rule(shop, name="Follow us", category=RuleCategory.SOCIAL)
        await create_rule(
            shop,
            name="Quiz",
            category=RuleCategory.CUSTOM,
            action="custom",
            action_key="quiz_done",
            repeatable=True,
            limit_count=3,
            limit_period_days=30,
        )
        html = (await client.get(url("/app/rules"))).text
        assert 'data-category="social"' in html and 'data-category="custom"' in html
        assert 'data-category="purchase"' not in html
        assert "every time, at most 3 per 30 days" in text_of(html)
        assert html.count("data-rule-toggle=") == 2
        assert 'accessibilityLabel="Follow us is active"' in html

    async def test_no_rules_is_an_empty_state(self, client: httpx.AsyncClient, shop: Shop) -> None:
        """Says what to do next, with a button to start."""
        html = (await client.get(url("/app/rules"))).text
        assert "No ways to earn yet" in html and "category=purchase" in html

    @pytest.mark.parametrize(
        ("category", "present", "absent"),
        [
            ("social", ['label="Network"', 'name="call_to_action_url"'], ['name="action_key"']),
            ("custom", ['name="action_key"', 'name="repeatable"', 'name="limit_count"'], []),
            ("purchase", ["Points per unit of currency spent", 'value="place_order"'], []),
            ("birthday", ['value="birthday"'], ['name="approval_time_days"']),
            ("engagement", ['label="Action key" name="action"'], ['name="repeatable"']),
            (
                "signup",
                ['name="after_first_order"', 'name="approval_time_days"', "first sign-in"],
                ['name="action_key"'],
            ),
            (
                "newsletter",
                ['value="newsletter_signup"', 'name="approval_time_days"', "subscribe"],
                ['name="after_first_order"'],
            ),
        ],
    )
    async def test_the_form_has_the_fields_of_its_category(
        self,
        client: httpx.AsyncClient,
        shop: Shop,
        category: str,
        present: list[str],
        absent: list[str],
    ) -> None:
        """Social: network and profile URL; custom: key and how often; purchase: per unit."""
        html = (await client.get(url("/app/rules/new", category=category))).text
        assert 'data-api="POST /earning-rules"' in html
        for snippet in present:
            assert snippet in html, snippet
        for snippet in absent:
            assert snippet not in html, snippet

    async def test_without_a_category_the_form_asks_for_one(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """A chooser, not a form."""
        html = (await client.get(url("/app/rules/new"))).text
        assert "What should customers earn points for?" in html and "data-api" not in html

    async def test_only_categories_something_awards_are_offered(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """The chooser and "More ways to earn" offer newsletter and referrals (every category
        is awarded now); a referral rule's form and listing say when it awards."""
        chooser = (await client.get(url("/app/rules/new"))).text
        assert "category=newsletter" in chooser and "category=referral" in chooser
        asked = (await client.get(url("/app/rules/new", category="referral"))).text
        assert "data-api" in asked and "friend&#39;s first paid order" in asked
        await create_rule(shop, name="Old referral", category=RuleCategory.REFERRAL)
        listed = (await client.get(url("/app/rules"))).text
        assert 'data-category="referral"' in listed and "Not awarded yet" not in listed

    async def test_each_category_says_when_it_awards(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Every offered category's form opens with when it awards."""
        for category, words in [
            ("purchase", "Awarded when Shopify reports an order paid"),
            ("signup", "Awarded once per customer when Shopify creates their customer account"),
            ("newsletter", "Awarded once per customer when they subscribe"),
            ("birthday", "Awarded on each customer's birthday"),
            ("custom", "Awarded when your own systems send its action key"),
        ]:
            page = (await client.get(url("/app/rules/new", category=category))).text
            assert words in unescape(text_of(page)), category

    async def test_editing_patches_the_rule(self, client: httpx.AsyncClient, shop: Shop) -> None:
        """The edit form is prefilled and PATCHes the rule."""
        rule = await create_rule(shop, name="Follow us", call_to_action_url="https://x.test/a")
        html = (await client.get(url(f"/app/rules/{rule.public_id}"))).text
        assert f'data-api="PATCH /earning-rules/{rule.public_id}"' in html
        assert 'value="Follow us"' in html and 'value="https://x.test/a"' in html


class TestTiers:
    async def test_tiers_show_how_many_customers_each_holds(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Member counts from lifetime points, lowest tier first, and those below every tier."""
        silver = await create_tier(shop, name="Silver", points_required=500)
        gold = await create_tier(shop, name="Gold", points_required=2000)
        for points in (0, 600, 700, 2500):
            await create_customer(shop, lifetime_points=points)
        html = (await client.get(url("/app/tiers"))).text
        members = dict(re.findall(r'data-tier="(tier_\w+)".*?data-members>([\d,]+)<', html, re.S))
        assert members == {silver.public_id: "2", gold.public_id: "1"}
        assert "1 customer below every tier" in text_of(html)
        assert html.index("Silver") < html.index("Gold")

    async def test_no_tiers_is_an_empty_state(self, client: httpx.AsyncClient, shop: Shop) -> None:
        """Explains tiers and offers to add the first."""
        html = (await client.get(url("/app/tiers"))).text
        assert "No VIP tiers yet" in html and "Add your first tier" in html

    async def test_the_edit_form_offers_delete_and_a_preview(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Prefilled, PATCH, a delete confirmation, the preview table with this tier marked."""
        tier = await create_tier(shop, name="Gold", points_required=2000)
        html = (await client.get(url(f"/app/tiers/{tier.public_id}"))).text
        assert f'data-api="PATCH /vip-tiers/{tier.public_id}"' in html
        assert f'data-api="DELETE /vip-tiers/{tier.public_id}"' in html
        assert "Gold (this tier)" in html and "data-tier-preview" in html


class TestCustomers:
    async def test_search_and_paging(self, client: httpx.AsyncClient, shop: Shop) -> None:
        """20 a page, newest first, search by email or name, pages linked with shop and host."""
        for n in range(25):
            await create_customer(shop, email=f"shopper{n}@example.com", first_name=f"Shopper{n}")
        first = (await client.get(url("/app/customers"))).text
        assert first.count("data-customer=") == 20 and "Page 1 of 2" in first
        assert 'heading="25 customers"' in first
        next_link = re.search(r'href="(/app/customers\?[^"]*page=2[^"]*)"', first)
        assert next_link is not None and "shop=" in next_link.group(1)
        second = (await client.get(url("/app/customers", page="2"))).text
        assert second.count("data-customer=") == 5
        found = (await client.get(url("/app/customers", search="shopper7@"))).text
        assert found.count("data-customer=") == 1 and "shopper7@example.com" in found

    async def test_a_broad_search_counts_up_to_a_limit_and_pages_on(
        self, client: httpx.AsyncClient, shop: Shop, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Past SEARCH_COUNT_LIMIT matches the heading says "N+" and the next page is linked;
        a page past the limit counts to its own end."""
        monkeypatch.setattr(directory, "SEARCH_COUNT_LIMIT", 10)
        for n in range(25):
            await create_customer(shop, email=f"shopper{n}@example.com")
        first = (await client.get(url("/app/customers", search="shopper"))).text
        assert 'heading="20+ customers matching' in unescape(first)  # the page's end
        assert first.count("data-customer=") == 20 and "Page 1 of 1+" in first
        assert re.search(r'href="/app/customers\?[^"]*page=2', first)
        second = (await client.get(url("/app/customers", search="shopper", page="2"))).text
        assert 'heading="25 customers matching' in unescape(second)
        assert second.count("data-customer=") == 5 and "Page 2 of 2" in second

    async def test_no_match_and_no_customers_are_empty_states(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Each says what to do next."""
        html = (await client.get(url("/app/customers"))).text
        assert "No customers yet" in html
        await create_customer(shop, email="ann@example.com")
        html = (await client.get(url("/app/customers", search="zzz"))).text
        assert "No customer matches" in html and "see everyone" in html

    async def test_a_too_long_search_is_a_field_message(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Not a 400: the field says what is wrong."""
        html = (await client.get(url("/app/customers", search="x" * 300))).text
        assert 'error="Search for at most 255 characters"' in html

    async def test_the_customer_page_shows_balances_history_and_activity(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Balances, tier, a pending entry with its due date, activity in words, the forms."""
        tier = await create_tier(shop, name="Gold", points_required=100)
        customer = await create_customer(
            shop, points_balance=300, pending_points=50, lifetime_points=300, vip_tier=tier
        )
        rule = await create_rule(shop, name="Follow us")
        due = utcnow() + timedelta(days=10)
        await EarningHistoryEntry.create(
            public_id="cer_page1",
            shop_id=shop.id,
            customer_id=customer.id,
            rule_id=rule.id,
            action=rule.action,
            base_points=50,
            points_multiplier=Decimal("1.00"),
            points=50,
            status=EarningStatus.PENDING,
            points_due_at=due,
            dedupe_key="rule:x",
        )
        await Activity.create(
            shop_id=shop.id,
            customer_id=customer.id,
            kind="vip_tier_changed",
            actor_type=ActorType.SYSTEM,
            data={"from_tier": None, "to_tier": "Gold"},
        )
        html = (await client.get(url(f"/app/customers/{customer.shopify_customer_id}"))).text
        words = text_of(html)
        assert "Follow us" in words and "Pending" in words and due.strftime("%-d %b %Y") in words
        assert "Moved from no tier to Gold" in words
        assert f'data-api="POST /customers/{customer.shopify_customer_id}/points"' in html
        assert f'data-api="POST /customers/{customer.shopify_customer_id}/exclude"' in html
        assert re.search(r'data-balance="balance".*?data-value>300<', html, re.S)

    async def test_an_excluded_customer_can_be_included_and_not_adjusted(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """The page says why, offers Include, and disables the adjustment."""
        customer = await create_customer(shop, is_excluded=True, excluded_by="staff")
        html = (await client.get(url(f"/app/customers/{customer.shopify_customer_id}"))).text
        assert "Excluded from the programme" in html
        assert f"POST /customers/{customer.shopify_customer_id}/include" in html
        assert re.search(r'type="submit" variant="primary"\s+disabled', html)


class TestKeysIntegrationsSettings:
    async def test_keys_are_listed_with_last_use_and_never_their_secret(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Prefix, access, last use, a revoke confirmation; the link to the API docs."""
        issued = await create_api_key(shop)
        html = (await client.get(url("/app/api-keys"))).text
        assert issued.key.prefix in html and issued.secret not in html
        assert "Never" in html and f"POST /api-keys/{issued.key.public_id}/revoke" in html
        assert 'href="/api/v1/docs"' in html

    async def test_no_keys_is_an_empty_state(self, client: httpx.AsyncClient, shop: Shop) -> None:
        """Says what keys are for."""
        assert "No keys yet" in (await client.get(url("/app/api-keys"))).text

    async def test_integrations_lists_the_three_platforms(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Klaviyo, Omnisend and Postscript, each with a password field for its key."""
        html = (await client.get(url("/app/integrations"))).text
        for platform in ("klaviyo", "omnisend", "postscript"):
            assert f'data-integration="{platform}"' in html
        assert html.count("<s-password-field") == 3

    async def test_integrations_show_dead_letters_with_retry_all(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Each platform, and Shopify's metafield syncs, has a dead-letter list (drawn by the
        page's script from the API) with a Retry all button."""
        html = (await client.get(url("/app/integrations"))).text
        assert 'data-dead-letter-source="shopify"' in html
        assert html.count("<div data-dead-letters hidden>") == 4
        assert html.count("data-retry-dead-letters") == 4

    async def test_settings_show_the_programme_and_the_data_requests(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """The programme form (with the save bar), re-sync, and each export to download."""
        await shop.update_from_dict({"points_expiry_days": 365, "timezone": "Europe/Paris"}).save()
        customer = await create_customer(shop, email="asker@example.com")
        export = await export_customer_data(
            shop=shop,
            shopify_customer_id=customer.shopify_customer_id,
            email=customer.email,
            shopify_request_id=991,
            orders_requested=[],
            now=utcnow(),
        )
        html = (await client.get(url("/app/settings"))).text
        assert 'data-api="PATCH /settings" data-save-bar' in html
        assert 'value="365"' in html and '<s-option value="Europe/Paris" selected>' in html
        assert f'data-download="{export.id}"' in html and "asker@example.com" in html
        assert "Re-sync all customers" in html

    async def test_no_data_requests_is_an_empty_state(
        self, client: httpx.AsyncClient, shop: Shop
    ) -> None:
        """Nothing to do until one arrives."""
        assert "No data requests yet" in (await client.get(url("/app/settings"))).text
