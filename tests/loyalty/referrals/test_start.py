"""A friend arriving through an advocate's link (loyalty.referrals.start), on SQLite and
PostgreSQL: a pending referral with the friend's code owed, idempotent per normalised email,
each start-time fraud rule recorded as the reason, and the refusals that write nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from loyalty.clock import utcnow
from loyalty.models import (
    Activity,
    BlockReason,
    CodeStatus,
    OutboxIntent,
    Referral,
    ReferralStatus,
)
from loyalty.referrals.codes import code_for, codes_for, find_advocate, referral_url
from loyalty.referrals.errors import (
    InvalidEmailError,
    ReferralCodeNotFoundError,
    ReferralsDisabledError,
)
from loyalty.referrals.programme import update_programme
from loyalty.sync.shop_metafields import programme_document
from tests.factories import create_customer, create_shop
from tests.loyalty.referrals.helpers import advocate, arrive, referral_shop, stored


class TestCodes:
    async def test_each_member_has_one_short_code_found_in_any_case(self, db: str) -> None:
        """The code is made once and kept; another member's differs; lower case finds it;
        another shop's code finds nobody."""
        shop = await referral_shop()
        ann, code = await advocate(shop)
        _, other = await advocate(shop, email="bob@example.com")
        assert len(code) == 8 and code.isupper() and code != other
        assert await code_for(shop_id=shop.id, customer_id=ann.id) == code
        assert await find_advocate(shop_id=shop.id, code=f" {code.lower()} ") == ann.id
        elsewhere = await create_shop()
        assert await find_advocate(shop_id=elsewhere.id, code=code) is None
        assert await code_for(shop_id=elsewhere.id, customer_id=ann.id) is None
        assert referral_url(shop.domain, code) == f"https://{shop.domain}/apps/loyalty/r/{code}"

    async def test_a_page_of_customers_gets_its_codes_at_once(self, db: str) -> None:
        """Thirty customers, two of whom already have a code (kept), and another shop's
        customer (left out): every code distinct, the same on a second read."""
        shop = await referral_shop()
        customers = [await create_customer(shop) for _ in range(30)]
        early = {c.id: await code_for(shop_id=shop.id, customer_id=c.id) for c in customers[:2]}
        stranger = await create_customer(await create_shop())
        ids = [c.id for c in customers] + [stranger.id]
        codes = await codes_for(shop_id=shop.id, customer_ids=ids)
        assert set(codes) == {c.id for c in customers}
        assert len(set(codes.values())) == 30
        assert all(codes[cid] == code for cid, code in early.items())
        assert await codes_for(shop_id=shop.id, customer_ids=ids) == codes

    async def test_concurrent_first_uses_agree_on_one_code(self, db: str) -> None:
        shop = await referral_shop()
        ann = await create_customer(shop)
        codes = await asyncio.gather(
            *(code_for(shop_id=shop.id, customer_id=ann.id) for _ in range(10))
        )
        assert len(set(codes)) == 1


class TestStart:
    async def test_a_friend_gets_a_pending_referral_and_a_code_owed(self, db: str) -> None:
        """Pending, expiring after the programme's 30 days, the friend's code owed to the
        sync_referral_codes job; the advocate's activity and a "referral sent" sync."""
        shop = await referral_shop()
        ann, code = await advocate(shop)
        now = utcnow()
        started = await arrive(shop, code.lower(), "Fred.Friend@Example.com", now=now)
        view = started.referral
        assert started.created and view.status == "pending" and view.block_reason is None
        assert view.advocate_shopify_customer_id == ann.shopify_customer_id
        assert view.friend_email == "Fred.Friend@Example.com"
        assert view.friend_code and view.friend_code.startswith("FRIEND-")
        assert view.friend_code_status == "pending"
        row = await stored(view.id)
        assert row.expires_at is not None and row.expires_at - now == timedelta(days=30)
        assert "sync_referral_codes" in started.jobs
        jobs = await OutboxIntent.filter(customer_id=ann.id).values_list("job", "payload")
        assert ("sync_referral_codes", {"referral_id": view.id, "action": "create"}) in jobs
        assert any(p.get("event") == "referral_sent" for _, p in jobs)
        started_row = await Activity.get(customer_id=ann.id, kind="referral_started")
        assert started_row.data["referral_id"] == view.id

    async def test_the_same_friend_twice_is_one_referral(self, db: str) -> None:
        """A repeat, in another case or with gmail dots and a +tag, even through another
        advocate's code, returns the first referral and writes nothing."""
        shop = await referral_shop()
        _, code = await advocate(shop)
        _, other = await advocate(shop, email="bob@example.com")
        first = await arrive(shop, code, "fred.friend@gmail.com")
        intents = await OutboxIntent.all().count()
        for email, via in (("FRED.FRIEND@gmail.com", code), ("fredfriend+x@googlemail.com", other)):
            again = await arrive(shop, via, email)
            assert not again.created and again.jobs == []
            assert again.referral.id == first.referral.id
        assert await Referral.all().count() == 1
        assert await OutboxIntent.all().count() == intents

    async def test_twenty_concurrent_arrivals_of_one_friend_make_one_referral(
        self, db: str
    ) -> None:
        shop = await referral_shop()
        _, code = await advocate(shop)
        started = await asyncio.gather(*(arrive(shop, code) for _ in range(20)))
        assert sum(s.created for s in started) == 1
        assert len({s.referral.id for s in started}) == 1
        assert await Referral.all().count() == 1


