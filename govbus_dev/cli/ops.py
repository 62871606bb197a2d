"""The platform's commands: the local stack, adapters, DLQs, clients, secrets, audit."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

from govbus_dev.cli.app import (
    adapter_app,
    app,
    audit_app,
    clients_app,
    dlq_app,
    webhooks_app,
)
from govbus_dev.cli.output import print_json, progress, say, table, warn, warnings_once
from govbus_dev.cli.stack import (
    LOCAL_STACK,
    STATE_FILE,
    StackOption,
    StageOption,
    require_table,
    stack_dead_letter_queues,
    stack_name,
    template_file,
    use_local_stack_if_running,
)

JsonOption = Annotated[bool, typer.Option("--json", help="one JSON document, for scripts")]
TemplateOption = Annotated[
    str | None,
    typer.Option(
        "--template", help="the stack's template.yaml, naming its DLQs (default: ./template.yaml)"
    ),
]

# the scopes a department's client may be granted: the routes' own (docs/api.md's table,
# docs/openapi.json's security), less ``self`` (a citizen's) and ``ops`` (the ops role's);
# tests/unit/test_cli_refusals.py keeps the three in step
DEPARTMENT_SCOPES = (
    "appointments:manage",
    "bills:issue",
    "cases:proxy",
    "cases:review",
    "catalog:write",
    "disclosure:publish",
    "hotline:handle",
    "hotline:intake",
    "licences:issue",
    "licences:read",
    "payments:reconcile",
    "subjects:read",
    "subscriptions:manage",
)


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="gateway port")] = 3000,
    endpoint: Annotated[
        str | None, typer.Option(help="use this AWS endpoint instead of an embedded moto server")
    ] = None,
    root: Annotated[str, typer.Option(help="project folder holding template.yaml")] = ".",
    no_simulators: Annotated[bool, typer.Option("--no-simulators")] = False,
    no_seed: Annotated[bool, typer.Option("--no-seed", help="start without the demo data")] = False,
    state_file: Annotated[
        str | None,
        typer.Option(
            help=f"where to note the endpoint for other govbus commands (default ROOT/{STATE_FILE})"
        ),
    ] = None,
    no_schedules: Annotated[bool, typer.Option("--no-schedules")] = False,
) -> int:
    """Start the whole platform locally (what `make run` runs)."""
    import json

    from govbus.plugins import installed_adapters
    from govbus_dev.local.stack import LOCAL_CREDENTIALS, LocalStack

    started = time.monotonic()
    stack = LocalStack(
        root,
        port=port,
        endpoint=endpoint,
        simulators=not no_simulators,
        schedules=not no_schedules,
        # /health answers 503 "starting" until the demo data is in (see _mark_ready);
        # development only: a department developer's webhook receiver on this machine
        parameters={"InitialReadiness": "starting", "SubscriptionsAllowLoopback": "true"},
        # what every function runs: an adapter installed later is "not loaded until the
        # stack restarts" in all of them alike (govbus/health.py)
        environment={"GOVBUS_STACK_STARTED_WITH": ",".join(sorted(installed_adapters()))},
    )
    stop = threading.Event()
    starting = threading.Event()
    starting.set()
    state = Path(state_file) if state_file else Path(root) / STATE_FILE

    def _force(code: int, why: str) -> None:
        from govbus_dev.local.runtime import kill_every_worker

        killed = kill_every_worker()
        state.unlink(missing_ok=True)
        # os.write, not print: a signal can land while the main thread is printing
        os.write(2, f"govbus dev: {why}; {killed} worker(s) killed\n".encode())
        os._exit(code)

    def _deadline() -> None:
        time.sleep(STOP_DEADLINE_SECONDS)
        _force(1, f"still stopping after {STOP_DEADLINE_SECONDS:g} s: killed what remained")

    def _signal(signum: int, _frame: object) -> None:
        if stop.is_set():  # a second Ctrl-C or SIGTERM: no more waiting
            _force(128 + signum, "stopped at once on a second signal")
        stop.set()
        # whatever the graceful stop waits on (a stuck thread, a lock, a worker), the
        # process and every worker end within the deadline
        threading.Thread(target=_deadline, daemon=True, name="stop-deadline").start()
        if starting.is_set():
            raise _Stopping  # abandon the start (or the demo data) and stop what runs

    signal.signal(signal.SIGINT, _signal)
    signal.signal(signal.SIGTERM, _signal)
    try:
        try:
            stack.start()
        except OSError as exc:
            warn(f"govbus dev: cannot start: {exc}")
            return 1
        state.write_text(
            json.dumps(
                {
                    "endpoint": stack.endpoint,
                    "region": stack.region,
                    "stack_name": stack.stack_name,
                    "gateway": stack.url,
                    "credentials": LOCAL_CREDENTIALS if stack.moto else {},
                    # every partner simulator (name -> base URL), for outside tools
                    "simulators": {name: sim.url for name, sim in stack.simulators.items()},
                    # message brokers (the sensor feeds' MQTT broker), name -> URL
                    "brokers": {
                        name: sim.broker_url
                        for name, sim in stack.simulators.items()
                        if getattr(sim, "broker_url", "")
                    },
                    # the key devices derive their broker passwords from (adapters.iot.broker)
                    "device_keys": {
                        name: sim.device_key
                        for name, sim in stack.simulators.items()
                        if getattr(sim, "device_key", "")
                    },
                }
            )
        )
        published = ""
        if not no_seed:
            try:
                stack.seed()
            except Exception as exc:  # the platform runs without demo data too
                warn(f"govbus dev: demo data not loaded: {exc}")
            published = _publish_open_data(stack)
        _mark_ready(stack)
        starting.clear()
        print(stack.table(), flush=True)
        if published:
            print(
                f"\nopen data: {published}'s datasets published (GET /open-data lists them); "
                "another day: govbus open-data publish --day YYYY-MM-DD",
                flush=True,
            )
        print(
            f"\ngovbus is up in {time.monotonic() - started:.1f}s: try  curl {stack.url}/health"
            f"\nthe newcomer's journey: in another terminal, `make demo` (or  {sys.argv[0]} demo)"
            "\nCtrl-C stops it.",
            flush=True,
        )
        stop.wait()
    except _Stopping:
        pass
    finally:
        starting.clear()
        print(
            f"\nstopping (at most {STOP_DEADLINE_SECONDS:g} s; a second Ctrl-C stops at once)...",
            flush=True,
        )
        stack.stop()
        state.unlink(missing_ok=True)
    return 0


STOP_DEADLINE_SECONDS = 10.0
"""How long a stop of `govbus dev` may take before what remains is killed."""


class _Stopping(BaseException):
    """Raised by the signal handler into a start still under way: stop instead."""


def _publish_open_data(stack) -> str:
    """Run the open-data daily job once for yesterday (Beijing time), as its schedule
    would overnight, so /open-data lists downloads from the start; the day, or ""."""

    job = stack.functions.get("OpenDataFunction")
    if job is None:
        return ""
    from govbus.calendar import yesterday

    day = yesterday()
    try:
        job.invoke({"day": day.isoformat()})
    except Exception as exc:  # the platform runs without open data too
        warn(f"govbus dev: open data not published: {exc}")
        return ""
    return day.isoformat()


def _mark_ready(stack) -> None:
    """Tell /health the stack is ready: everything started, the demo data loaded."""
    assert stack.resolver is not None
    ssm = stack.session().client("ssm", endpoint_url=stack.endpoint)
    ssm.put_parameter(
        Name=stack.resolver.refs["ReadinessParameter"], Value="ready", Type="String", Overwrite=True
    )


@app.command()
def adapters(
    health: Annotated[
        bool,
        typer.Option(
            "--health", help="also each adapter's health (the stack's /health) and circuit state"
        ),
    ] = False,
    api: Annotated[
        str | None, typer.Option(help="the stack's API base URL (default: the running local stack)")
    ] = None,
    stack: StackOption = None,
    as_json: JsonOption = False,
) -> int:
    """List installed adapters: family, version, entry point and the hooks each implements."""
    from importlib.metadata import entry_points

    from contracts import hookspecs
    from govbus.plugins import (
        adapter_info,
        adapter_names,
        allowed_adapters,
        create_plugin_manager,
        implements,
    )

    pm = create_plugin_manager(allowed_adapters())
    hooks = [h for h in dir(hookspecs) if h.startswith("govbus_")]
    points = {ep.name: ep.value for ep in entry_points(group="govbus.adapters")}
    found = []
    for name in adapter_names(pm):
        info = adapter_info(pm, name)
        found.append(
            {
                "name": name,
                "family": info.family.value,
                "version": info.version,
                "title": info.title,
                "entry_point": points.get(name, ""),
                "hooks": [h.removeprefix("govbus_") for h in hooks if implements(pm, name, h)],
            }
        )
    columns = ["adapter", "family", "version", "entry point", "title", "hooks"]
    if health:
        use_local_stack_if_running()
        if not api and not LOCAL_STACK:
            warn(
                "govbus adapters --health: no running local stack here (start `make run` in "
                "this folder) and no --api URL of a deployed stack's API"
            )
            return 2
        pings = _pings(api or LOCAL_STACK.get("gateway"))
        circuits = f"{stack_name(stack)}-circuits"
        try:
            known = require_table(circuits)
        except Exception as exc:  # no region or credentials for the circuits' table
            from govbus_dev.cli import environment_problem

            reason = environment_problem(exc)
            if reason is None:
                raise
            warn(f"govbus adapters: circuits unknown: {reason}")
            known = False
        for adapter in found:
            ping = pings.get(adapter["name"], {})
            adapter["health"] = ping.get("status", "unknown")
            adapter["latency_ms"] = ping.get("latency_ms")
            adapter.update(_circuit(circuits, adapter["name"]) if known else _NO_CIRCUIT)
        columns[4:4] = ["health", "circuit"]
    if as_json:
        print_json(found)
        return 0
    if not found:
        say("no adapters installed")
        return 0
    table(
        columns,
        [
            (
                a["name"],
                a["family"],
                a["version"],
                a["entry_point"],
                *((a["health"], _circuit_text(a)) if health else ()),
                a["title"],
                ", ".join(a["hooks"]),
            )
            for a in found
        ],
    )
    return 0


def _pings(api: str | None) -> dict[str, dict]:
    """Each adapter's last ping, as the stack's ``GET /health`` reports it."""
    import json
    import urllib.error
    import urllib.request

    if not api:
        warn("govbus adapters: no --api and no running local stack: health unknown")
        return {}
    if not api.startswith(("http://", "https://")):
        warn(f"govbus adapters: --api {api!r} is not an http(s) URL: health unknown")
        return {}
    try:
        with urllib.request.urlopen(f"{api.rstrip('/')}/health", timeout=10) as answer:  # noqa: S310 - http(s) checked above
            report = json.load(answer)
    except urllib.error.HTTPError as exc:  # 503 while starting: a problem+json body
        warn(f"govbus adapters: {api}/health answered {exc.code}: health unknown")
        return {}
    except (urllib.error.URLError, OSError, ValueError) as exc:
        warn(f"govbus adapters: cannot read {api}/health ({exc}): health unknown")
        return {}
    pings = {ping["adapter"]: ping for ping in report.get("adapters", [])}
    for idle in report.get("not_loaded", []):  # installed after the stack started
        pings[idle["adapter"]] = {"status": idle["detail"], "latency_ms": None}
    return pings


_NO_CIRCUIT = {"circuit": "unknown", "circuit_since": None, "circuit_probe_in_s": None}


def _circuit(table_name: str, partner: str) -> dict:
    """The partner's shared circuit: ``closed``, ``open`` or ``half-open`` (a probe is
    under way), since when (UTC), and while open the seconds until a caller may probe.

    A ping that answers says the partner is up; an open circuit says the bus is not
    calling it yet (it failed recently): the two are shown side by side.
    """
    import datetime as _dt
    import time as _time

    from govbus.circuit import CircuitBreaker

    state = CircuitBreaker(table_name).state(partner)
    since = state["changed_at"]
    probe_in = None
    if state["state"] == "open":
        probe_in = max(0, round(state["open_until"] - _time.time()))
    return {
        "circuit": state["state"].replace("_", "-"),
        "circuit_since": (
            _dt.datetime.fromtimestamp(since, _dt.UTC).isoformat(timespec="seconds")
            if since
            else None
        ),
        "circuit_probe_in_s": probe_in,
    }


def _circuit_text(adapter: dict) -> str:
    """``open since 2026-11-27 18:40:12 UTC, probe in 20 s`` for the table."""
    text = adapter["circuit"]
    if adapter["circuit_since"]:
        text += f" since {adapter['circuit_since'].replace('T', ' ').replace('+00:00', ' UTC')}"
    if adapter["circuit_probe_in_s"] is not None:
        probe_in = adapter["circuit_probe_in_s"]
        text += f", probe in {probe_in} s" if probe_in else ", next call probes"
    return text


@adapter_app.command("new")
def adapter_new(
    name: str,
    folder: Annotated[
        str,
        typer.Option(
            "--dir", help="where to create govbus-adapter-NAME/ (outside the govbus checkout)"
        ),
    ] = ".",
    title: Annotated[str | None, typer.Option(help="the partner system's name, for humans")] = None,
) -> int:
    """Scaffold an installable adapter package that passes the adapter kit."""
    from govbus_dev.scaffold import new_adapter

    try:
        root = new_adapter(name, folder, title)
    except (ValueError, FileExistsError) as exc:
        warn(f"govbus adapter new: {exc}")
        return 2
    python = Path(sys.executable)
    say(
        f"created {root}\nnext: {python} -m pip install -e {root}"
        f" && make conformance ADAPTER={name}"
    )
    return 0


def _own_queues(command: str, stack: str | None, template: str | None) -> list[dict]:
    """This stack's dead-letter queues with their depth: the ones its template names (as
    the ops API's ``DEAD_LETTER_QUEUES``), never another stack's on the same endpoint."""
    from govbus import dlq

    name = stack_name(stack)
    found = template_file(template)
    if found is None or not found.is_file():
        # never guess by name: a stack whose name starts the same would be reached too
        where = f"{template} does not exist" if template else "no template.yaml here"
        raise LookupError(
            f"{where}: the stack's template names its dead-letter queues; run this in the "
            "project's folder or give --template PATH"
        )
    queues = dlq.named_queues(stack_dead_letter_queues(name, found))
    if not queues:
        warn(f"{command}: stack {name} has no dead-letter queue here (is --stack right?)")
    return queues


def _pick_queue(queues: list[dict], wanted: str, stack: str | None) -> str:
    """A queue URL from its full name, its name without the stack's prefix, or a URL."""
    names = ", ".join(q["name"] for q in queues) or "none"
    if wanted.startswith(("http://", "https://")):
        if wanted in {q["url"] for q in queues}:
            return wanted
        raise LookupError(f"{wanted} is not a dead-letter queue of stack {stack_name(stack)}")
    for matches in (
        lambda n: n == wanted,
        lambda n: n.endswith(f"-{wanted}"),
        lambda n: n.endswith(f"-{wanted}-dlq"),
    ):
        hits = [q["url"] for q in queues if matches(q["name"])]
        if len(hits) > 1:
            raise LookupError(f"{wanted!r} names more than one queue: give its full name ({names})")
        if hits:
            return hits[0]
    raise LookupError(
        f"no dead-letter queue named {wanted!r} in stack {stack_name(stack)} (there are: {names})"
    )


