"""Customer bodies: customers/create and customers/update (REST customer resources), the
customer.tags_added / customer.tags_removed events and customers_email_marketing_consent/update."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, field_validator, model_validator

from loyalty.customers.mirror import CustomerRecord
from loyalty.earning.newsletter import EmailConsent
from loyalty.webhooks.payloads.base import (
    Payload,
    ShopifyId,
    _aware,
    _check_gid,
    _gid_number,
    _marks_of_all_but,
)


class CustomerPayload(Payload):
    """The REST Customer resource as an order embeds it (`customer`). Fields Shopify withholds
    without protected-customer-data approval arrive as null. `tags` is not read: gone since
    2025-01, and from an older API version ignored (see loyalty.customers.mirror); tags come
    from the tag events (`CustomerTagsPayload`)."""

    id: ShopifyId
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # Read by the referral fraud rules only (loyalty.referrals.checks).
    phone: str | None = None
    default_address: dict[str, Any] | None = None
    orders_count: int | None = None  # gone from recent API versions; used when present

    def record(self) -> CustomerRecord:
        return CustomerRecord(
            shopify_customer_id=self.id,
            email=self.email,
            first_name=self.first_name,
            last_name=self.last_name,
            created_at=_aware(self.created_at),
            updated_at=_aware(self.updated_at),
        )


class CustomerCreatePayload(CustomerPayload):
    """customers/create: a whole REST Customer. Its personal fields are always present (null
    when withheld), with its times and a Customer gid of the same id."""

    other_topics_keys = _marks_of_all_but(None)

    email: str | None
    first_name: str | None
    last_name: str | None
    created_at: datetime
    updated_at: datetime
    admin_graphql_api_id: str | None = None

    @model_validator(mode="after")
    def _one_customer(self) -> CustomerCreatePayload:
        _check_gid("Customer", self.id, self.admin_graphql_api_id)
        return self


class CustomerUpdatePayload(CustomerCreatePayload):
    """customers/update: the same REST Customer (Shopify may send create and update with the
    very same bytes, which is why a body is handled once whatever its topic)."""


class CustomerTagsPayload(Payload):
    """A tag event: `{"customerId": "gid://shopify/Customer/1", "tags": ["tag1", "tag2"],
    "occurredAt": "2005-05-05T05:00:00.000Z"}`: the tags added or removed by one change, not
    the customer's whole list. `occurredAt` is required: it is the only signed time that
    orders the events (X-Shopify-Triggered-At is an unsigned header)."""

    other_topics_keys = _marks_of_all_but("tags")

    customer_id: ShopifyId = Field(alias="customerId")
    tags: list[str]
    occurred_at: datetime = Field(alias="occurredAt")

    @field_validator("customer_id", mode="before")
    @classmethod
    def _from_gid(cls, value: Any) -> Any:
        return _gid_number(value, "Customer")

    def when(self) -> datetime:
        return _aware(self.occurred_at) or self.occurred_at


class CustomerTagsAddedPayload(CustomerTagsPayload):
    """customer.tags_added. Its body has the very shape of a removal: nothing in it says which
    it is, so only handling each body once (whatever its topic) keeps one from being replayed
    as the other."""


class CustomerTagsRemovedPayload(CustomerTagsPayload):
    """customer.tags_removed (see CustomerTagsAddedPayload)."""


class EmailMarketingConsent(Payload):
    """`email_marketing_consent`: `state` (subscribed, pending, not_subscribed, unsubscribed,
    redacted, invalid; null when Shopify has none), `opt_in_level` and `consent_updated_at`."""

    state: str | None = None
    opt_in_level: str | None = None
    consent_updated_at: datetime | None = None


class CustomerEmailConsentPayload(Payload):
    """customers_email_marketing_consent/update: `{"customer_id": 1, "email_address": "…",
    "email_marketing_consent": {…}}`, sent for each change of the consent (since API 2025-01
    customer bodies no longer carry it)."""

    other_topics_keys = _marks_of_all_but("consent")

    customer_id: ShopifyId
    email_address: str | None
    email_marketing_consent: EmailMarketingConsent

    def record(self) -> CustomerRecord:
        return CustomerRecord(shopify_customer_id=self.customer_id, email=self.email_address)

    def consent(self) -> EmailConsent:
        given = self.email_marketing_consent
        return EmailConsent(state=given.state, updated_at=_aware(given.consent_updated_at))
