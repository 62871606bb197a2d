"""docs/api.md lists every HTTP route of template.yaml, with its auth, and no other."""

import re
from pathlib import Path

from govbus_dev.local.template import function_specs, load_template

ROOT = Path(__file__).resolve().parents[2]


def test_every_route_is_documented_with_its_auth():
    template = load_template(ROOT / "template.yaml")
    routes = set()
    for spec in function_specs(template, ROOT):
        for _name, props in spec.events_of("HttpApi", "Api"):
            public = (props.get("Auth") or {}).get("Authorizer") == "NONE"
            routes.add(
                (props["Method"].upper(), props["Path"], "public" if public else "bearer token")
            )
    doc = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| (\w+) \| `([^`]+)` \| ([a-z ]+) \|", doc, flags=re.M))
    assert documented == routes
