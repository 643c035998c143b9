"""Shopify Flow as the Admin API's `flowTriggerReceive` meets it, judged against the app's own
`flow_trigger` extensions (extensions/*/shopify.extension.toml), as Flow judges a trigger
against the definition the app deployed:
- an unknown handle, a payload that is not an object or is over Flow's size limit, a missing
  or non-numeric `customer_id` for a trigger with a customer reference, a field the trigger
  does not declare, one it declares but the payload lacks, or a value of the wrong kind: a
  `userErrors` entry naming it, nothing received;
- otherwise the trigger is recorded in `flow_triggers`, as Flow would start the workflows.
https://shopify.dev/docs/apps/build/flow/triggers/reference
https://shopify.dev/docs/api/admin-graphql/latest/mutations/flowTriggerReceive
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

EXTENSIONS = Path(__file__).resolve().parent.parent / "extensions"
MAX_PAYLOAD_BYTES = 50_000  # "The payload … must be less than 50 KB" (trigger reference)
REFERENCES = {  # a reference field's key in the payload, and Flow's field type for it
    "customer_reference": "customer_id",
    "order_reference": "order_id",
    "product_reference": "product_id",
}


@dataclass(frozen=True)
class TriggerDefinition:
    handle: str
    references: tuple[str, ...]  # payload keys of the reference fields (`customer_id`)
    fields: dict[str, str]  # custom field key → type


@cache
def trigger_definitions() -> dict[str, TriggerDefinition]:
    """The app's `flow_trigger` extensions, by handle."""
    found: dict[str, TriggerDefinition] = {}
    for path in sorted(EXTENSIONS.glob("*/shopify.extension.toml")):
        config = tomllib.loads(path.read_text())
        for extension in config.get("extensions", []):
            if extension.get("type") != "flow_trigger":
                continue
            fields = config.get("settings", {}).get("fields", [])
            found[extension["handle"]] = TriggerDefinition(
                handle=extension["handle"],
                references=tuple(REFERENCES[f["type"]] for f in fields if f["type"] in REFERENCES),
                fields={f["key"]: f["type"] for f in fields if f["type"] not in REFERENCES},
            )
    return found


def payload_problems(handle: str | None, payload: Any) -> list[str]:
    """What Flow would refuse in this trigger (empty: it is received)."""
    definition = trigger_definitions().get(handle or "")
    if definition is None:
        return [f"No trigger with handle {handle!r} is defined by this app"]
    if not isinstance(payload, dict):
        return ["The payload must be a JSON object"]
    if len(json.dumps(payload).encode()) >= MAX_PAYLOAD_BYTES:
        return [f"The payload must be less than {MAX_PAYLOAD_BYTES} bytes"]
    problems = []
    for key in definition.references:
        value = payload.get(key)
        if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            problems.append(f"{key} must be the numeric id of the resource, not {value!r}")
    for key in sorted(set(payload) - set(definition.references) - set(definition.fields)):
        problems.append(f"Field {key!r} is not defined by trigger {handle}")
    for key, kind in definition.fields.items():
        if key not in payload:
            problems.append(f"Field {key!r} is missing")
        elif not _fits(kind, payload[key]):
            problems.append(f"Field {key!r} must be a {kind}, not {payload[key]!r}")
    return problems


def _fits(kind: str, value: Any) -> bool:
    if kind == "number_decimal":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in {"single_line_text_field", "email", "url"}:
        return isinstance(value, str) and "\n" not in value
    return False  # a type the stand-in does not model is refused, never accepted blindly


@dataclass(kw_only=True)
class FlowModel:
    """The triggers Flow received: (handle, payload), in order."""

    flow_triggers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class FlowRoot:
    """The Mutation field for Flow triggers."""

    admin: FlowModel

    def flowTriggerReceive(self, handle: str | None = None, payload: Any = None) -> dict[str, Any]:
        problems = payload_problems(handle, payload)
        if problems:
            return {"userErrors": [{"field": ["payload"], "message": p} for p in problems]}
        assert isinstance(handle, str) and isinstance(payload, dict)
        self.admin.flow_triggers.append((handle, payload))
        return {"userErrors": []}
