"""Every Admin GraphQL operation the app sends to Shopify, by name, in one place.

`AdminApi.execute` takes an `Operation`, never a bare string, and a test fails if a GraphQL
document appears anywhere else in `loyalty/`, `web/` or `workers/`. The contract tests
(tests/contract/test_shopify_graphql.py) validate each one against Shopify's own Admin schema
for the pinned API version (and the latest stable one), coerce the variables the real code
builds, and check the access scopes it needs against shopify.app.toml.

Adding an operation: define one more `Operation` constant below, with the name used in its
document, what it is for and its shopify.dev page. The tests pick it up from `OPERATIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

ADMIN_DOCS = "https://shopify.dev/docs/api/admin-graphql/latest"


@dataclass(frozen=True)
class Operation:
    """A named Admin GraphQL query or mutation."""

    name: str  # the operation's name in `document`, as Shopify logs and reports it
    document: str
    purpose: str  # what the app sends it for
    docs: str  # its shopify.dev reference page
    # The GraphQL types whose metafields it writes: `metafieldsSet`/`metafieldsDelete` need the
    # owner's write scope, which Shopify's scope map cannot know from the document alone.
    metafield_owners: tuple[str, ...] = ()
    # A shopper waits on it (a reward's code or credit): paced ahead of background writes
    # (loyalty.shopify.cost).
    urgent: bool = False


# Only `userErrors` is selected: the callers read nothing else, and `metafieldsSet` is atomic.
_SET_ERRORS = "userErrors { field message code }"


def _metafields_set(name: str, owner: str, purpose: str) -> Operation:
    """A `metafieldsSet` of metafields owned by `owner` (its write scope is needed)."""
    document = f"""
mutation {name}($metafields: [MetafieldsSetInput!]!) {{
  metafieldsSet(metafields: $metafields) {{ {_SET_ERRORS} }}
}}
"""
    docs = f"{ADMIN_DOCS}/mutations/metafieldsSet"
    return Operation(name, document, purpose, docs, metafield_owners=(owner,))


CUSTOMER_METAFIELDS_SET = _metafields_set(
    "LoyaltyCustomerMetafieldsSet",
    "Customer",
    "Write customers' loyalty metafields (points, tier, status…), ≤ 25 per call.",
)

CUSTOMER_METAFIELDS_SYNC = Operation(
    name="LoyaltyCustomerMetafieldsSync",
    document=f"""
mutation LoyaltyCustomerMetafieldsSync(
  $metafields: [MetafieldsSetInput!]!, $deletions: [MetafieldIdentifierInput!]!
) {{
  metafieldsSet(metafields: $metafields) {{ {_SET_ERRORS} }}
  metafieldsDelete(metafields: $deletions) {{ userErrors {{ field message }} }}
}}
""",
    purpose="Write customers' loyalty metafields and delete the ones that no longer have a "
    "value (no tier, no upcoming expiry), in one request.",
    docs=f"{ADMIN_DOCS}/mutations/metafieldsDelete",
    metafield_owners=("Customer",),
)

SHOP_ID = Operation(
    name="LoyaltyShopId",
    document="query LoyaltyShopId { shop { id } }",
    purpose="The shop's GraphQL id, the owner of its programme metafield (asked once, kept).",
    docs=f"{ADMIN_DOCS}/queries/shop",
)

SHOP_METAFIELD_SET = _metafields_set(
    "LoyaltyShopMetafieldSet",
    "Shop",
    "Write the shop's programme metafield (ways to earn, tiers, expiry) as json.",
)

CUSTOMERS_PAGE = Operation(
    name="LoyaltyBackfill",
    document="""
query LoyaltyBackfill($first: Int!, $after: String) {
  customers(first: $first, after: $after, sortKey: ID) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id
      firstName
      lastName
      tags
      createdAt
      updatedAt
      defaultEmailAddress { emailAddress }
    }
  }
}
""",
    purpose="Page through the shop's existing customers at install (the backfill).",
    docs=f"{ADMIN_DOCS}/queries/customers",
)


def _mutation(
    name: str, field: str, arguments: dict[str, str], selection: str, purpose: str
) -> Operation:
    """One mutation field with its arguments as `$variables` of these types."""
    declared = ", ".join(f"${argument}: {kind}!" for argument, kind in arguments.items())
    passed = ", ".join(f"{argument}: ${argument}" for argument in arguments)
    document = f"""