@dlq_app.command("list")
def dlq_list(
    queue: Annotated[str | None, typer.Argument(help="queue name (e.g. dispatch-dlq)")] = None,
    limit: Annotated[int, typer.Option(help="at most this many messages")] = 50,
    as_json: JsonOption = False,
    stack: StackOption = None,
    template: TemplateOption = None,
) -> int:
    """This stack's DLQs and their depth, or one DLQ's messages (age, event type, masked
    subject, reason)."""
    from govbus import dlq

    use_local_stack_if_running()
    try:
        queues = _own_queues("govbus dlq list", stack, template)
    except LookupError as exc:
        warn(f"govbus dlq list: {exc}")
        return 2
    if not queue:
        if as_json:
            print_json([{k: q[k] for k in ("name", "count", "sources")} for q in queues])
            return 0
        if not queues:
            say("no dead-letter queues")
            return 0
        table(
            ["queue", "depth", "from"],
            [
                (q["name"], f"{q['count']} message(s)", ", ".join(q["sources"]) or "-")
                for q in queues
            ],
        )
        return 0
    try:
        url = _pick_queue(queues, queue, stack)
    except LookupError as exc:
        warn(f"govbus dlq list: {exc}")
        return 2
    letters = dlq.peek(url, limit=limit)
    if as_json:
        print_json(
            [
                {
                    "message_id": letter.message_id,
                    "age_seconds": round(letter.age_seconds, 1),
                    "event_type": letter.event_type,
                    "subject": letter.subject,
                    "reason": letter.reason,
                }
                for letter in letters
            ]
        )
        return 0
    say(f"{len(letters)} message(s) in {queue}")
    if letters:
        table(
            ["message id", "age", "event type", "subject", "reason"],
            [
                (
                    letter.message_id,
                    dlq.format_age(letter.age_seconds),
                    letter.event_type,
                    letter.subject,
                    letter.reason,
                )
                for letter in letters
            ],
        )
    return 0


