"""The app's Shopify Flow extensions (extensions/loyalty-*/shopify.extension.toml, type
`flow_action` and `flow_trigger`) against what the Shopify CLI accepts and what the code sends
and serves. `make shopify-check` runs `shopify app build`, which validates these files' schema
(handles, keys, URLs) offline; the field types are checked by the CLI only at `shopify app
deploy` (its flow field tables in node_modules/@shopify/cli), so they are held here, with the
tables copied from it: a trigger takes no `number_integer`, an action no schema references."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from loyalty.outbox.flow_triggers import TRIGGER_FIELDS, FlowTrigger
from web.flow import actions
from web.flow.actions import AwardPointsProperties, CustomActionProperties

ROOT = Path(__file__).resolve().parent.parent.parent
# Reference fields the CLI accepts (its `gv` for triggers and `_v` for actions).
TRIGGER_REFERENCES = {
    "customer_reference",
    "order_reference",
    "product_reference",
    "company_reference",
    "company_contact_reference",
}
ACTION_REFERENCES = TRIGGER_REFERENCES | {"marketing_activity_reference", "abandonment_reference"}
# Custom field types (the CLI's `Fv` for actions, `Ev` for triggers).
ACTION_TYPES = {
    "boolean",
    "email",
    "multi_line_text_field",
    "number_integer",
    "single_line_text_field",
    "url",
    "number_decimal",
}
TRIGGER_TYPES = {"boolean", "email", "single_line_text_field", "url", "number_decimal"}
HANDLE = re.compile(r"[a-zA-Z0-9-]{1,30}")  # "Can't exceed 30 characters", alphanumerics, hyphens


def extensions(kind: str) -> dict[str, dict[str, Any]]:
    """Each extension of this type: its handle → {extension, fields}."""
    found = {}
    for path in sorted((ROOT / "extensions").glob("*/shopify.extension.toml")):
        config = tomllib.loads(path.read_text())
        for extension in config.get("extensions", []):
            if extension.get("type") == kind:
                fields = config.get("settings", {}).get("fields", [])
                found[extension["handle"]] = {"extension": extension, "fields": fields}
    return found


ACTIONS = extensions("flow_action")
TRIGGERS = extensions("flow_trigger")


class TestFlowActions:
    def test_the_two_actions_exist(self) -> None:
        assert set(ACTIONS) == {"loyalty-award-points", "loyalty-award-custom-action"}

    @pytest.mark.parametrize("handle", sorted(ACTIONS))
    def test_each_is_what_the_cli_deploys(self, handle: str) -> None:
        """Handle rules, a name, and every field of a type the CLI deploys for an action, each
        custom one with a key, a name and `required`."""
        assert HANDLE.fullmatch(handle)
        declared = ACTIONS[handle]
        assert declared["extension"]["name"]
        for field in declared["fields"]:
            if field["type"] in ACTION_REFERENCES:
                continue
            assert field["type"] in ACTION_TYPES, field
            assert {"key", "name", "required"} <= set(field), field

    @pytest.mark.parametrize(
        ("handle", "model"),
        [
            ("loyalty-award-points", AwardPointsProperties),
            ("loyalty-award-custom-action", CustomActionProperties),
        ],
    )
    def test_the_route_reads_exactly_the_fields_the_extension_declares(
        self, handle: str, model: type[Any]
    ) -> None:
        """Flow sends each field under its key (a customer reference as `customer_id`)."""
        keys = {
            "customer_id" if f["type"] == "customer_reference" else f["key"]
            for f in ACTIONS[handle]["fields"]
        }
        assert keys == set(model.model_fields)

    @pytest.mark.parametrize("handle", sorted(ACTIONS))
    def test_the_runtime_url_is_a_route_that_checks_this_handle(self, handle: str) -> None:
        """A relative runtime_url (the CLI resolves it against application_url) served here,
        by the route that insists on this action's handle."""
        url = ACTIONS[handle]["extension"]["runtime_url"]
        assert url.startswith("/") and not url.startswith("//")
        [route] = [r for r in actions.routes if r.path == url]
        source = Path(actions.__file__).read_text()
        endpoint = source[source.index(f"async def {route.endpoint.__name__}(") :]
        assert f'"{handle}"' in endpoint.split("\n\n")[0]


class TestFlowTriggers:
    def test_every_trigger_the_code_sends_is_declared_and_no_other(self) -> None:
        assert set(TRIGGERS) == {str(t) for t in FlowTrigger}

    @pytest.mark.parametrize("trigger", list(FlowTrigger))
    def test_each_declares_the_customer_and_exactly_the_fields_the_code_sends(
        self, trigger: FlowTrigger
    ) -> None:
        fields = TRIGGERS[str(trigger)]["fields"]
        assert [f["type"] for f in fields].count("customer_reference") == 1
        custom = {f["key"]: f["type"] for f in fields if f["type"] not in TRIGGER_REFERENCES}
        assert custom == TRIGGER_FIELDS[trigger]

    @pytest.mark.parametrize("handle", sorted(TRIGGERS))
    def test_each_is_what_the_cli_deploys(self, handle: str) -> None:
        """Handle rules; custom keys of letters and spaces only (the CLI's schema); types a
        trigger can have (no number_integer)."""
        assert HANDLE.fullmatch(handle)
        for field in TRIGGERS[handle]["fields"]:
            if field["type"] in TRIGGER_REFERENCES:
                continue
            assert field["type"] in TRIGGER_TYPES, field
            assert re.fullmatch(r"[a-zA-Z\s]+", field["key"]), field

    def test_the_event_names_that_owe_flow_are_the_events_module_names(self) -> None:
        """loyalty.outbox cannot import loyalty.sync (it sits below it): the names it repeats
        are held to the originals here."""
        from loyalty.outbox.flow_triggers import FLOW_EVENTS
        from loyalty.sync import events

        assert {events.APPROVED, events.REDEEMED, events.TIER_ACTIVITY} == FLOW_EVENTS
