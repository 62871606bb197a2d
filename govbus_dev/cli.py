"""``govbus``: the command line of the platform.

govbus dev [--port 3000]      start the whole platform locally (what `make run` runs)
govbus adapters               list installed adapters and what they implement
govbus reconcile --day D      reconcile a day's payment statement, print the mismatches
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time

from govbus.observability import MaskingFilter, MaskingPlainFormatter

STATE_FILE = ".govbus-dev.json"


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(MaskingFilter())
    # masked after formatting, so a traceback cannot carry an identifier out either
    handler.setFormatter(MaskingPlainFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("govbus_dev.access", "botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_dev(args: argparse.Namespace) -> int:
    from govbus_dev.local.stack import LocalStack

    started = time.monotonic()
    stack = LocalStack(
        args.root,
        port=args.port,
        endpoint=args.endpoint,
        simulators=not args.no_simulators,
        schedules=not args.no_schedules,
        # /health answers 503 "starting" until the demo data is in (see _mark_ready);
        # development only: a department developer's webhook receiver on this machine
        parameters={"InitialReadiness": "starting", "SubscriptionsAllowLoopback": "true"},
    )
    stop = threading.Event()

    def _signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _signal)
    signal.signal(signal.SIGTERM, _signal)
    try:
        stack.start()
    except OSError as exc:
        print(f"govbus dev: cannot start: {exc}", file=sys.stderr)
        return 1
    import json
    from pathlib import Path

    from govbus_dev.local.stack import LOCAL_CREDENTIALS

    state = Path(args.state_file) if args.state_file else Path(args.root) / STATE_FILE
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
            }
        )
    )
    if not args.no_seed:
        try:
            stack.seed()
        except Exception as exc:  # the platform runs without demo data too
            print(f"govbus dev: demo data not loaded: {exc}", file=sys.stderr)
    _mark_ready(stack)
    print(stack.table(), flush=True)
    print(
        f"\ngovbus is up in {time.monotonic() - started:.1f}s: try  curl {stack.url}/health"
        f"\nthe newcomer's journey: in another terminal, `make demo` (or  {sys.argv[0]} demo)"
        "\nCtrl-C stops it.",
        flush=True,
    )
    try:
        stop.wait()
    finally:
        print("\nstopping...", flush=True)
        stack.stop()
        state.unlink(missing_ok=True)
    return 0


def _mark_ready(stack) -> None:
    """Tell /health the stack is ready: everything started, the demo data loaded."""
    assert stack.resolver is not None
    ssm = stack.session().client("ssm", endpoint_url=stack.endpoint)
    ssm.put_parameter(
        Name=stack.resolver.refs["ReadinessParameter"], Value="ready", Type="String", Overwrite=True
    )


def cmd_adapters(args: argparse.Namespace) -> int:
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
    names = adapter_names(pm)
    if not names:
        print("no adapters installed")
    for name in names:
        info = adapter_info(pm, name)
        served = [h.removeprefix("govbus_") for h in hooks if implements(pm, name, h)]
        print(f"{name:<16} {info.family.value:<15} {info.version:<8} {info.title}")
        print(f"{'':<16} hooks: {', '.join(served)}")
    return 0


# what `_use_local_stack_if_running` found: the running `govbus dev`'s state, if any
_LOCAL_STACK: dict = {}


def _use_local_stack_if_running(root: str = ".") -> None:
    """Point at a running `govbus dev` when no endpoint is set (ops on a laptop)."""
    import json
    import os
    from pathlib import Path

    state = Path(root) / STATE_FILE
    if "AWS_ENDPOINT_URL" not in os.environ and state.exists():
        info = json.loads(state.read_text())
        _LOCAL_STACK.clear()
        _LOCAL_STACK.update(info)
        os.environ["AWS_ENDPOINT_URL"] = info["endpoint"]
        os.environ.setdefault("AWS_DEFAULT_REGION", info.get("region", "us-east-1"))
        for key, value in info.get("credentials", {}).items():
            os.environ.setdefault(key, value)
        # commands that call a partner (province align, reconcile) reach its simulator,
        # as the stack's own functions do
        for name, url in info.get("simulators", {}).items():
            os.environ.setdefault(f"GOVBUS_{name.upper()}_ENDPOINT", url)
        print(f"(using the local stack at {info['endpoint']})", file=sys.stderr)


def cmd_dlq_list(args: argparse.Namespace) -> int:
    from govbus import dlq

    _use_local_stack_if_running()
    if not args.queue:
        queues = dlq.dead_letter_queues()
        if not queues:
            print("no dead-letter queues")
        for q in queues:
            print(
                f"{q['name']:<40} {q['count']:>6} message(s)  from {', '.join(q['sources']) or '-'}"
            )
        return 0
    letters = dlq.peek(dlq.resolve_queue(args.queue), limit=args.limit)
    print(f"{len(letters)} message(s) in {args.queue}")
    for letter in letters:
        print(
            f"{letter.message_id}  age {dlq.format_age(letter.age_seconds):>6}  "
            f"{letter.event_type:<28} subject {letter.subject:<20} {letter.reason}"
        )
    return 0


def cmd_dlq_redrive(args: argparse.Namespace) -> int:
    from govbus import dlq

    _use_local_stack_if_running()
    try:
        moved = dlq.redrive(dlq.resolve_queue(args.queue), args.id or None)
    except LookupError as exc:
        print(f"govbus dlq redrive: {exc}", file=sys.stderr)
        return 2
    print(f"redrove {len(moved)} message(s) from {args.queue}")
    return 0


def cmd_adapter_new(args: argparse.Namespace) -> int:
    from govbus_dev.scaffold import new_adapter

    try:
        root = new_adapter(args.name, args.dir, args.title)
    except (ValueError, FileExistsError) as exc:
        print(f"govbus adapter new: {exc}", file=sys.stderr)
        return 2
    print(f"created {root}\nnext: pip install -e {root} && make conformance ADAPTER={args.name}")
    return 0


def _stack_name(args: argparse.Namespace) -> str:
    """--stack; else the running local stack's name; else $GOVBUS_STACK or govbus-dev.

    Call after :func:`_use_local_stack_if_running` (which sets AWS_ENDPOINT_URL, so the
    environment alone can no longer tell that the local stack is the one meant).
    """
    import os

    if getattr(args, "stack", None):
        return args.stack
    if _LOCAL_STACK:
        return _LOCAL_STACK.get("stack_name", "govbus-local")
    return os.environ.get("GOVBUS_STACK", "govbus-dev")


def _require_table(table: str) -> bool:
    """Whether ``table`` exists; prints why not (wrong --stack, stack not running)."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    from govbus.aws import client

    try:
        client("dynamodb").describe_table(TableName=table)
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        reason = "no such table (is --stack right? is the stack deployed or running?)"
    except EndpointConnectionError as exc:
        reason = f"cannot reach the endpoint: {exc}"
    print(f"govbus: {table}: {reason}", file=sys.stderr)
    return False


