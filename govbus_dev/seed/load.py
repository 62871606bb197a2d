"""Load the demo data through the platform's own API, as departments would.

One client per agency (every department scope, so a new user can try every action) is created in
the clients table; each agency's items are created and published over HTTP, and the
demo licences issued with the agency's seal.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from contracts.catalog import ServiceItemDraft
from govbus_dev.seed.data import AGENCIES, DEMO_LICENCES, ITEMS

# what a demo department's client may do: everything a department does, to try it all
DEMO_SCOPES = [
    "catalog:write",
    "licences:issue",
    "licences:read",
    "cases:review",
    "appointments:manage",
    "hotline:handle",
]


def drafts() -> list[ServiceItemDraft]:
    found = []
    for agency, items in ITEMS.items():
        for part, name, star, promised, statutory, fee, materials, result, category, *rest in items:
            province_code = rest[0] if rest else None
            found.append(
                ServiceItemDraft(
                    name=name,
                    agency=agency,
                    agency_name=AGENCIES[agency],
                    item_part=part,
                    category=category,
                    star_level=star,
                    promised_days=promised,
                    statutory_days=statutory,
                    legal_basis=["《福建省行政审批和公共服务事项目录》"],
                    conditions=["申请人符合法定条件"],
                    materials=[
                        {"name": m} if isinstance(m, str) else {"name": m[0], "licence_type": m[1]}
                        for m in materials
                    ],
                    steps=[
                        {"name": "受理", "days": 0},
                        {"name": "审查", "days": max(0, promised - 1)},
                        {"name": "决定", "days": 1 if promised else 0},
                    ],
                    fees=[{"name": "工本费", "amount": str(fee)}] if fee else [],
                    channels=["online", "hall", "community"] + (["ems"] if star >= 4 else []),
                    guide=f"{name}：可通过网上办事大厅在线申请"
                    if star >= 3
                    else f"{name}：请到窗口办理",
                    faqs=[
                        {
                            "question": "可以网上办理吗？",
                            "answer": "可以，全程网办" if star >= 4 else "可在线申请，窗口领取结果",
                        }
                    ],
                    result_licence_type=result,
                    level="province" if province_code else "city",
                    province_code=province_code,
                )
            )
    return found


def _call(base: str, method: str, path: str, token: str | None, body: Any) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"not an HTTP gateway: {base}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        base + path,
        data=json.dumps(body, ensure_ascii=False).encode(),
        headers=headers,
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return json.loads(answer.read() or b"{}")


def load(gateway: str, clients_table: str) -> dict[str, Any]:
    """Seed the running stack at ``gateway``; returns what was created (for the table)."""
    from govbus.stores import clients

    tokens: dict[str, str] = {}
    credentials: dict[str, tuple[str, str]] = {}
    for agency in AGENCIES:
        client_id, secret = clients.create(
            agency,
            DEMO_SCOPES,
            AGENCIES[agency],
            table=clients_table,
        )
        credentials[agency] = (client_id, secret)
        tokens[agency] = _call(
            gateway, "POST", "/auth/token", None, {"client_id": client_id, "client_secret": secret}
        )["access_token"]
    items = 0
    for draft in drafts():
        token = tokens[str(draft.agency)]
        created = _call(gateway, "POST", "/catalog/items", token, draft.model_dump(mode="json"))
        _call(
            gateway,
            "POST",
            f"/catalog/items/{created['code']}/publish",
            token,
            {"version": created["version"]},
        )
        items += 1
    licences = []
    for type_code, holder, name, agency, fields in DEMO_LICENCES:
        issued = _call(
            gateway,
            "POST",
            "/licences",
            tokens[agency],
            {"type_code": type_code, "holder_code": holder, "holder_name": name, "fields": fields},
        )
        licences.append(issued["id"])
    # the platform's operators sign in to the ops console (/console) with this one
    ops_client = clients.create("ops", [], "govbus ops", table=clients_table, role=clients.OPS)
    return {
        "items": items,
        "licences": licences,
        "clients": credentials,
        "ops_client": ops_client,
    }