@dlq_app.command("redrive")
def dlq_redrive(
    queue: str,
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="only this message id (repeatable)")
    ] = None,
    stack: StackOption = None,
    template: TemplateOption = None,
) -> int:
    """Move messages back to their source queue (or the rule target they missed)."""
    from govbus import dlq

    use_local_stack_if_running()
    try:
        url = _pick_queue(_own_queues("govbus dlq redrive", stack, template), queue, stack)
        with progress(f"redriving {queue}", total=dlq.depth(url)) as step:
            stayed: list[str] = []
            moved = dlq.redrive(url, ids or None, on_letter=step, stayed=stayed)
    except LookupError as exc:
        warn(f"govbus dlq redrive: {exc}")
        return 2
    say(f"redrove {len(moved)} message(s) from {queue}")
    if stayed:
        warn(f"{len(stayed)} letter(s) stayed in {queue}: {dlq.STAYED_REASON}")
    absent = [i for i in ids or [] if i not in set(moved) | set(stayed)]
    if absent:
        warn(f"not in {queue}: {', '.join(absent)} (govbus dlq list {queue} shows its letters)")
        return 1
    return 0


@audit_app.command("verify")
def audit_verify(
    stack: StackOption = None,
    table_name: Annotated[
        str | None, typer.Option("--table", help="audit table name (default: STACK-audit)")
    ] = None,
    as_json: JsonOption = False,
) -> int:
    """Walk the chain (every day and shard); name the first broken link."""
    from govbus import audit

    use_local_stack_if_running()
    name = table_name or f"{stack_name(stack)}-audit"
    if not require_table(name):
        return 2
    with progress(f"verifying the audit chain in {name}") as step:

        def partitions(count: int):
            step.set_total(count)
            return step

        result = audit.verify(name, on_partitions=partitions)
    link = result.broken
    if as_json:
        print_json(
            {
                "ok": result.ok,
                "entries": result.entries,
                "partitions": result.partitions,
                "broken": None
                if link is None
                else {
                    "partition": link.partition,
                    "seq": link.seq,
                    "id": link.entry_id,
                    "reason": link.reason,
                },
            }
        )
        return 0 if result.ok else 1
    if result.ok:
        say(f"audit chain intact: {result.entries} entries in {result.partitions} partition(s)")
        return 0
    assert link is not None
    say(
        f"audit chain BROKEN at partition {link.partition}, entry {link.seq} "
        f"(id {link.entry_id}): {link.reason}",
        style="bold red",
    )
    return 1