def cmd_audit_verify(args: argparse.Namespace) -> int:

    from govbus import audit

    _use_local_stack_if_running()
    table = args.table or f"{_stack_name(args)}-audit"
    if not _require_table(table):
        return 2
    result = audit.verify(table)
    if result.ok:
        print(f"audit chain intact: {result.entries} entries in {result.partitions} partition(s)")
        return 0
    link = result.broken
    assert link is not None
    print(
        f"audit chain BROKEN at partition {link.partition}, entry {link.seq} "
        f"(id {link.entry_id}): {link.reason}"
    )
    return 1


def cmd_clients_create(args: argparse.Namespace) -> int:
    import os

    from pydantic import ValidationError

    from contracts.identity import CreditCode
    from govbus.stores import clients

    try:
        CreditCode(args.agency)
    except ValidationError as exc:
        print(f"govbus clients create: --agency: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    _use_local_stack_if_running()
    # tables are named explicitly: the local stack swaps os.environ per invocation
    table, audit_table = args.table or f"{_stack_name(args)}-clients", _audit_table(args)
    if not (_require_table(table) and _require_table(audit_table)):
        return 2
    client_id, secret = clients.create(args.agency, args.scope, args.name or "", table=table)
    from govbus import audit

    audit.record(
        "client.created",
        actor=f"ops:{os.environ.get('USER', 'cli')}",
        target=args.agency,
        detail=f"{client_id}: {' '.join(sorted(set(args.scope)))}",
        table=audit_table,
    )
    print(
        f"client_id     {client_id}\nclient_secret {secret}\nscopes        "
        f"{' '.join(sorted(set(args.scope)))}\n(the secret is shown once; store it now)"
    )
    return 0


def cmd_clients_revoke(args: argparse.Namespace) -> int:
    import os

    from govbus import audit
    from govbus.stores import clients

    _use_local_stack_if_running()
    from contracts.errors import NotFound

    table, audit_table = args.table or f"{_stack_name(args)}-clients", _audit_table(args)
    if not (_require_table(table) and _require_table(audit_table)):
        return 2
    try:
        clients.revoke(args.client_id, table=table)
    except NotFound as exc:
        print(f"govbus clients revoke: {exc}", file=sys.stderr)
        return 2
    audit.record(
        "client.revoked",
        actor=f"ops:{os.environ.get('USER', 'cli')}",
        target=args.client_id,
        table=audit_table,
    )
    print(f"revoked {args.client_id}: its tokens stop working at the next request")
    return 0


def _audit_table(args: argparse.Namespace) -> str:
    return f"{_stack_name(args)}-audit"


def cmd_rotate_push_secret(args: argparse.Namespace) -> int:
    """A new push secret for a partner; the current one stays valid as previous_secret.

    Checked before anything is written (the secret exists, the audit table is there),
    then one write conditional on the version read: two rotations racing cannot both
    win. A second rotate while one is pending (a previous secret still kept) changes
    nothing and shows the pending secret again: the partner's current secret is never
    dropped before `drop-previous`.
    """
    import base64
    import json
    import os
    import secrets
    import uuid

    from botocore.exceptions import ClientError

    from contracts.signatures import active_secrets
    from govbus import audit
    from govbus.aws import client

    _use_local_stack_if_running()
    name = f"govbus/{args.stage}/webhooks/{args.partner}"
    audit_table = _audit_table(args)
    if not _require_table(audit_table):
        return 2
    sm = client("secretsmanager")
    try:
        stored = sm.get_secret_value(SecretId=name)
    except sm.exceptions.ResourceNotFoundException:
        print(f"govbus webhooks rotate: no secret {name}", file=sys.stderr)
        return 2
    document = json.loads(stored["SecretString"])
    if document.get("previous_secret") and document.get("secret"):
        print(
            f"{name}: a rotation is already pending; nothing changed\n"
            f"new secret    {document['secret']}\n"
            f"once the partner signs with it: govbus webhooks drop-previous {args.partner}"
        )
        return 0
    current = active_secrets(document)
    if not current:
        print(f"govbus webhooks rotate: {name} holds no secret to rotate from", file=sys.stderr)
        return 2
    new = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
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
        print(f"govbus webhooks rotate: {name} is being rotated by someone else", file=sys.stderr)
        return 1
    audit.record(
        "adapter.secret_rotated",
        actor=f"ops:{os.environ.get('USER', 'cli')}",
        target=name,
        detail="new push secret; the previous one stays valid",
        table=audit_table,
    )
    print(
        f"rotated {name}\nnew secret    {new}\n"
        f"give it to the partner; once it signs with it: "
        f"govbus webhooks drop-previous {args.partner}"
    )
    return 0


def cmd_drop_previous(args: argparse.Namespace) -> int:
    import json
    import os

    from govbus import audit
    from govbus.aws import client

    _use_local_stack_if_running()
    name = f"govbus/{args.stage}/webhooks/{args.partner}"
    audit_table = _audit_table(args)
    if not _require_table(audit_table):
        return 2
    sm = client("secretsmanager")
    try:
        document = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    except sm.exceptions.ResourceNotFoundException:
        print(f"govbus webhooks drop-previous: no secret {name}", file=sys.stderr)
        return 2
    if not document.get("previous_secret") or not document.get("secret"):
        print(f"{name}: no previous secret to drop; nothing changed")
        return 0
    sm.put_secret_value(SecretId=name, SecretString=json.dumps({"secret": document["secret"]}))
    audit.record(
        "adapter.secret_rotated",
        actor=f"ops:{os.environ.get('USER', 'cli')}",
        target=name,
        detail="previous push secret dropped",
        table=audit_table,
    )
    print(f"{name}: only the current secret verifies now")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from govbus_dev.demo import from_state_file

    if not Path(args.state_file).exists():
        print(f"govbus demo: no {args.state_file} here: start `make run` first", file=sys.stderr)
        return 2
    return from_state_file(Path(args.state_file), sys.stdout).run()


def cmd_reconcile(args: argparse.Namespace) -> int:
    """Reconcile a day now (the logic is govbus/reconciliation.py's, as the function's)."""
    import datetime as dt
    import os

    try:
        day = dt.date.fromisoformat(args.day)
    except ValueError:
        print(f"govbus reconcile: --day {args.day!r} is not YYYY-MM-DD", file=sys.stderr)
        return 2
    _use_local_stack_if_running()
    stack = _stack_name(args)
    for name, table in (("PAYMENTS", "payments"), ("CASES", "cases"), ("CATALOG", "catalog")):
        os.environ.setdefault(f"{name}_TABLE", f"{stack}-{table}")
    os.environ.setdefault("OUTBOX_TABLE", f"{stack}-outbox")
    os.environ.setdefault("PERSONAL_DATA_KEY_ID", f"alias/{stack}-personal-data")
    from contracts.errors import GovbusError
    from govbus import reconciliation

    try:
        report = reconciliation.run(day, repair=not args.no_repair)
    except GovbusError as exc:
        print(f"govbus reconcile: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(reconciliation.table(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="govbus", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="start the whole platform locally")
    dev.add_argument("--port", type=int, default=3000, help="gateway port (default 3000)")
    dev.add_argument("--endpoint", help="use this AWS endpoint instead of an embedded moto server")
    dev.add_argument("--root", default=".", help="project folder holding template.yaml")
    dev.add_argument("--no-simulators", action="store_true")
    dev.add_argument("--no-seed", action="store_true", help="start without the demo data")
    dev.add_argument(
        "--state-file",
        help=f"where to note the endpoint for other govbus commands (default ROOT/{STATE_FILE})",
    )
    dev.add_argument("--no-schedules", action="store_true")
    dev.set_defaults(func=cmd_dev)

    adapters = sub.add_parser("adapters", help="list installed adapters")
    adapters.set_defaults(func=cmd_adapters)

    adapter = sub.add_parser("adapter", help="work on adapters")
    adapter_sub = adapter.add_subparsers(dest="adapter_command", required=True)
    new = adapter_sub.add_parser("new", help="scaffold an installable adapter package")
    new.add_argument("name")
    new.add_argument("--dir", default=".", help="where to create govbus-adapter-NAME/")
    new.add_argument("--title", help="the partner system's name, for humans")
    new.set_defaults(func=cmd_adapter_new)

    audit_cmd = sub.add_parser("audit", help="the audit chain")
    audit_sub = audit_cmd.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="walk the chain; name the first broken link")
    verify.add_argument("--stack", help="stack name (default: the running local stack)")
    verify.add_argument("--table", help="audit table name (default: STACK-audit)")
    verify.set_defaults(func=cmd_audit_verify)

    clients_cmd = sub.add_parser("clients", help="departments' API clients")
    clients_sub = clients_cmd.add_subparsers(dest="clients_command", required=True)
    create = clients_sub.add_parser("create", help="create a client; prints its secret once")
    create.add_argument("--agency", required=True, help="the department's credit code")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        help="a service granted, e.g. subjects:read (repeatable)",
    )
    create.add_argument("--name")
    create.add_argument("--stack")
    create.add_argument("--table")
    create.set_defaults(func=cmd_clients_create)
    revoke = clients_sub.add_parser("revoke", help="revoke a client; its tokens stop at once")
    revoke.add_argument("client_id")
    revoke.add_argument("--stack")
    revoke.add_argument("--table")
    revoke.set_defaults(func=cmd_clients_revoke)

    webhooks = sub.add_parser("webhooks", help="partners' push secrets")
    webhooks_sub = webhooks.add_subparsers(dest="webhooks_command", required=True)
    rotate = webhooks_sub.add_parser("rotate", help="a new push secret, the old one still valid")
    rotate.add_argument("partner")
    rotate.add_argument("--stage", default="dev")
    rotate.add_argument("--stack")
    rotate.set_defaults(func=cmd_rotate_push_secret)
    drop = webhooks_sub.add_parser("drop-previous", help="stop accepting the previous secret")
    drop.add_argument("partner")
    drop.add_argument("--stage", default="dev")
    drop.add_argument("--stack")
    drop.set_defaults(func=cmd_drop_previous)

    dlq = sub.add_parser("dlq", help="dead-letter queues: list and redrive")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_sub.add_parser("list", help="DLQs and their depth, or one DLQ's messages")
    dlq_list.add_argument("queue", nargs="?", help="queue name (e.g. dispatch-dlq)")
    dlq_list.add_argument("--limit", type=int, default=50)
    dlq_list.set_defaults(func=cmd_dlq_list)
    dlq_redrive = dlq_sub.add_parser("redrive", help="move messages back to their source queue")
    dlq_redrive.add_argument("queue")
    dlq_redrive.add_argument("--id", action="append", help="only this message id (repeatable)")
    dlq_redrive.set_defaults(func=cmd_dlq_redrive)

    demo = sub.add_parser("demo", help="walk a citizen's journey through the running stack")
    demo.add_argument("--state-file", default=STATE_FILE, help="what `govbus dev` noted")
    demo.set_defaults(func=cmd_demo)

    from govbus_dev.province_align_cli import add_cli as add_province_commands

    add_province_commands(sub)

    reconcile = sub.add_parser("reconcile", help="reconcile a day's payment statement now")
    reconcile.add_argument("--day", required=True, help="YYYY-MM-DD (Beijing time)")
    reconcile.add_argument("--stack")
    reconcile.add_argument("--no-repair", action="store_true", help="report only")
    reconcile.set_defaults(func=cmd_reconcile)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
