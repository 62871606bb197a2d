"""Every HTTP route of template.yaml is either behind the token authorizer or on the
public list below, each with the reason it is public. A new route that forgets its
authorizer fails here before it ships."""

from __future__ import annotations

from govbus_dev.local.template import load_template
from tests.conftest import ROOT

PUBLIC = {
    ("GET", "/health"): "load balancers and ops probe it; it reveals only adapter status",
    ("POST", "/webhooks/{partner}"): "partners push here; each request is signature-verified",
    ("POST", "/auth/challenge"): "the first step of certificate login, before any token exists",
    ("POST", "/auth/login"): "exchanges a certificate-signed challenge for a citizen token",
    ("POST", "/auth/token"): "departments' clients exchange their id and secret for a token",
    ("GET", "/catalog/items"): "the published service catalogue (办事指南) is public by plan",
    ("GET", "/catalog/items/{code}"): "one published service item's guide, public by plan",
    ("GET", "/catalog/report"): "the public standardisation (星级) report per agency",
    ("POST", "/licences/{id}/verify"): "anyone holding an e-licence may have it verified",
    ("GET", "/appointments/slots"): "free appointment places are shown before login",
    (
        "GET",
        "/disclosure/documents",
    ): "published notices and policies (政务公开) are public by plan",
    ("GET", "/disclosure/documents/{id}"): "one published document, as in force on a day",
    ("GET", "/disclosure/items/{code}"): "the public documents behind a service item",
    ("GET", "/disclosure/agencies/{code}/feed.atom"): "an agency's public Atom feed of documents",
    ("GET", "/open-data"): "the open-data catalogue (DCAT): de-identified aggregates, by plan",
}


def routes():
    template = load_template(ROOT / "template.yaml")
    resources = template["Resources"]
    found = {}
    for logical, res in resources.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        for name, event in (res["Properties"].get("Events") or {}).items():
            if event["Type"] not in ("HttpApi", "Api"):
                continue
            props = event["Properties"]
            api = resources[props["ApiId"]["Ref"]]
            auth = props.get("Auth") or {}
            authorizer = auth.get("Authorizer") or (api["Properties"].get("Auth") or {}).get(
                "DefaultAuthorizer"
            )
            defined = (api["Properties"].get("Auth") or {}).get("Authorizers") or {}
            applied = authorizer if authorizer in defined else None
            found[(props["Method"].upper(), props["Path"])] = (f"{logical}.{name}", applied)
    return found


def test_every_route_is_authorised_or_deliberately_public():
    unprotected = sorted(
        f"{method} {path} ({where})"
        for (method, path), (where, applied) in routes().items()
        if applied is None and (method, path) not in PUBLIC
    )
    assert not unprotected, "routes with no authorizer and not on the public list: " + ", ".join(
        unprotected
    )


def test_the_public_list_names_only_routes_that_exist_and_are_public():
    found = routes()
    for route, reason in PUBLIC.items():
        assert route in found, f"{route} is on the public list but not in template.yaml"
        assert found[route][1] is None, f"{route} is on the public list but has an authorizer"
        assert len(reason) > 20


def test_the_citizen_and_department_routes_are_behind_the_token_authorizer():
    found = routes()
    for route in [
        ("POST", "/applications"),
        ("POST", "/applications/{id}/actions"),
        ("GET", "/subjects/{code}/records"),
    ]:
        assert found[route][1] == "TokenAuthorizer"
