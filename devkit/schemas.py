"""JSON Schemas of the YAML files people edit, generated from their pydantic models (schemas/).

    python -m devkit.schemas            # write the JSON files
    python -m devkit.schemas --check    # exit 1 if they differ

Editors validate while people type: the VS Code YAML extension (yaml-language-server)
follows the first-line modeline of each shipped file, e.g.
``# yaml-language-server: $schema=../schemas/rules.schema.json``. The schemas are
declared draft-07, the newest draft yaml-language-server fully supports; what pydantic
emits for these models uses no later keyword. Where a parser takes more than its
field's type says (times, months, on/off), the model carries the JSON Schema of what
it takes; checks against the site (groups, devices, profiles, the tariff) stay the
loaders' own, so a file the schema accepts can still be refused on load.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from devkit import generated
from gateway.control.rules.schema import RuleFile
from gateway.core.profile_spec import MeterProfileSpec, ProfileSpec
from gateway.core.site import SiteSpec

OUT_DIR = Path(__file__).resolve().parents[1] / "schemas"

#: file stem → (model, what the file is, the reference)
SCHEMAS: dict[str, tuple[type[BaseModel], str, str]] = {
    "rules": (RuleFile, "esco-gateway rule file: what each AC unit does when, and the limits",
              "docs/rules.md; escogw rules check validates it against the site"),
    "profile": (ProfileSpec, "esco-gateway device profile: one device model's register map",
                "docs/profiles.md"),
    "meter-profile": (MeterProfileSpec, "esco-gateway meter profile: a DL/T 645-2007 or "
                      "CJ/T 188-2004 meter's points by data identifier", "docs/profiles.md"),
    "site": (SiteSpec, "esco-gateway site file: links, devices, tags and the gateway's settings",
             "docs/configuration.md; escogw check validates it with its profiles"),
}


class Draft7(GenerateJsonSchema):
    """pydantic's generator, with mapping keys checked as the models check them.

    pydantic writes a constrained key (``Name``) as ``patternProperties``, which lets
    any other key through; the models refuse it. Keys of ``dict[int, …]`` are digits.
    """

    schema_dialect = "http://json-schema.org/draft-07/schema#"

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        json_schema = super().dict_schema(schema)
        patterns = json_schema.pop("patternProperties", None)
        if patterns is not None:
            ((pattern, values),) = patterns.items()
            json_schema["propertyNames"] = {"pattern": pattern}
            json_schema["additionalProperties"] = values
        elif schema.get("keys_schema", {}).get("type") == "int":
            json_schema["propertyNames"] = {"pattern": "^[0-9]+$"}
        return json_schema


def schema_of(model: type[BaseModel], title: str, reference: str) -> dict[str, Any]:
    body = model.model_json_schema(schema_generator=Draft7)
    return {"$schema": Draft7.schema_dialect, **body, "title": title,
            "description": f"Reference: {reference}."}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def build() -> dict[str, str]:
    """File name → JSON text of every schema."""
    return {f"{stem}.schema.json": render(schema_of(*spec)) for stem, spec in SCHEMAS.items()}


def main(argv: list[str] | None = None) -> int:
    return generated.main(argv, module="devkit.schemas", description=__doc__.splitlines()[0],
                          build=build, out=OUT_DIR)


if __name__ == "__main__":
    sys.exit(main())