def _audit_table(stack: str | None) -> str:
    return f"{stack_name(stack)}-audit"


@clients_app.command("create")
def clients_create(
    agency: Annotated[
        str | None,
        typer.Option(help="the department's credit code (for --role ops: the ops unit, ops-duty)"),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(help="a service granted, e.g. subjects:read (repeatable)"),
    ] = None,
    role: Annotated[
        str, typer.Option(help="department, or ops (the ops console and /ops routes only)")
    ] = "department",
    name: Annotated[str | None, typer.Option()] = None,
    stack: StackOption = None,
    table_name: Annotated[str | None, typer.Option("--table")] = None,
) -> int:
    """Create a department's (or an operator's) API client; prints its secret once."""
    from pydantic import ValidationError

    from contracts.identity import CreditCode
    from govbus import audit
    from govbus.stores import clients

    if role not in clients.ROLES:
        warn(f"govbus clients create: --role must be one of {', '.join(clients.ROLES)}")
        return 2
    if role == clients.OPS:
        extra = sorted(set(scope or []) - set(clients.OPS_SCOPES))
        if extra:
            warn(
                f"govbus clients create: an ops client holds the ops scope only, not "
                f"{', '.join(extra)} (create a department client for those)"
            )
            return 2
        scope = list(clients.OPS_SCOPES)  # an ops client holds exactly these
        agency = agency or "ops-duty"
    elif agency is None:
        warn("govbus clients create: a department client needs --agency CODE (its credit code)")
        return 2
    elif not scope:
        warn("govbus clients create: a department client needs at least one --scope")
        return 2
    else:
        unknown = sorted(set(scope) - set(DEPARTMENT_SCOPES) - set(clients.OPS_SCOPES))
        if unknown:
            warn(
                f"govbus clients create: unknown --scope {', '.join(unknown)}; "
                f"valid: {' '.join(DEPARTMENT_SCOPES)}"
            )
            return 2
        try:
            CreditCode(agency)
        except ValidationError as exc:
            warn(f"govbus clients create: --agency: {exc.errors()[0]['msg']}")
            return 2
    use_local_stack_if_running()
    # tables are named explicitly: the local stack swaps os.environ per invocation
    clients_table = table_name or f"{stack_name(stack)}-clients"
    audit_table = _audit_table(stack)
    if not (require_table(clients_table) and require_table(audit_table)):
        return 2
    scopes = " ".join(sorted(set(scope)))
    try:
        client_id, secret = clients.create(
            agency, scope, name or "", table=clients_table, role=role
        )
    except ValueError as exc:  # e.g. the ops scope asked for a department client
        warn(f"govbus clients create: {exc}")
        return 2
    audit.record(
        "client.created",
        actor=f"ops:{os.environ.get('USER', 'cli')}",
        target=agency,
        detail=f"{client_id}: {scopes}",
        table=audit_table,
    )
    say(
        f"client_id     {client_id}\nclient_secret {secret}\nscopes        "
        f"{scopes}\n(the secret is shown once; store it now)"
    )
    return 0


