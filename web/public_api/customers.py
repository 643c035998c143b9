"""`/api/v1/customers…`: list, enroll, fetch and update customers, and their dates; the
customer resources they answer with (response models beside the routes)."""

from __future__ import annotations

from typing import Literal, cast, get_args

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from loyalty import models as orm
from loyalty.clock import isoformat_z
from loyalty.customers import enrolment, members, profile
from loyalty.customers.members import Member
from loyalty.referrals import codes
from web.http import params
from web.http.body import read_json_object
from web.http.validation import explicit_fields, parse_body
from web.public_api import requests
from web.public_api.context import identifier, notify, principal
from web.public_api.documents import (
    Document,
    ListDocument,
    Model,
    NullableTime,
    PageMeta,
    Time,
    calendar,
    multiplier,
    resource_id,
    respond,
    stamp,
)
from web.public_api.params import Filter, Listing
from web.public_api.spec import WRITE_ERRORS, Operation, Param, Reply

LISTING = Listing(
    members.CUSTOMER_SORTS,
    {
        "email": Filter(
            "Part of the email, case-insensitive", max_length=members.MAX_FILTER_LENGTH
        ),
        "loyalty_status": Filter(
            "Members or excluded customers", choices=get_args(members.LoyaltyStatus)
        ),
    },
)


class VipTierSummary(Model):
    id: str
    name: str
    points_required: int
    points_multiplier: float
    badge_image_url: str | None
    badge_color: str


class CustomerAttributes(Model):
    shopify_customer_id: str
    email: str | None
    first_name: str
    last_name: str
    current_points: int = Field(description="Spendable balance")
    lifetime_points: int = Field(description="Ever earned; drives the tier")
    redeemed_points: int
    pending_points: int = Field(description="Awarded, awaiting approval")
    loyalty_status: members.LoyaltyStatus
    is_excluded: bool
    date_of_birth: NullableTime
    anniversary_date: NullableTime
    referral_url: str | None = Field(
        description="The member's referral link: the friend's landing page on the storefront"
    )
    referral_code: str | None = Field(
        description="The member's referral code (8 characters, case-insensitive)"
    )
    vip_tier: VipTierSummary | None
    points_expire_at: NullableTime = Field(
        description="When the oldest unspent points expire (null: they do not)"
    )
    created_at: Time
    updated_at: Time


class Customer(Model):
    type: Literal["customer"] = "customer"
    id: str = resource_id("The Shopify customer ID")
    attributes: CustomerAttributes


class CustomerBirthdayAttributes(Model):
    shopify_customer_id: str
    email: str | None
    date_of_birth: NullableTime


class CustomerBirthday(Model):
    type: Literal["customer_birthday"] = "customer_birthday"
    id: str = resource_id("Shopify customer ID")
    attributes: CustomerBirthdayAttributes


class CustomerAnniversaryAttributes(Model):
    shopify_customer_id: str
    email: str | None
    anniversary_date: NullableTime


class CustomerAnniversary(Model):
    type: Literal["customer_anniversary"] = "customer_anniversary"
    id: str = resource_id("Shopify ID")
    attributes: CustomerAnniversaryAttributes


def _tier_summary(tier: orm.VipTier) -> VipTierSummary:
    return VipTierSummary(
        id=tier.public_id,
        name=tier.name,
        points_required=tier.points_required,
        points_multiplier=multiplier(tier.points_multiplier),
        badge_image_url=None,
        badge_color=tier.badge_color,
    )


async def customer_documents(
    request: Request, found: list[Member], *, exclude_vip: bool = False
) -> list[Customer]:
    """The members' documents with their referral code and link (made on first use)."""
    shop = principal(request).shop
    links = await codes.links_for(
        shop_id=shop.id, shop_domain=shop.domain, customer_ids=[m.customer.id for m in found]
    )
    return [
        customer(member, links.get(member.customer.id), exclude_vip=exclude_vip) for member in found
    ]