mutation {name}({declared}) {{
  {field}({passed}) {{
    {selection}
  }}
}}
"""
    return Operation(name, document, purpose, f"{ADMIN_DOCS}/mutations/{field}")


# Discount codes (issue 16): one code per redemption, restricted to its customer. Each create
# selects only the node's id; Shopify's `userErrors` carry `TAKEN` when the code exists already.
_DISCOUNT_ANSWER = "codeDiscountNode { id }\n    userErrors { field message code extraInfo }"


def _discount_create(name: str, field: str, input_type: str, argument: str) -> Operation:
    purpose = f"Create a redemption's discount code ({input_type}), for its customer only."
    operation = _mutation(name, field, {argument: input_type}, _DISCOUNT_ANSWER, purpose)
    return replace(operation, urgent=True)


DISCOUNT_BASIC_CREATE = _discount_create(
    "LoyaltyDiscountBasicCreate",
    "discountCodeBasicCreate",
    "DiscountCodeBasicInput",
    "basicCodeDiscount",
)
DISCOUNT_FREE_SHIPPING_CREATE = _discount_create(
    "LoyaltyDiscountFreeShippingCreate",
    "discountCodeFreeShippingCreate",
    "DiscountCodeFreeShippingInput",
    "freeShippingCodeDiscount",
)
DISCOUNT_BXGY_CREATE = _discount_create(
    "LoyaltyDiscountBxgyCreate",
    "discountCodeBxgyCreate",
    "DiscountCodeBxgyInput",
    "bxgyCodeDiscount",
)

# The customers a found code is restricted to (or `all`, a referred friend's code): how a re-run
# tells our code from someone else's.
DISCOUNT_BY_CODE = Operation(
    name="LoyaltyDiscountByCode",
    document="""
query LoyaltyDiscountByCode($code: String!) {
  codeDiscountNodeByCode(code: $code) {
    id
    codeDiscount {
      __typename
      ... on DiscountCodeBasic {
        context {
          ... on DiscountCustomers { customers { id } }
          ... on DiscountBuyerSelectionAll { all }
        }
      }
      ... on DiscountCodeBxgy {
        context {
          ... on DiscountCustomers { customers { id } }
          ... on DiscountBuyerSelectionAll { all }
        }
      }
      ... on DiscountCodeFreeShipping {
        context {
          ... on DiscountCustomers { customers { id } }
          ... on DiscountBuyerSelectionAll { all }
        }
      }
    }
  }
}
""",
    purpose="Find a code discount by its code (case-insensitive) before creating it, and after "
    "a `TAKEN` refusal: a second run of the same redemption finds its code, never makes two.",
    docs=f"{ADMIN_DOCS}/queries/codeDiscountNodeByCode",
    urgent=True,
)

DISCOUNT_DEACTIVATE = _mutation(
    "LoyaltyDiscountDeactivate",
    "discountCodeDeactivate",
    {"id": "ID"},
    _DISCOUNT_ANSWER,
    "Stop a cancelled redemption's code from being used (its points are returned).",
)

# Store credit: the customer's gid as `id` (Shopify opens an account in that currency if none).
# Neither mutation takes an idempotency key, and Shopify's `@idempotent` directive is "only
# supported on mutations that explicitly document idempotency support" (2026-10): these do not.
_STORE_CREDIT_ANSWER = "storeCreditAccountTransaction { id }\n    userErrors { field message code }"

STORE_CREDIT_CREDIT = replace(
    _mutation(
        "LoyaltyStoreCreditCredit",
        "storeCreditAccountCredit",
        {"id": "ID", "creditInput": "StoreCreditAccountCreditInput"},
        _STORE_CREDIT_ANSWER,
        "Give a customer a store-credit reward, in the customer's currency.",
    ),
    urgent=True,
)
STORE_CREDIT_DEBIT = _mutation(
    "LoyaltyStoreCreditDebit",
    "storeCreditAccountDebit",
    {"id": "ID", "debitInput": "StoreCreditAccountDebitInput"},
    _STORE_CREDIT_ANSWER,
    "Take back a cancelled store-credit reward (refused below a zero balance).",
)

# The credits (or debits) of a customer's store credit accounts, newest first: how a retried
# credit finds the one an earlier attempt made (the transactions carry no key of ours). Five
# accounts (one per currency) and 50 transactions each keep it near 520 points, under
# Shopify's single-query maximum of 1,000.
STORE_CREDIT_TRANSACTIONS = Operation(
    name="LoyaltyStoreCreditTransactions",
    document="""
query LoyaltyStoreCreditTransactions($customer: ID!, $query: String!) {
  customer(id: $customer) {
    storeCreditAccounts(first: 5) {
      nodes {
        balance { currencyCode }
        transactions(first: 50, reverse: true, query: $query) {
          nodes {
            __typename
            createdAt
            amount { amount currencyCode }
            ... on StoreCreditAccountCreditTransaction { id }
            ... on StoreCreditAccountDebitTransaction { id }
          }
        }
      }
    }
  }
}
""",
    purpose="Before repeating a store credit (or debit) whose earlier attempt may have reached "
    "Shopify, find that attempt's transaction: same kind, amount and currency, since then.",
    docs=f"{ADMIN_DOCS}/objects/StoreCreditAccount",
    urgent=True,
)

# Shopify Flow: start the merchant's workflows that begin with one of our triggers (the app's
# `flow_trigger` extensions), by the trigger's handle; the payload holds the trigger's fields.
# It takes no idempotency key (2026-10), and Flow does not dedupe: see loyalty.sync.flow_triggers.
FLOW_TRIGGER_RECEIVE = _mutation(
    "LoyaltyFlowTriggerReceive",
    "flowTriggerReceive",
    {"handle": "String", "payload": "JSON"},
    "userErrors { field message }",
    "Send a Shopify Flow trigger (points earned, tier changed, reward redeemed, referral "
    "completed) from its outbox intent.",
)

OPERATIONS: tuple[Operation, ...] = tuple(
    value for value in list(globals().values()) if isinstance(value, Operation)
)