@clients_app.command("revoke")
def clients_revoke(
    client_id: str,
    stack: StackOption = None,
    table_name: Annotated[str | None, typer.Option("--table")] = None,
) -> int:
    """Revoke a client; its tokens stop working at the next request."""
    from contracts.errors import NotFound
    from govbus import audit
    from govbus.stores import clients

    use_local_stack_if_running()
    clients_table = table_name or f"{stack_name(stack)}-clients"
    audit_table = _audit_table(stack)
    if not (require_table(clients_table) and require_table(audit_table)):
        return 2
    try:
        clients.revoke(client_id, table=clients_table)
    except NotFound as exc:
        warn(f"govbus clients revoke: {exc}")
        return 2
    audit.record(
        "client.revoked",
        actor=f"ops:{os.environ.get('USER', 'cli')}",
        target=client_id,
        table=audit_table,
    )
    say(f"revoked {client_id}: its tokens stop working at the next request")
    return 0


def _webhook_key(partner: str):
    """How the partner's pushes verify: an adapter that declares nothing shares a secret."""
    from contracts.adapters import WebhookKey
    from govbus.plugins import adapter_info, create_plugin_manager, installed_adapters

    if partner not in installed_adapters():  # e.g. a test partner: a shared secret
        return WebhookKey.shared_secret
    pm = create_plugin_manager({partner})  # only this partner's adapter
    return adapter_info(pm, partner).webhook_key


