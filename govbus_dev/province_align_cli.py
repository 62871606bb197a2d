"""``govbus province align``: the catalogue alignment report on the command line.

The alignment itself is the runtime's (govbus/province_align.py, also run weekly by the
``province_align`` function); this is only the developer's and operator's command.
"""

from __future__ import annotations

from typing import Annotated

import typer

from contracts.adapters import CallContext
from govbus.province_align import ADAPTER, render, run
from govbus_dev.cli.app import province_app
from govbus_dev.cli.output import say, warn
from govbus_dev.cli.stack import stack_name, use_local_stack_if_running


@province_app.command("align")
def align(
    stack: Annotated[
        str | None, typer.Option(help="stack name (default: the running local stack)")
    ] = None,
    table: Annotated[
        str | None, typer.Option(help="the catalogue table (default: <stack>-catalog)")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option(help="the hall's SOAP address (default: from settings)")
    ] = None,
    timeout: Annotated[float, typer.Option()] = 10.0,
    strict: Annotated[
        bool, typer.Option("--strict", help="exit 1 when anything disagrees (for CI)")
    ] = False,
) -> int:
    """Report city items whose code, name or time limit disagree with the province's."""
    import uuid

    from contracts.errors import GovbusError
    from govbus.aws import get_secret
    from govbus.plugins import adapter_settings, call, create_plugin_manager

    use_local_stack_if_running()
    pm = create_plugin_manager({ADAPTER})
    overrides = {"endpoint": endpoint} if endpoint else {}
    call(
        pm,
        ADAPTER,
        "govbus_adapter_configure",
        settings={**adapter_settings(ADAPTER), **overrides},
        get_secret=get_secret,
    )
    run_id = f"cli-{uuid.uuid4()}"
    ctx = CallContext(correlation_id=run_id, idempotency_key=run_id, timeout_seconds=timeout)
    try:
        report = run(pm, ctx, table or f"{stack_name(stack)}-catalog")
    except GovbusError as exc:
        warn(f"govbus province align: {type(exc).__name__}: {exc}")
        return 1
    say(render(report))
    return 1 if report.disagreements and strict else 0
