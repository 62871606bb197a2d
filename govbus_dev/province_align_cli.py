"""``govbus province align``: the catalogue alignment report on the command line.

The alignment itself is the runtime's (govbus/province_align.py, also run weekly by the
``province_align`` function); this is only the developer's and operator's command.
"""

from __future__ import annotations

import argparse
import sys

from contracts.adapters import CallContext
from govbus.province_align import ADAPTER, render, run


def cmd_align(args: argparse.Namespace) -> int:
    import uuid

    from contracts.errors import GovbusError
    from govbus.aws import get_secret
    from govbus.plugins import adapter_settings, call, create_plugin_manager
    from govbus_dev.cli import _stack_name, _use_local_stack_if_running

    _use_local_stack_if_running()
    pm = create_plugin_manager({ADAPTER})
    overrides = {"endpoint": args.endpoint} if args.endpoint else {}
    call(
        pm,
        ADAPTER,
        "govbus_adapter_configure",
        settings={**adapter_settings(ADAPTER), **overrides},
        get_secret=get_secret,
    )
    run_id = f"cli-{uuid.uuid4()}"
    ctx = CallContext(correlation_id=run_id, idempotency_key=run_id, timeout_seconds=args.timeout)
    try:
        report = run(pm, ctx, args.table or f"{_stack_name(args)}-catalog")
    except GovbusError as exc:
        print(f"govbus province align: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(render(report))
    return 1 if report.disagreements and args.strict else 0


def add_cli(sub: argparse._SubParsersAction) -> None:
    """Register ``govbus province ...`` on the CLI's subcommands."""
    province = sub.add_parser("province", help="the provincial online hall")
    province_sub = province.add_subparsers(dest="province_command", required=True)
    align = province_sub.add_parser(
        "align", help="report city items whose code, name or time limit disagree"
    )
    align.add_argument("--stack", help="stack name (default: the running local stack)")
    align.add_argument("--table", help="the catalogue table (default: <stack>-catalog)")
    align.add_argument("--endpoint", help="the hall's SOAP address (default: from settings)")
    align.add_argument("--timeout", type=float, default=10.0)
    align.add_argument(
        "--strict", action="store_true", help="exit 1 when anything disagrees (for CI)"
    )
    align.set_defaults(func=cmd_align)
