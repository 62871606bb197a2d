"""``govbus demo``: the journey a newcomer should see, against the running local stack.

With ``make run`` up in another terminal, ``govbus demo`` (run from the same folder, so
it finds ``.govbus-dev.json``) walks one citizen through the platform over HTTP:

1. certificate login (the test CA simulator issues 林小姐's certificate; the demo signs
   the platform's challenge with its key);
2. an application for the food business licence (食品经营许可) that reuses the sole
   trader licence she already holds, delivered by EMS;
3. the one missing material uploaded through the presigned form;
4. submission and automatic pre-review (预审);
5. a department client of 福州市市场监督管理局 accepts and approves;
6. the e-licence (电子证照) is issued and verifies;
7. EMS picks up and delivers (the simulator is advanced over ``/_sim/advance``), the
   case closes;
8. a complaint (投诉) to the 12345 hotline, answered by the department;
9. a fee (驾驶证换证, 10 yuan) approved by the traffic police, paid from her citizen card
   (市民卡), and the result issued once paid;
10. a province-level item (药品批发许可): the city approves its part, the provincial online
    hall (省网上办事大厅, the SOAP simulator) receives it, decides, and pushes its
    decision back; the province's e-licence is on the case.

Each step prints its timing; the case's timeline is printed at the end. The exit status
is 0 only when every step did what the platform promises. If 林小姐 deregistered her
account in this stack (``DELETE /accounts/me``, which cannot be undone) the demo stops
at the login and says to restart ``make run``: the journey rests on her licence and card. The department clients the
demo creates (steps 5 and 10) are revoked when it ends, whether every step passed or not:
running it again and again leaves no live credentials behind.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import requests

CITIZEN = "350102199003071234"  # 林小姐 in the demo data: she holds a sole trader licence
CITIZEN_NAME = "林小姐"
MARKET = "11350100MB00000012"  # 福州市市场监督管理局
FOOD_LICENCE_ITEM = MARKET + "XK0001"  # needs 营业执照 (reused) and one upload
POLICE = "11350100MB00000025"  # 福州市公安局交通警察支队
RENEW_DRIVING_LICENCE = POLICE + "XK0105"  # a 10 yuan fee
DRUG_WHOLESALE = MARKET + "XK0006"  # province-level: 福建省药品监督管理局 decides
EMS_TO_HOME = {
    "method": "ems",
    "name": CITIZEN_NAME,
    "phone": "13812345678",
    "province": "福建省",
    "city": "福州市",
    "district": "台江区",
    "street": "五一中路88号",
}


# the journey is hers: the sole trader licence it reuses, the citizen card it pays from
# and the demo data's cases are 林小姐's, so another citizen cannot stand in for her
DEREGISTERED = (
    f"{CITIZEN_NAME}'s account was deregistered in this stack (DELETE /accounts/me), "
    "which cannot be undone: she can no longer log in, and the journey is hers (her sole "
    "trader licence, her citizen card). Stop `make run` and start it again (a fresh stack "
    "with the demo data), then run `make demo` again"
)


class StepFailed(Exception):
    """A step did not do what the platform promises; the message says what was seen."""


@dataclass
class Journey:
    gateway: str
    simulators: dict[str, str]
    stack_name: str
    out: TextIO
    timeout: float = 60.0
    steps: list[tuple[str, float, bool]] = field(default_factory=list)
    # what the steps hand to each other
    citizen: str = ""
    clerk: str = ""
    case_id: str = ""
    created: dict[str, Any] = field(default_factory=dict)
    fee_case: str = ""
    province_case_id: str = ""
    # the department clients the demo created: revoked when it ends, however it ends
    clients: list[str] = field(default_factory=list)

    # --- plumbing ----------------------------------------------------------------------

    def call(self, method: str, path: str, token: str = "", **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(
            method, f"{self.gateway}{path}", headers=headers, timeout=30, **kwargs
        )

    def expect(self, answer: requests.Response, *statuses: int) -> dict[str, Any]:
        if answer.status_code not in statuses:
            raise StepFailed(
                f"{answer.request.method} {answer.url} answered {answer.status_code}: "
                f"{answer.text[:300]}"
            )
        return answer.json() if answer.content else {}

    def wait(self, what: str, probe: Callable[[], Any]) -> Any:
        """Poll ``probe`` until it returns something truthy, or fail after the deadline."""
        deadline = time.monotonic() + self.timeout
        while True:
            seen = probe()
            if seen:
                return seen
            if time.monotonic() > deadline:
                raise StepFailed(f"gave up waiting for {what} after {self.timeout:.0f}s")
            time.sleep(0.2)

    def step(self, title: str, action: Callable[[], str]) -> None:
        started = time.monotonic()
        try:
            detail = action()
        except (StepFailed, requests.RequestException, KeyError, ValueError) as exc:
            elapsed = time.monotonic() - started
            self.steps.append((title, elapsed, False))
            print(f"  FAIL {title:<46} {elapsed * 1000:7.0f} ms  {exc}", file=self.out)
            raise StepFailed(title) from exc
        elapsed = time.monotonic() - started
        self.steps.append((title, elapsed, True))
        print(f"  ok   {title:<46} {elapsed * 1000:7.0f} ms  {detail}", file=self.out, flush=True)

    # --- the journey -------------------------------------------------------------------

    def login(self) -> str:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        issued = requests.post(
            f"{self.simulators['ca']}/_sim/issue",
            json={"code": CITIZEN, "name": CITIZEN_NAME, "key": "ec"},
            timeout=30,
        )
        pems = self.expect(issued, 200)
        key = serialization.load_pem_private_key(pems["private_key_pem"].encode(), None)
        nonce = self.expect(self.call("POST", "/auth/challenge"), 201)["nonce"]
        signature = key.sign(nonce.encode(), ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg,union-attr]
        answer = self.call(
            "POST",
            "/auth/login",
            json={
                "nonce": nonce,
                "certificate_pem": pems["certificate_pem"],
                "signature": base64.b64encode(signature).decode(),
                "algorithm": "ECDSA-P256-SHA256",
            },
        )
        if answer.status_code == 403 and "deregistered" in answer.text:
            raise StepFailed(DEREGISTERED)
        token = self.expect(answer, 200)
        self.citizen = token["access_token"]
        return f"{CITIZEN_NAME} holds a citizen token (scope {token.get('scope', 'self')})"

    def apply(self) -> str:
        created = self.expect(
            self.call(
                "POST",
                "/applications",
                self.citizen,
                json={
                    "item_code": FOOD_LICENCE_ITEM,
                    "applicant_name": CITIZEN_NAME,
                    "delivery": EMS_TO_HOME,
                },
            ),
            201,
        )
        if not created.get("reused"):
            raise StepFailed("no material was reused from the licence library")
        self.created, self.case_id = created, created["id"]
        return (
            f"case {self.case_id}: reused {', '.join(created['reused'])}; "
            f"still needed {', '.join(created['still_needed'])}"
        )

    def upload(self) -> str:
        names = []
        for form in self.created["uploads"]:
            answer = requests.post(
                form["url"],
                data={**form["fields"], "Content-Type": "application/pdf"},
                files={"file": ("material.pdf", b"%PDF-1.7 food safety rules", "application/pdf")},
                timeout=30,
            )
            if answer.status_code not in (200, 204):
                raise StepFailed(
                    f"the upload was refused: {answer.status_code} {answer.text[:200]}"
                )
            names.append(form.get("material", "material"))
        return f"{len(names)} file(s) uploaded to the presigned form"

    def submit(self) -> str:
        answer = self.expect(
            self.call("POST", f"/applications/{self.case_id}/submit", self.citizen), 200
        )
        if answer["state"] != "pre_reviewed":
            raise StepFailed(f"pre-review did not pass: {answer.get('reason')}")
        return "pre-review passed: every material present and of the right type"

    def department_client(self) -> str:
        self.clerk = self.client_of(MARKET, ["cases:review", "hotline:handle"])
        return f"a client of {MARKET} (cases:review hotline:handle)"

    def decide(self) -> str:
        path = f"/applications/{self.case_id}/actions"
        accepted = self.expect(self.call("POST", path, self.clerk, json={"action": "accept"}), 200)
        self.expect(self.call("POST", path, self.clerk, json={"action": "approve"}), 200)
        return f"accepted (due {accepted.get('due')}) and approved"

    def case(self) -> dict[str, Any]:
        return self.expect(self.call("GET", f"/applications/{self.case_id}", self.citizen), 200)

    def licence(self) -> str:
        issued = self.wait(
            "the e-licence",
            lambda: (c := self.case())["state"] in ("licence_issued", "closed") and c,
        )
        verdict = self.expect(self.call("POST", f"/licences/{issued['licence_id']}/verify"), 200)
        if verdict.get("valid") is not True:
            raise StepFailed(f"the e-licence does not verify: {verdict}")
        return f"e-licence {issued['licence_id']} issued and verified"

    def delivery(self) -> str:
        ems = self.simulators["ems"]

        def waybill() -> str | None:
            state = requests.get(f"{ems}/_sim/state", timeout=10).json()
            return next(
                (no for no, w in state["waybills"].items() if w["order"] == self.case_id), None
            )

        mail_no = self.wait("the EMS waybill", waybill)
        pushed = self.expect(
            requests.post(
                f"{ems}/_sim/advance", json={"mail_no": mail_no, "to": "delivered"}, timeout=30
            ),
            200,
        )
        hint = (
            "check `govbus dlq list` and EMS's push secret (after `govbus webhooks rotate "
            "ems`, the partner must sign with the new one)"
        )
        refused = [status for status in pushed.get("pushed", []) if status >= 400]
        if refused:
            raise StepFailed(
                f"EMS's tracking pushes were refused by the bus (HTTP {refused[0]}): {hint}"
            )
        try:
            self.wait("the case to close on delivery", lambda: self.case()["state"] == "closed")
        except StepFailed as exc:
            raise StepFailed(f"{exc}; the pushes may not have landed: {hint}") from None
        return f"waybill {mail_no}: {len(pushed['pushed'])} tracking pushes, case closed"

    def complaint(self) -> str:
        ticket = self.expect(
            self.call(
                "POST",
                "/hotline/tickets",
                self.citizen,
                json={
                    "kind": "complaint",
                    "title": "投诉",
                    "details": "窗口工作人员未一次性告知所需材料",
                    "agency": MARKET,
                },
            ),
            201,
        )
        self.expect(
            self.call(
                "POST",
                f"/hotline/tickets/{ticket['id']}/answer",
                self.clerk,
                json={"answer": "已核实并整改，感谢监督"},
            ),
            200,
        )
        seen = self.expect(self.call("GET", f"/hotline/tickets/{ticket['id']}", self.citizen), 200)
        if seen["status"] != "answered":
            raise StepFailed(f"the ticket is {seen['status']}, not answered")
        return f"ticket {ticket['id']} answered before its deadline {ticket['deadline']}"

    def client_of(self, agency: str, scopes: list[str]) -> str:
        from govbus.stores import clients

        client_id, secret = clients.create(
            agency, scopes, "govbus demo", table=f"{self.stack_name}-clients"
        )
        self.clients.append(client_id)
        answer = self.call(
            "POST", "/auth/token", json={"client_id": client_id, "client_secret": secret}
        )
        return self.expect(answer, 200)["access_token"]

    def approved(self, item: str, clerk: str) -> dict[str, Any]:
        """Apply for ``item`` (collected at the window), upload, submit, accept, approve."""
        created = self.expect(
            self.call(
                "POST",
                "/applications",
                self.citizen,
                json={
                    "item_code": item,
                    "applicant_name": CITIZEN_NAME,
                    "delivery": {"method": "collect"},
                },
            ),
            201,
        )
        self.created = created
        self.upload()
        case_id = created["id"]
        submitted = self.call("POST", f"/applications/{case_id}/submit", self.citizen)
        if self.expect(submitted, 200)["state"] != "pre_reviewed":
            raise StepFailed(f"pre-review of {case_id} did not pass")
        path = f"/applications/{case_id}/actions"
        self.expect(self.call("POST", path, clerk, json={"action": "accept"}), 200)
        return self.expect(self.call("POST", path, clerk, json={"action": "approve"}), 200)

    def state_of(self, case_id: str) -> dict[str, Any]:
        return self.expect(self.call("GET", f"/applications/{case_id}", self.citizen), 200)

    def fee_by_card(self) -> str:
        police = self.client_of(POLICE, ["cases:review"])
        waiting = self.approved(RENEW_DRIVING_LICENCE, police)
        if waiting["state"] != "awaiting_payment":
            raise StepFailed(f"the approved case is {waiting['state']}, not awaiting_payment")
        self.fee_case = waiting["id"]
        order_no = f"FEE-{self.fee_case}"
        self.wait(
            "the order at the non-tax platform",
            lambda: (
                (o := self.call("GET", f"/payments/{order_no}", self.citizen)).ok
                and o.json()["state"] == "pending"
            ),
        )
        paid = self.expect(
            self.call("POST", f"/payments/{order_no}/pay-by-card", self.citizen), 200
        )
        if paid["state"] != "paid":
            raise StepFailed(f"the order is {paid['state']} after paying by card")
        self.wait(
            "the result issued once paid",
            lambda: self.state_of(self.fee_case)["state"] in ("licence_issued", "closed"),
        )
        return f"{paid['amount_yuan']} yuan paid by citizen card, receipt {paid['receipt_no']}"

    def province_level(self) -> str:
        at_province = self.approved(DRUG_WHOLESALE, self.clerk)
        if at_province["state"] != "at_province":
            raise StepFailed(f"the city's approval left it {at_province['state']}")
        self.province_case_id = at_province["id"]
        received = self.wait(
            "the hall's receipt",
            lambda: (c := self.state_of(self.province_case_id))["province_case_no"] and c,
        )
        case_no = received["province_case_no"]
        hall = self.simulators["province"]
        self.expect(
            requests.post(
                f"{hall}/_sim/advance", json={"case_no": case_no, "to": "APPROVED"}, timeout=30
            ),
            200,
        )
        decided = self.wait(
            "the province's decision pushed back",
            lambda: (c := self.state_of(self.province_case_id))["state"] == "licence_issued" and c,
        )
        return f"hall case {case_no} approved at the province; e-licence {decided['licence_id']}"

    def revoke_clients(self) -> None:
        """Revoke the clients this run created: a demo leaves no live credentials behind."""
        from govbus.stores import clients

        revoked, kept = [], []
        for client_id in self.clients:
            try:
                clients.revoke(client_id, table=f"{self.stack_name}-clients")
                revoked.append(client_id)
            except Exception as exc:  # the stack may be gone: say so, do not hide the run's result
                kept.append(f"{client_id} ({type(exc).__name__}: {exc})")
        self.clients = []
        if revoked:
            print(f"\nrevoked the demo's client(s): {', '.join(revoked)}", file=self.out)
        if kept:
            print(f"\ncould not revoke: {'; '.join(kept)}", file=self.out)

    def run(self) -> int:
        try:
            return self._run()
        finally:
            self.revoke_clients()

    def _run(self) -> int:
        print(f"govbus demo against {self.gateway}\n", file=self.out)
        try:
            self.step("1 certificate login (CA)", self.login)
            self.step("2 apply, reusing a licence", self.apply)
            self.step("3 upload the missing material", self.upload)
            self.step("4 submit: automatic pre-review", self.submit)
            self.step("5 department client logs in", self.department_client)
            self.step("6 department accepts and approves", self.decide)
            self.step("7 e-licence issued", self.licence)
            self.step("8 EMS delivers, the case closes", self.delivery)
            self.step("9 12345 complaint answered", self.complaint)
            self.step("10 a fee paid by citizen card", self.fee_by_card)
            self.step("11 a province-level case decided at the hall", self.province_level)
        except StepFailed as exc:
            print(f"\ngovbus demo: step '{exc}' failed", file=self.out)
            return 1
        print("\ntimeline of the case:", file=self.out)
        for entry in self.case()["timeline"]:
            print(f"  {entry['at']:<32} {entry['action']:<18} {entry['actor']}", file=self.out)
        total = sum(elapsed for _, elapsed, _ in self.steps)
        print(f"\nall {len(self.steps)} steps passed in {total:.1f}s", file=self.out)
        return 0


def from_state_file(path: Path, out: TextIO, timeout: float = 60.0) -> Journey:
    """A journey against the stack `govbus dev` noted in ``path``; AWS calls go there too."""
    info = json.loads(path.read_text(encoding="utf-8"))
    os.environ["AWS_ENDPOINT_URL"] = info["endpoint"]
    os.environ["AWS_DEFAULT_REGION"] = info.get("region", "us-east-1")
    for key, value in (info.get("credentials") or {}).items():
        os.environ[key] = value
    return Journey(
        gateway=info["gateway"],
        simulators=info.get("simulators") or {},
        stack_name=info["stack_name"],
        out=out,
        timeout=timeout,
    )