def customer(
    member: Member, link: tuple[str, str] | None, *, exclude_vip: bool = False
) -> Customer:
    """`vip_tier` must have been fetched (unless `exclude_vip`); `link` is the member's
    referral (code, URL)."""
    record = member.customer
    tier = None if exclude_vip else record.vip_tier
    shopify_id = str(record.shopify_customer_id)
    return Customer(
        id=shopify_id,
        attributes=CustomerAttributes(
            shopify_customer_id=shopify_id,
            email=record.email,
            first_name=record.first_name,
            last_name=record.last_name,
            current_points=record.points_balance,
            lifetime_points=record.lifetime_points,
            redeemed_points=record.redeemed_points,
            pending_points=record.pending_points,
            loyalty_status="excluded" if record.is_excluded else "member",
            is_excluded=record.is_excluded,
            date_of_birth=calendar(record.date_of_birth),
            anniversary_date=calendar(record.anniversary_date),
            referral_url=link[1] if link else None,
            referral_code=link[0] if link else None,
            vip_tier=_tier_summary(tier) if tier is not None else None,
            points_expire_at=isoformat_z(member.points_expire_at),
            created_at=stamp(record.created_at),
            updated_at=stamp(record.updated_at),
        ),
    )


def customer_birthday(record: orm.Customer) -> CustomerBirthday:
    shopify_id = str(record.shopify_customer_id)
    return CustomerBirthday(
        id=shopify_id,
        attributes=CustomerBirthdayAttributes(
            shopify_customer_id=shopify_id,
            email=record.email,
            date_of_birth=calendar(record.date_of_birth),
        ),
    )


def customer_anniversary(record: orm.Customer) -> CustomerAnniversary:
    shopify_id = str(record.shopify_customer_id)
    return CustomerAnniversary(
        id=shopify_id,
        attributes=CustomerAnniversaryAttributes(
            shopify_customer_id=shopify_id,
            email=record.email,
            anniversary_date=calendar(record.anniversary_date),
        ),
    )


class CustomerDocument(Document[Customer]):
    """`{"data": Customer}`"""


class CustomerBirthdayDocument(Document[CustomerBirthday]):
    """`{"data": CustomerBirthday}`"""


class CustomerAnniversaryDocument(Document[CustomerAnniversary]):
    """`{"data": CustomerAnniversary}`"""


class CustomerList(ListDocument[Customer, PageMeta]):
    """`{"data": [Customer, …], "meta": PageMeta}`"""


# Handlers ------------------------------------------------------------------------------------


async def list_customers(request: Request) -> Response:
    query = LISTING.parse(request.query_params)
    found = await members.list_members(
        shop_id=principal(request).shop.id,
        email=cast(str | None, query.filters["email"]),
        loyalty_status=cast(members.LoyaltyStatus | None, query.filters["loyalty_status"]),
        sort=query.sort,
        window=query.page.window,
    )
    return respond(
        CustomerList(
            data=await customer_documents(request, found.items),
            meta=PageMeta(**query.page.meta(found.total)),
        )
    )


async def enroll_customer(request: Request) -> Response:
    body = parse_body(requests.EnrollCustomerRequest, await read_json_object(request))
    enrolled = await enrolment.enroll_customer(
        shop_id=principal(request).shop.id,
        shopify_customer_id=body.shopify_customer_id,
        email=body.email,
        first_name=body.first_name,
        last_name=body.last_name,
    )
    notify(request, enrolled.jobs)
    status = 201 if enrolled.created else 200
    [document] = await customer_documents(request, [enrolled.member])
    return respond(CustomerDocument(data=document), status=status)


async def get_customer(request: Request) -> Response:
    exclude_vip = params.boolean(request.query_params, "exclude_vip") or False
    member = await members.get_member(
        shop_id=principal(request).shop.id, identifier=identifier(request)
    )
    [document] = await customer_documents(request, [member], exclude_vip=exclude_vip)
    return respond(CustomerDocument(data=document))


