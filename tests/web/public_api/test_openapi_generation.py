"""The OpenAPI document is generated: every path from the route table, every schema from the
models the handlers use, nothing written by hand in the generator, and no import circle."""

from __future__ import annotations

import ast
from pathlib import Path

from web.public_api import openapi, routes
from web.public_api.requests import CustomActionRequest, PointsAdjustmentRequest

REF = "#/components/schemas/{model}"
ROOT = Path(__file__).resolve().parents[3]


class TestGeneratedDocument:
    def test_the_generator_alone_documents_nothing(self) -> None:
        """No operations in, no paths out, and no schema but the shared error object."""
        document = openapi.build([])
        assert document["paths"] == {}
        assert list(document["components"]["schemas"]) == ["Error"]

    def test_every_body_and_response_schema_is_its_models(self) -> None:
        """Each operation's request and JSON responses point at the schema of the model the
        handler parses or answers with, and that schema is the model's own."""
        document = routes.document()
        schemas = document["components"]["schemas"]
        for operation in routes.OPERATIONS:
            documented = document["paths"][operation.path][operation.method.lower()]
            for reply in operation.replies:
                content = documented["responses"][str(reply.status)]["content"]
                if reply.model is None:
                    continue
                name = reply.model.__name__
                assert content["application/json"]["schema"] == {"$ref": REF.format(model=name)}
                own = reply.model.model_json_schema(mode="serialization", ref_template=REF)
                own.pop("$defs", None)
                assert schemas[name] == own, name
            for model in operation.request:
                own = model.model_json_schema(ref_template=REF)
                own.pop("$defs", None)
                assert schemas[model.__name__] == own, model.__name__

    def test_body_rules_are_documented_by_the_model_that_enforces_them(self) -> None:
        """ "adjustment is not 0" and "customer_id or customer_email" live in the models."""
        adjustment = PointsAdjustmentRequest.model_json_schema()["properties"]["adjustment"]
        assert adjustment["not"] == {"const": 0}
        branches = CustomActionRequest.model_json_schema()["anyOf"]
        assert [branch["required"] for branch in branches] == [["customer_id"], ["customer_email"]]

    def test_the_generator_imports_no_route_module(self) -> None:
        """openapi → spec and params only: the route table imports it, never the reverse."""
        tree = ast.parse((ROOT / "web/public_api/openapi.py").read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("web")
        }
        assert imported == {"web.public_api.params", "web.public_api.spec"}