class TestStartRefusals:
    async def test_unknown_code_disabled_programme_and_bad_email_write_nothing(
        self, db: str
    ) -> None:
        shop = await referral_shop()
        _, code = await advocate(shop)
        with pytest.raises(InvalidEmailError) as bad:
            await arrive(shop, code, "not-an-email")
        assert bad.value.code == "invalid_email"
        with pytest.raises(ReferralCodeNotFoundError) as unknown:
            await arrive(shop, "ZZZZZZZZ")
        assert unknown.value.code == "referral_code_not_found"
        other_shop = await create_shop()
        with pytest.raises(ReferralsDisabledError):
            await arrive(other_shop, code)  # no programme there, and not its code
        await update_programme(shop_id=shop.id, changes={"enabled": False})
        with pytest.raises(ReferralsDisabledError) as off:
            await arrive(shop, code)
        assert off.value.code == "referrals_disabled"
        assert await Referral.all().count() == 0

    async def test_an_excluded_advocates_code_does_not_work(self, db: str) -> None:
        shop = await referral_shop()
        _, code = await advocate(shop, is_excluded=True)
        with pytest.raises(ReferralCodeNotFoundError):
            await arrive(shop, code)


class TestStartFraudRules:
    @pytest.mark.parametrize(
        ("friend", "reason"),
        [
            ("ann.advocate@example.com", BlockReason.SAME_CUSTOMER),
            ("Ann.Advocate@Example.com", BlockReason.SAME_CUSTOMER),
            ("ann.advocate+free@gmail.com", BlockReason.SAME_EMAIL),
            ("a.n.n.advocate@googlemail.com", BlockReason.SAME_EMAIL),
            ("someone.else@example.com", BlockReason.FRIEND_NOT_NEW),
        ],
    )
    async def test_self_referrals_and_existing_customers_are_blocked(
        self, db: str, friend: str, reason: BlockReason
    ) -> None:
        """Blocked with the reason, no code owed, no "referral sent" event."""
        shop = await referral_shop()
        gmail = reason is BlockReason.SAME_EMAIL
        ann, code = await advocate(
            shop, email="annadvocate@gmail.com" if gmail else "ann.advocate@example.com"
        )
        if reason is BlockReason.FRIEND_NOT_NEW:
            await create_customer(shop, email="someone.else@example.com")
        started = await arrive(shop, code, friend)
        assert (started.referral.status, started.referral.block_reason) == (
            "blocked",
            str(reason),
        )
        assert started.referral.friend_code is None and started.jobs == []
        assert not await OutboxIntent.filter(customer_id=ann.id).exists()

    async def test_a_rule_switched_off_lets_the_referral_through(self, db: str) -> None:
        shop = await referral_shop(disabled_checks=["friend_not_new"])
        _, code = await advocate(shop)
        await create_customer(shop, email="someone.else@example.com")
        started = await arrive(shop, code, "someone.else@example.com")
        assert started.referral.status == "pending"

    async def test_too_many_from_one_ip_or_device_in_the_window(self, db: str) -> None:
        """The fourth from one IP within 24 hours is blocked (ip_limit); a day later the IP
        may start again. Devices count the same way."""
        shop = await referral_shop(max_per_ip=3, max_per_device=2)
        _, code = await advocate(shop)
        now = utcnow()
        for n in range(3):
            ok = await arrive(shop, code, f"f{n}@example.com", ip="198.51.100.1", now=now)
            assert ok.referral.status == "pending"
        fourth = await arrive(shop, code, "f3@example.com", ip="198.51.100.1", now=now)
        assert fourth.referral.block_reason == "ip_limit"
        tomorrow = now + timedelta(hours=25)
        again = await arrive(shop, code, "f4@example.com", ip="198.51.100.1", now=tomorrow)
        assert again.referral.status == "pending"
        for n in range(2):
            await arrive(shop, code, f"d{n}@example.com", ip=f"192.0.2.{n}", device_id="dev-1")
        device = await arrive(shop, code, "d9@example.com", ip="192.0.2.9", device_id="dev-1")
        assert device.referral.block_reason == "device_limit"

    async def test_concurrent_arrivals_from_one_ip_respect_the_limit(self, db: str) -> None:
        """Ten friends from one address at once: the programme row serialises a shop's
        starts, so exactly three get through."""
        shop = await referral_shop(max_per_ip=3)
        _, code = await advocate(shop)
        started = await asyncio.gather(
            *(arrive(shop, code, f"c{n}@example.com", ip="198.51.100.9") for n in range(10))
        )
        statuses = sorted(s.referral.status for s in started)
        assert statuses == ["blocked"] * 7 + ["pending"] * 3
        assert await Referral.filter(status=ReferralStatus.PENDING).count() == 3
        assert not await Referral.filter(friend_code_status=CodeStatus.FAILED).exists()


class TestShopDocument:
    async def test_the_widgets_programme_document_says_what_each_side_gets(self, db: str) -> None:
        """The shop metafield's `referral_program`: on, the friend's reward and the advocate's
        points; an update to the programme owes the metafield a rewrite."""
        shop = await referral_shop(points=250)
        document = await programme_document(shop)
        assert document["referral_program"] == {
            "enabled": True,
            "friend_reward": "Friend $5 off",
            "advocate_points": 250,
            "advocate_reward": None,
        }
        intents = await OutboxIntent.filter(shop_id=shop.id, customer_id=None).count()
        await update_programme(shop_id=shop.id, changes={"enabled": False})
        assert await OutboxIntent.filter(shop_id=shop.id, customer_id=None).count() == intents + 1
        assert (await programme_document(shop))["referral_program"]["enabled"] is False
