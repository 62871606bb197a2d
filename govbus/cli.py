"""``govbus``: the command line of the platform.

govbus dev [--port 3000]      start the whole platform locally (what `make run` runs)
govbus adapters               list installed adapters and what they implement
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time

from govbus.observability import MaskingFilter


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(MaskingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("govbus_dev.access", "botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_dev(args: argparse.Namespace) -> int:
    from govbus.local.stack import LocalStack

    started = time.monotonic()
    stack = LocalStack(
        args.root,
        port=args.port,
        endpoint=args.endpoint,
        simulators=not args.no_simulators,
        schedules=not args.no_schedules,
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
    print(stack.table(), flush=True)
    print(
        f"\ngovbus is up in {time.monotonic() - started:.1f}s: try  curl {stack.url}/health"
        "\nCtrl-C stops it.",
        flush=True,
    )
    try:
        stop.wait()
    finally:
        print("\nstopping...", flush=True)
        stack.stop()
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="govbus", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="start the whole platform locally")
    dev.add_argument("--port", type=int, default=3000, help="gateway port (default 3000)")
    dev.add_argument("--endpoint", help="use this AWS endpoint instead of an embedded moto server")
    dev.add_argument("--root", default=".", help="project folder holding template.yaml")
    dev.add_argument("--no-simulators", action="store_true")
    dev.add_argument("--no-schedules", action="store_true")
    dev.set_defaults(func=cmd_dev)

    adapters = sub.add_parser("adapters", help="list installed adapters")
    adapters.set_defaults(func=cmd_adapters)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