async def update_customer(request: Request) -> Response:
    data = requests.unwrap_update(await read_json_object(request))
    body = parse_body(requests.UpdateCustomerRequest, data)
    changes = explicit_fields(body, nullable=requests.UPDATE_CUSTOMER_NULLABLE)
    key = principal(request)
    updated = await profile.update_profile(
        shop_id=key.shop.id,
        identifier=identifier(request),
        changes=cast(profile.ProfileChanges, changes),
        api_key_id=key.key_public_id,
    )
    notify(request, updated.jobs)
    [document] = await customer_documents(request, [updated.member])
    return respond(CustomerDocument(data=document))


async def get_customer_birthday(request: Request) -> Response:
    record = await members.find_member(
        shop_id=principal(request).shop.id, identifier=identifier(request), with_tier=False
    )
    return respond(CustomerBirthdayDocument(data=customer_birthday(record)))


async def get_customer_anniversary(request: Request) -> Response:
    record = await members.find_member(
        shop_id=principal(request).shop.id, identifier=identifier(request), with_tier=False
    )
    return respond(CustomerAnniversaryDocument(data=customer_anniversary(record)))


_DOCUMENT = CustomerDocument
OPERATIONS = (
    Operation(
        method="GET",
        path="/customers",
        name="api.customers.list",
        endpoint=list_customers,
        operation_id="listCustomers",
        tag="Customers",
        summary="List the programme's customers",
        replies=(Reply(200, "A page of customers", CustomerList),),
        errors=(400, 401),
        params=LISTING.parameters(),
    ),
    Operation(
        method="POST",
        path="/customers",
        name="api.customers.enroll",
        endpoint=enroll_customer,
        operation_id="enrollCustomer",
        tag="Customers",
        summary="Enroll a Shopify customer",
        replies=(Reply(201, "Enrolled", _DOCUMENT), Reply(200, "Already a member", _DOCUMENT)),
        errors=WRITE_ERRORS,
        description=(
            "Creates the member with zero balances on the entry tier. Name and email "
            "are optional; Shopify's customer webhooks keep them up to date."
        ),
        request=(requests.EnrollCustomerRequest,),
    ),
    Operation(
        method="GET",
        path="/customers/{identifier}",
        name="api.customers.get",
        endpoint=get_customer,
        operation_id="getCustomer",
        tag="Customers",
        summary="Fetch one customer",
        replies=(Reply(200, "The customer", _DOCUMENT),),
        errors=(400, 401, 404),
        params=(Param("exclude_vip", {"type": "boolean"}, "true: `vip_tier` is null"),),
    ),
    Operation(
        method="PUT",
        path="/customers/{identifier}",
        name="api.customers.update",
        endpoint=update_customer,
        operation_id="updateCustomer",
        tag="Customers",
        summary="Update a customer's editable fields",
        replies=(Reply(200, "The customer", _DOCUMENT),),
        errors=(*WRITE_ERRORS, 404),
        description=(
            'Send only the fields to change, flat or as `{"data": {"attributes": '
            "…}}`. `is_excluded` excludes the customer from the programme or includes "
            "them again; dates take `YYYY-MM-DD` (or a timestamp) or null to clear."
        ),
        request=(requests.UpdateCustomerRequest, requests.UpdateCustomerEnvelope),
    ),
    Operation(
        method="GET",
        path="/customers/{identifier}/birthday",
        name="api.customers.birthday",
        endpoint=get_customer_birthday,
        operation_id="getCustomerBirthday",
        tag="Customers",
        summary="A customer's date of birth",
        replies=(Reply(200, "The date of birth", CustomerBirthdayDocument),),
        errors=(400, 401, 404),
    ),
    Operation(
        method="GET",
        path="/customers/{identifier}/anniversary",
        name="api.customers.anniversary",
        endpoint=get_customer_anniversary,
        operation_id="getCustomerAnniversary",
        tag="Customers",
        summary="A customer's loyalty anniversary",
        replies=(Reply(200, "The anniversary date", CustomerAnniversaryDocument),),
        errors=(400, 401, 404),
    ),
)
