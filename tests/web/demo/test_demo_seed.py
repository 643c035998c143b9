"""The demo shops the seed makes (loyalty/shops/demo.py) and their tokens: several demo shops
side by side, never a real shop seeded, and a demo token used only by the demo process."""

from __future__ import annotations

import httpx
import pytest
from shopify_app import ShopifyApp

from loyalty.crypto import SecretBox
from loyalty.models import EarningRule, OutboxIntent, ReferralProgramme, Shop, VipTier
from loyalty.referrals.programme import get_programme
from loyalty.settings import Settings
from loyalty.shopify.tokens import ShopNotConnectedError, TokenProvider
from loyalty.shops.demo import DEMO_SHOP, SHOWCASE_RULE, DemoShop, seed_demo
from loyalty.shops.demo_mode import DemoRefused
from loyalty.sync.deps import build_job_deps
from tests.factories import create_shop

BOX = SecretBox("test-secret-key-0123456789abcdef")
SHOPIFY = ShopifyApp(client_id="test-client-id", client_secret="test-client-secret")


class TestSeveralDemoShops:
    async def test_another_shop_gets_its_own_public_ids_and_seeds_idempotently(
        self, db: str
    ) -> None:
        first = await seed_demo(box=BOX)
        other = await seed_demo(domain="second.myshopify.com", box=BOX)
        counts = (await EarningRule.all().count(), await VipTier.all().count())
        await seed_demo(domain="second.myshopify.com", box=BOX)

        assert other.shop.is_demo and other.shop.id != first.shop.id
        assert SHOWCASE_RULE in {rule.public_id for rule in first.rules}
        ours = {rule.public_id for rule in other.rules} | {tier.public_id for tier in other.tiers}
        theirs = {rule.public_id for rule in first.rules} | {t.public_id for t in first.tiers}
        assert not ours & theirs and len(ours) == len(first.rules) + len(first.tiers)
        assert all(rule.shop_id == other.shop.id for rule in other.rules)  # type: ignore[attr-defined]
        assert (await EarningRule.all().count(), await VipTier.all().count()) == counts

    async def test_a_real_shop_is_never_seeded(self, db: str) -> None:
        """A shop that installed the app is refused whole: no rule, no token, no demo mark."""
        real = await create_shop(domain="real-store.myshopify.com", installed_at=None)
        real.access_token_enc = BOX.encrypt("shpat_real")
        await real.save()

        with pytest.raises(DemoRefused, match="real shop"):
            await seed_demo(domain=real.domain, box=BOX)

        after = await Shop.get(id=real.id)
        assert not after.is_demo and BOX.decrypt(after.access_token_enc or "") == "shpat_real"
        assert await EarningRule.filter(shop_id=real.id).count() == 0

    async def test_the_demo_shop_an_older_seed_made_is_adopted(self, db: str) -> None:
        """Before shops were marked (migration 0013) the seed made demo.myshopify.com unmarked,
        never installed, without a token: that one shop is taken as the demo shop."""
        await create_shop(domain=DEMO_SHOP, installed_at=None)
        seeded = await seed_demo(box=BOX)
        assert seeded.shop.is_demo and (await Shop.get(domain=DEMO_SHOP)).is_demo

    async def test_connecting_owes_the_programme_and_every_customer_a_sync(self, db: str) -> None:
        """The local Shopify forgets on restart: each seed owes it everything again."""
        seeded = await seed_demo(box=BOX)
        owed = await OutboxIntent.filter(shop_id=seeded.shop.id, completed_at=None).values_list(
            "job", "customer_id"
        )
        customers = {c.id for c in seeded.customers}
        assert {c for job, c in owed if job == "sync_shopify_metafields"} == customers
        assert ("sync_shop_metafields", None) in owed

    async def test_without_a_box_the_shop_is_not_connected(self, db: str) -> None:
        seeded = await seed_demo()
        assert seeded.shop.access_token_enc is None
        assert await OutboxIntent.all().count() == 0


class TestTokenProvider:
    @pytest.fixture
    async def shops(self, db: str) -> tuple[DemoShop, Shop]:
        demo = await seed_demo(box=BOX)
        real = await create_shop(domain="real-store.myshopify.com")
        real.access_token_enc = BOX.encrypt("shpat_real")
        await real.save()
        return demo, real

    async def test_a_demo_token_never_leaves_the_demo_process(
        self, shops: tuple[DemoShop, Shop]
    ) -> None:
        """Outside the demo a demo shop is not connected (its token is never sent to Shopify);
        inside it a real shop is not (its token never goes to the local Shopify)."""
        demo, real = shops
        async with httpx.AsyncClient() as http:
            outside = TokenProvider(shopify=SHOPIFY, http=http, box=BOX)
            inside = TokenProvider(shopify=SHOPIFY, http=http, box=BOX, demo=True)

            assert (await outside.access(real.id)).token == "shpat_real"
            assert (await inside.access(demo.shop.id)).token.startswith("shpat_demo_")
            with pytest.raises(ShopNotConnectedError, match="demo shop"):
                await outside.access(demo.shop.id)
            with pytest.raises(ShopNotConnectedError, match="not a demo shop"):
                await inside.access(real.id)

    async def test_the_demo_process_is_the_one_demo_settings_made(
        self, demo: Settings, shops: tuple[DemoShop, Shop]
    ) -> None:
        """The jobs' Admin client (loyalty.sync.deps) is built for the demo only by
        demo_settings(); LOYALTY_DEMO beside real credentials is not the demo."""
        demo_shop, _ = shops
        real = demo.with_overrides(shopify_api_key="real", shopify_api_secret="x")
        async with httpx.AsyncClient() as http:
            in_demo = build_job_deps(demo, http).admin
            in_real = build_job_deps(real, http).admin
            assert in_demo is not None and in_real is not None
            assert (await in_demo.tokens.access(demo_shop.shop.id)).token.startswith("shpat_demo_")
            with pytest.raises(ShopNotConnectedError):
                await in_real.tokens.access(demo_shop.shop.id)


class TestEveryWayToEarnIsSeeded:
    async def test_sign_up_newsletter_and_the_referral_programme_are_on(self, db: str) -> None:
        """Issue 17 item 6: an active sign-up rule, a newsletter rule, and the referral
        programme switched on with a referral rule paying the advocate and a discount for the
        friend; seeding twice makes no second programme."""
        seeded = await seed_demo()
        await seed_demo()
        active = {rule.category for rule in seeded.rules if rule.is_active}
        assert {"signup", "newsletter", "referral"} <= {str(c) for c in active}
        settings = await get_programme(shop_id=seeded.shop.id)
        assert settings.enabled and settings.friend_reward_name == "$5 off your order"
        assert await ReferralProgramme.filter(shop=seeded.shop).count() == 1