def _read_public_key(path: Path) -> tuple[str, str]:
    """The PEM public key in ``path`` (normalised) and its fingerprint; ValueError says why not."""
    import hashlib

    from cryptography.hazmat.primitives import serialization

    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_public_key(text)
    except (ValueError, TypeError):
        raise ValueError(
            f"{path} holds no PEM public key (a -----BEGIN PUBLIC KEY----- block)"
        ) from None
    # the partners that sign with a key pair (the non-tax platform) sign RSA2:
    # SHA256withRSA; any other key would be stored and then verify nothing
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
        kind = f"RSA {key.key_size}-bit" if isinstance(key, rsa.RSAPublicKey) else "not RSA"
        raise ValueError(
            f"{path} holds a public key that is {kind}: the partner signs RSA2 "
            "(SHA256withRSA), so its key is RSA of at least 2048 bits"
        )
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return pem, "sha256:" + hashlib.sha256(der).hexdigest()


def _key_fingerprint(pem: str) -> str:
    import hashlib

    from cryptography.hazmat.primitives import serialization

    try:
        der = serialization.load_pem_public_key(pem.encode()).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except (ValueError, TypeError):
        return "(not a public key)"
    return "sha256:" + hashlib.sha256(der).hexdigest()


@webhooks_app.command("rotate")
def webhooks_rotate(
    partner: str,
    stage: StageOption = "dev",
    stack: StackOption = None,
    public_key_file: Annotated[
        Path | None,
        typer.Option(
            "--public-key-file",
            help="the partner's new PEM public key, for a partner that signs with its own "
            "key pair (nontax)",
        ),
    ] = None,
) -> int:
    """A new push secret for a partner; the current one stays valid as previous_secret.

    A partner verified by a shared secret gets a new one made here. A partner that signs
    with its own key pair (its adapter declares ``WebhookKey.public_key``: the non-tax
    platform) gets the new public key it published staged from ``--public-key-file``;
    without one the command refuses (exit 2), since a made-up secret could never verify.

    Checked before anything is written (the secret exists, the audit table is there),
    then one write conditional on the version read: two rotations racing cannot both
    win. A second rotate while one is pending (a previous secret still kept) changes
    nothing and shows the pending secret again: the partner's current secret is never
    dropped before `drop-previous`.
    """
    import base64
    import json
    import secrets
    import uuid

    from botocore.exceptions import ClientError

    from contracts.adapters import WebhookKey
    from contracts.signatures import active_secrets
    from govbus import audit
    from govbus.aws import client

    by_public_key = _webhook_key(partner) is WebhookKey.public_key
    if by_public_key and public_key_file is None:
        warn(
            f"govbus webhooks rotate: {partner} signs its pushes with its own key pair, so "
            f"no secret can be made here; ask it for its new public key and run "
            f"`govbus webhooks rotate {partner} --public-key-file NEW.pem`"
        )
        return 2
    if not by_public_key and public_key_file is not None:
        warn(
            f"govbus webhooks rotate: {partner} verifies with a shared secret, not a public "
            f"key; run it without --public-key-file"
        )
        return 2
    fingerprint = ""
    if public_key_file is not None:
        try:
            new, fingerprint = _read_public_key(public_key_file)
        except ValueError as exc:
            warn(f"govbus webhooks rotate: --public-key-file: {exc}")
            return 2
    else:
        new = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()

    def shown(secret: str) -> str:
        return (
            f"new public key {_key_fingerprint(secret)}"
            if by_public_key
            else (f"new secret    {secret}")
        )

    use_local_stack_if_running()
    name = f"govbus/{stage}/webhooks/{partner}"
    audit_table = _audit_table(stack)
    if not require_table(audit_table):
        return 2
    sm = client("secretsmanager")
    try:
        stored = sm.get_secret_value(SecretId=name)
    except sm.exceptions.ResourceNotFoundException:
        warn(f"govbus webhooks rotate: no secret {name}")
        return 2
    document = json.loads(stored["SecretString"])
    if document.get("previous_secret") and document.get("secret"):
        say(
            f"{name}: a rotation is already pending; nothing changed\n"
            f"{shown(document['secret'])}\n"
            f"once the partner signs with it: govbus webhooks drop-previous {partner}"
        )
        return 0
    current = active_secrets(document)
    if not current:
        warn(f"govbus webhooks rotate: {name} holds no secret to rotate from")
        return 2
    if new in current:
        say(f"{name}: that public key already verifies; nothing changed")
        return 0
    # every secret still in use stays: the one signing now, and any others it listed
    kept = {"secret": new, "previous_secret": current[0]}
    if len(current) > 1:
        kept["secrets"] = current[1:]
    try:
        sm.put_secret_value(
            SecretId=name,
            SecretString=json.dumps(kept),
            # one rotation per stored version: a racing second one is refused
            ClientRequestToken=str(uuid.uuid5(uuid.NAMESPACE_URL, name + stored["VersionId"])),
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in (
            "ResourceExistsException",
            "InvalidRequestException",
        ):
            raise
        warn(f"govbus webhooks rotate: {name} is being rotated by someone else")
        return 1
    audit.record(
        "adapter.secret_rotated",
        actor=f"ops:{os.environ.get('USER', 'cli')}",
        target=name,
        detail=(
            f"new public key {fingerprint} staged; the previous one stays valid"
            if by_public_key
            else "new push secret; the previous one stays valid"
        ),
        table=audit_table,
    )
    if by_public_key:
        say(
            f"rotated {name}\n{shown(new)} (staged; the previous key still verifies)\n"
            f"once the partner signs with its new key: govbus webhooks drop-previous {partner}"
        )
    else:
        handed = _hand_to_local_simulator(partner, new)
        say(
            f"rotated {name}\n{shown(new)}\n"
            + (
                f"the local {partner.upper()} simulator signs with it now; then run "
                if handed
                else "give it to the partner; once it signs with it: "
            )
            + f"govbus webhooks drop-previous {partner}"
        )
    return 0


def _hand_to_local_simulator(partner: str, secret: str) -> bool:
    """Give a rotated push secret to the partner's simulator of a local stack, as ops
    gives it to the real partner (else its pushes fail once the previous one is dropped).

    Only a simulator on loopback (the running `govbus dev`'s, or this process's stack's),
    and only one that takes it (``POST /_sim/push-secret``); whether it did."""
    import urllib.parse

    import requests

    url = LOCAL_STACK.get("simulators", {}).get(partner) or os.environ.get(
        f"GOVBUS_{partner.upper()}_ENDPOINT", ""
    )
    if urllib.parse.urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        return False  # a real partner's endpoint: the secret goes to it another way
    try:
        answer = requests.post(f"{url}/_sim/push-secret", json={"secret": secret}, timeout=10)
    except requests.RequestException as exc:
        warn(f"govbus webhooks rotate: the local {partner} simulator did not answer: {exc}")
        return False
    return answer.status_code == 200


@webhooks_app.command("drop-previous")
def webhooks_drop_previous(
    partner: str,
    stage: StageOption = "dev",
    stack: StackOption = None,
) -> int:
    """Stop accepting the previous push secret once the partner signs with the new one."""
    import json

    from govbus import audit
    from govbus.aws import client

    use_local_stack_if_running()
    name = f"govbus/{stage}/webhooks/{partner}"
    audit_table = _audit_table(stack)
    if not require_table(audit_table):
        return 2
    sm = client("secretsmanager")
    try:
        document = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    except sm.exceptions.ResourceNotFoundException:
        warn(f"govbus webhooks drop-previous: no secret {name}")
        return 2
    if not document.get("previous_secret") or not document.get("secret"):
        say(f"{name}: no previous secret to drop; nothing changed")
        return 0
    sm.put_secret_value(SecretId=name, SecretString=json.dumps({"secret": document["secret"]}))
    audit.record(
        "adapter.secret_rotated",
        actor=f"ops:{os.environ.get('USER', 'cli')}",
        target=name,
        detail="previous push secret dropped",
        table=audit_table,
    )
    say(f"{name}: only the current secret verifies now")
    return 0


@app.command()
def demo(
    state_file: Annotated[str, typer.Option(help="what `govbus dev` noted")] = STATE_FILE,
) -> int:
    """Walk a citizen's journey through the running stack, each step timed."""
    from govbus_dev.cli.stack import find_upward
    from govbus_dev.demo import from_state_file

    found = find_upward(state_file) if state_file == STATE_FILE else Path(state_file)
    if found is None or not found.exists():
        warn(f"govbus demo: no {state_file} here or above: start `make run` first")
        return 2
    return from_state_file(found, sys.stdout).run()


@app.command()
def reconcile(
    day: Annotated[str, typer.Option(help="YYYY-MM-DD (Beijing time)")],
    stack: StackOption = None,
    no_repair: Annotated[bool, typer.Option("--no-repair", help="report only")] = False,
) -> int:
    """Reconcile a day's payment statement now; print the mismatches per class."""
    import datetime as dt

    try:
        when = dt.date.fromisoformat(day)
    except ValueError:
        warn(f"govbus reconcile: --day {day!r} is not YYYY-MM-DD")
        return 2
    use_local_stack_if_running()
    name = stack_name(stack)
    # the logic is govbus/reconciliation.py's, as the function's; it reads its tables
    # from the environment, as the function does
    for variable, table_suffix in (
        ("PAYMENTS", "payments"),
        ("CASES", "cases"),
        ("CATALOG", "catalog"),
    ):
        os.environ.setdefault(f"{variable}_TABLE", f"{name}-{table_suffix}")
    os.environ.setdefault("OUTBOX_TABLE", f"{name}-outbox")
    os.environ.setdefault("PERSONAL_DATA_KEY_ID", f"alias/{name}-personal-data")
    from contracts.errors import GovbusError
    from govbus import reconciliation

    try:
        # progress by statement lines read (a statement's size is not known beforehand);
        # a warning repeated by line is said once, with how many more there were
        with (
            warnings_once(),
            progress(f"reconciling {when.isoformat()}", unit="lines read") as advance,
        ):
            report = reconciliation.run(when, repair=not no_repair, on_lines=advance)
    except GovbusError as exc:
        warn(f"govbus reconcile: {type(exc).__name__}: {exc}")
        return 1
    say(reconciliation.table(report))
    return 0
