"""What every webhook body class shares: the base model, parsing into a class with one error
for a body that is not its topic's, ids and gids read exactly, money as Decimal, and the keys
that mark each kind of body."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError


class InvalidPayloadError(Exception):
    """A stored delivery that can never be handled: recorded with the reason, never retried
    (a redelivery carries the same body)."""

    def record(self) -> str:
        """What the event's `last_error` says."""
        return f"invalid payload: {self}"


class NotTopicBodyError(InvalidPayloadError):
    """The body is not what its topic sends (or is about another shop)."""

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"not a {topic} body: {reason}")

    def record(self) -> str:
        return str(self)


M = TypeVar("M", bound="Payload")

ShopifyId = Annotated[int, Field(gt=0, lt=2**63)]
Money = Annotated[Decimal, Field(allow_inf_nan=False)]


class Payload(BaseModel):
    """A webhook body. `other_topics_keys` are keys only other topics' bodies carry: a body
    with any of them is refused even when it has every field this class needs."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    other_topics_keys: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _not_another_topics_body(cls, data: Any) -> Any:
        if isinstance(data, dict) and (found := sorted(cls.other_topics_keys & data.keys())):
            raise ValueError(f"it carries {', '.join(found)}, which this topic never sends")
        return data

    def other_shop(self, *, domain: str, shopify_shop_id: int | None) -> str | None:
        """Why the body is about another shop than the delivery's (None: it is not, or it
        does not say)."""
        return None


def reason_of(exc: PydanticValidationError) -> str:
    error = exc.errors()[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    field = ".".join(str(part) for part in error["loc"])
    return f"{field}: {message}" if field else message


def parse(model: type[M], payload: dict[str, Any]) -> M:
    """`payload` as `model`; raises InvalidPayloadError naming the first bad field."""
    try:
        return model.model_validate(payload)
    except PydanticValidationError as exc:
        raise InvalidPayloadError(f"invalid {model.__name__}: {reason_of(exc)}") from None


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # Shopify always sends an offset; be safe if it does not


def _gid_number(value: Any, kind: str) -> int:
    prefix = f"gid://shopify/{kind}/"
    number = value.removeprefix(prefix) if isinstance(value, str) else ""
    if number == value or not (number.isascii() and number.isdigit() and 0 < int(number) < 2**63):
        raise ValueError(f"expected a {prefix}<id> global id")
    return int(number)


def _same_id(number: int, gid_number: int) -> bool:
    """Whether a body's `id` and its `admin_graphql_api_id` name one object. Shopify sends both
    exactly; the docs' examples went through JavaScript numbers, so past 2**53 their ids lost
    the last digits their gids kept: there, equal as doubles is the same object."""
    return number == gid_number or (
        max(number, gid_number) > 2**53 and float(number) == float(gid_number)
    )


def _check_gid(kind: str, number: int, gid: str | None) -> None:
    if gid is not None and not _same_id(number, _gid_number(gid, kind)):
        raise ValueError(f"admin_graphql_api_id {gid!r} is not the {kind} with id {number}")


def _named_shop(named: str, domain: str) -> str | None:
    if named.strip().lower() != domain:
        return f"it is for {named!r}, not {domain!r}"
    return None


def _shop_id(number: int, shopify_shop_id: int | None) -> str | None:
    if shopify_shop_id is not None and number != shopify_shop_id:
        return f"it is for the shop with id {number}, not {shopify_shop_id}"
    return None


class ShopMoney(Payload):
    amount: Money


class MoneySet(Payload):
    shop_money: ShopMoney


# Keys that mark each kind of body: a body with another kind's marks is not this topic's.
_MARKS: dict[str, frozenset[str]] = {
    "order": frozenset({"line_items", "financial_status"}),
    "refund": frozenset({"order_id", "refund_line_items"}),
    "shop": frozenset({"myshopify_domain"}),
    "scopes": frozenset({"previous", "current"}),
    "tags": frozenset({"customerId", "occurredAt"}),
    "consent": frozenset({"email_address"}),
    "compliance": frozenset(
        {"shop_domain", "orders_requested", "orders_to_redact", "data_request"}
    ),
}


def _marks_of_all_but(kind: str | None) -> frozenset[str]:
    return frozenset().union(*(keys for name, keys in _MARKS.items() if name != kind))
