"""``govbus dev``: the whole platform on one machine, from template.yaml.

1. an AWS endpoint: moto server on 127.0.0.1 (or ``AWS_ENDPOINT_URL`` when set);
2. every non-function resource of the template, provisioned over the wire;
3. every installed adapter's simulator, its URL handed to the adapter;
4. an HTTP gateway for the template's ``Api``/``HttpApi`` events (authorizers too);
5. a poller per ``SQS`` and ``DynamoDB`` (stream) event source and a timer per
   ``Schedule`` event;
6. every function in execution environments of its own (worker processes, started on
   demand; see :mod:`govbus_dev.local.runtime`).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import os
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3

from govbus_dev import botocore_data
from govbus_dev.local.gateway import Authorizer, Gateway, Route
from govbus_dev.local.pollers import DynamoDBStreamPoller, SqsPoller
from govbus_dev.local.provision import Provisioning, provision
from govbus_dev.local.runtime import DEFAULT_CONCURRENCY, LocalFunction
from govbus_dev.local.schedules import Schedule
from govbus_dev.local.template import (
    Resolver,
    function_specs,
    load_template,
    parameter_defaults,
)

log = logging.getLogger("govbus_dev")

# per virtual environment: the data matches the botocore installed there
DATA_CACHE = Path(sys.prefix) / "govbus"
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclasses.dataclass
class Row:
    what: str
    name: str
    where: str


class LocalStack:
    def __init__(
        self,
        root: str | Path = ".",
        *,
        template: str = "template.yaml",
        endpoint: str | None = None,
        region: str = "us-east-1",
        stack_name: str = "govbus-local",
        host: str = "127.0.0.1",
        port: int = 3000,
        parameters: dict[str, str] | None = None,
        simulators: bool = True,
        pollers: bool = True,
        schedules: bool = True,
        retry_delay_seconds: float = 1,
        environment: dict[str, str] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        """``environment``: variables every function gets on top of the template's (as
        ``sam local --env-vars``), e.g. development adapters for tests; ``concurrency``:
        execution environments per function where the template reserves none."""
        self.root = Path(root).resolve()
        self.template = load_template(self.root / template)
        self.endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL")
        self.region = region
        self.stack_name = stack_name
        self.host = host
        self.port = port
        self.parameters = parameter_defaults(self.template, parameters)
        self.want_simulators = simulators
        self.want_pollers = pollers
        self.want_schedules = schedules
        self.retry_delay_seconds = retry_delay_seconds
        self.moto: Any = None
        self.resolver: Resolver | None = None
        self.provisioning: Provisioning | None = None
        self.functions: dict[str, LocalFunction] = {}
        self.gateway: Gateway | None = None
        self.url = ""
        self.concurrency = concurrency
        self.pollers: list[SqsPoller | DynamoDBStreamPoller] = []
        self.schedules: list[Schedule] = []
        self.simulators: dict[str, Any] = {}
        self.base_env: dict[str, str] = {}
        self.overrides: dict[str, str] = dict(environment or {})
        self.seeded: dict[str, Any] = {}
        # provisioning's session and clients, made once and reused by every reset (a
        # client costs more to build than the call it makes); the endpoint is fixed
        # once started; used by the thread that starts and resets the stack
        self._provisioning_session: boto3.session.Session | None = None
        self._provisioning_clients: dict[str, Any] = {}
        # the in-process emulator's state after provisioning and after seeding, and its
        # fingerprint right after the last reset (see reset and seed)
        self._clean: Any = None
        self._snapshot_secrets: dict[str, str] = {}  # the simulators' at the clean snapshot
        self._seed_snapshot: tuple[Any, dict[str, Any]] | None = None
        self._restored: str | None = None

    # --- lifecycle ------------------------------------------------------------

    def start(self) -> LocalStack:
        try:
            self._start_endpoint()
            self.provision()
            if self.want_simulators:
                self._start_simulators()
            self._load_functions()
            self._start_gateway()
            if self.want_pollers:
                for poller in self.pollers:
                    poller.start()
            if self.want_schedules:
                for schedule in self.schedules:
                    schedule.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        # every schedule and poller is told at once, so they finish their batches side by
        # side: stopped one by one, a loaded machine took 30-40 s to stop
        for part in [*self.schedules, *self.pollers]:
            part.request_stop()
        for part in [*self.schedules, *self.pollers]:
            part.stop()
        if self.gateway:
            self.gateway.stop()
            self.gateway = None
        # side by side too: each simulator's server takes up to half a second to notice
        # its shutdown, and each function's environments are killed and waited for
        _side_by_side(
            [fn.stop for fn in self.functions.values()]
            + [simulator.stop for simulator in self.simulators.values()]
        )
        self.simulators.clear()
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        self._provisioning_session = None
        self._provisioning_clients.clear()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- parts ------------------------------------------------------------------

    def _start_endpoint(self) -> None:
        if not self.endpoint:
            from govbus_dev.local.endpoint import AtomicMotoServer

            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call
            self.moto = AtomicMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self.moto.start()
            host, port = self.moto.get_host_and_port()
            self.endpoint = f"http://{host}:{port}"
            # the emulator accepts any credentials; never let a real profile leak in
            os.environ.update(LOCAL_CREDENTIALS)
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint
        os.environ.setdefault("AWS_DEFAULT_REGION", self.region)
        os.environ.setdefault("AWS_REGION", self.region)
        # loopback webhooks are allowed on a dev stack, but not into the stack itself: a
        # subscription to the AWS endpoint or the gateway would post into the platform
        own_ports = [urllib.parse.urlsplit(self.endpoint).port, self.port or None]
        self.base_env.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_DEV": "false",
                "SUBSCRIPTIONS_RESERVED_PORTS": ",".join(str(p) for p in own_ports if p),
            }
        )
        from govbus.aws import clear_caches

        clear_caches()

    def session(self) -> boto3.session.Session:
        return boto3.session.Session(region_name=self.region)

    def provision(self) -> Provisioning:
        """Create every resource (again, after a reset); idempotent."""
        self.resolver = Resolver(self.stack_name, self.region, dict(self.parameters))
        if self._provisioning_session is None:
            self._provisioning_session = self.session()
        self.provisioning = provision(
            self.template, self.resolver, self._provisioning_session, self._provisioning_clients
        )
        return self.provisioning

    def reset(self) -> None:
        """Bring the emulator back to the template just provisioned (tests, between cases).

        The first reset wipes the emulator and provisions the template over the wire;
        with the moto server this process runs, the state it leaves is then kept as a
        snapshot (:mod:`govbus_dev.local.snapshot`), and every later reset writes that
        back in milliseconds: the same tables, queues, bus, rules, parameters, secrets and
        KMS key (so warm environments stay warm), every item and message gone."""
        if not self.endpoint:
            raise RuntimeError("not started")
        # no invocation may straddle the reset: one from before would write its effect
        # into the freshly provisioned tables
        with self._paused():
            if self.moto is None or self._clean is None:
                self._reset_and_provision()
                if self.moto is not None:
                    from govbus_dev.local import snapshot

                    self._clean = snapshot.take(self.endpoint, "clean")
                    self._snapshot_secrets = self._simulator_secrets()
                self._after_restore()
            else:
                self._restore(self._clean)

    @contextlib.contextmanager
    def _paused(self) -> Iterator[None]:
        pollers = self.pollers
        for poller in pollers:
            poller.pause()
        try:
            yield
        finally:
            for poller in pollers:
                poller.resume()

    def _reset_and_provision(self) -> None:
        reset_url = f"{self.endpoint}/moto-api/reset"
        if not reset_url.startswith(("http://", "https://")):
            raise RuntimeError(f"not an HTTP endpoint: {self.endpoint}")
        request = urllib.request.Request(reset_url, method="POST")  # noqa: S310 - checked above
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - checked above
            pass
        # an emulator reset by hand (or by another stack on this endpoint) is provisioned
        # anew here, and the snapshots taken before it are void
        self._clean = None
        self._seed_snapshot = None
        self.provision()
        self.store_simulator_secrets()

    def _restore(self, name: str) -> None:
        from govbus_dev.local import snapshot

        # a restored table's stream would repeat sequence numbers its poller has read: the
        # endpoint gives each table a stream of its own, as a table made again would have
        streams = snapshot.restore(self.endpoint, name)
        # a simulator is not reset with the emulator: one whose credentials changed since
        # the snapshot (a push secret rotated by a test) has them stored again, as ops would
        changed = {
            secret_id: value
            for secret_id, value in self._simulator_secrets().items()
            if self._snapshot_secrets.get(secret_id) != value
        }
        if changed:
            self._put_secrets(changed)
        assert self.resolver is not None
        for logical, attrs in self.resolver.attrs.items():
            table = str(self.resolver.refs.get(logical))
            if "StreamArn" in attrs and table in streams:
                attrs["StreamArn"] = streams[table]
        self._after_restore()

    def _after_restore(self) -> None:
        assert self.resolver is not None
        # what the test process and the functions remember of the emulator is forgotten
        self._restored = self._fingerprint() if self.moto is not None else None
        # warm environments forget their caches before their next invocation (and are
        # replaced where the new resources changed their variables)
        for fn in self.functions.values():
            fn.refresh(self.resolver)
        from govbus.aws import clear_caches

        clear_caches()

    def _fingerprint(self) -> str:
        """The emulator's state, but for what readers change (stream iterators)."""
        from govbus_dev.local import snapshot

        return snapshot.state_fingerprint(self.endpoint)

    def clear_caches(self) -> None:
        """Every function's warm environments drop their cached secrets, working calendar
        and adapter state before their next invocation (a test that changed a secret)."""
        for fn in self.functions.values():
            fn.clear_caches()

    def _start_simulators(self) -> None:
        from govbus import settings
        from govbus.plugins import (
            adapter_names,
            allowed_adapters,
            call,
            create_plugin_manager,
            implements,
        )

        pm = create_plugin_manager(allowed_adapters())
        for name in adapter_names(pm):
            if not implements(pm, name, "govbus_simulator"):
                continue
            simulator = call(pm, name, "govbus_simulator")
            if hasattr(simulator, "forward_queue"):
                # a broker's forwarder plays the template's IoT topic rule: same queue
                simulator.forward_queue = self.topic_rule_queue() or simulator.forward_queue
            url = simulator.start()
            self.simulators[name] = simulator
            # the adapter in every function talks to its simulator
            # ... and knows what the simulated partner issued (an app id)
            wanted = {f"GOVBUS_{name.upper()}_ENDPOINT": url}
            if callable(getattr(simulator, "settings", None)):
                wanted.update(simulator.settings())
            for variable, value in wanted.items():
                self.overrides[variable] = value
                os.environ[variable] = value
        # this process's tools (CLI commands, tests) read their settings once: again now
        settings.reset()
        self.store_simulator_secrets()

    def topic_rule_queue(self) -> str | None:
        """The queue URL the template's IoT topic rule sends device messages to, resolved
        for this stack (its name is in the URL), or None without such a rule."""
        assert self.resolver is not None
        for resource in self.template.get("Resources", {}).values():
            if resource.get("Type") != "AWS::IoT::TopicRule":
                continue
            payload = resource.get("Properties", {}).get("TopicRulePayload", {})
            for action in payload.get("Actions", []):
                if "Sqs" in action:
                    return str(self.resolver.resolve(action["Sqs"]["QueueUrl"]))
        return None

    def store_simulator_secrets(self) -> None:
        """Store the credentials each simulated partner issued, as ops would."""
        self._put_secrets(self._simulator_secrets())

    def _simulator_secrets(self) -> dict[str, str]:
        """Each simulated partner's credentials, by the secret's name in this stage."""
        stage = self.parameters.get("Stage", "dev")
        return {
            name.replace("{stage}", stage): value
            for simulator in self.simulators.values()
            for name, value in simulator.secrets().items()
        }

    def _put_secrets(self, secrets: dict[str, str]) -> None:
        assert self.provisioning is not None
        sm = self.provisioning.client("secretsmanager")
        for secret_id, value in secrets.items():
            try:
                sm.put_secret_value(SecretId=secret_id, SecretString=value)
            except sm.exceptions.ResourceNotFoundException:
                sm.create_secret(Name=secret_id, SecretString=value)

    def _load_functions(self) -> None:
        assert self.resolver is not None
        specs = function_specs(self.template, self.root)
        # the layer's quick-loading botocore data (the template's AWS_DATA_PATH names
        # /opt/python/botocore_data), written once per botocore version (a few ms a client)
        self.overrides.setdefault("AWS_DATA_PATH", str(botocore_data.ensure(DATA_CACHE)))
        self.functions = {
            spec.logical_id: LocalFunction(
                spec, self.resolver, self.base_env, self.overrides, concurrency=self.concurrency
            )
            for spec in specs
        }
        self.pollers = []
        self.schedules = []
        sqs = self.session().client("sqs")
        for spec in specs:
            fn = self.functions[spec.logical_id]
            for _name, props in spec.events_of("SQS"):
                queue_logical = _logical_of(props["Queue"])
                self.pollers.append(
                    SqsPoller(
                        fn,
                        sqs,
                        queue_url=self.resolver.refs[queue_logical],
                        queue_arn=self.resolver.resolve(props["Queue"]),
                        batch_size=int(props.get("BatchSize", 10)),
                        report_failures="ReportBatchItemFailures"
                        in (props.get("FunctionResponseTypes") or []),
                        retry_delay_seconds=self.retry_delay_seconds,
                    )
                )
            for _name, props in spec.events_of("DynamoDB"):
                if props.get("Enabled", True) is False:
                    continue
                self.pollers.append(self._stream_poller(fn, props))
            for name, props in spec.events_of("Schedule", "ScheduleV2"):
                expression = props.get("Schedule") or props.get("ScheduleExpression")
                if props.get("Enabled", True) is not False:
                    self.schedules.append(
                        Schedule(
                            fn,
                            f"{spec.logical_id}-{name}",
                            expression,
                            input=props.get("Input"),
                        )
                    )

    def _stream_poller(self, fn: LocalFunction, props: dict[str, Any]) -> DynamoDBStreamPoller:
        assert self.resolver is not None
        table_logical = _logical_of(props["Stream"])
        if table_logical is None or table_logical not in self.resolver.refs:
            raise ValueError(
                f"{fn.logical_id}: a DynamoDB event's Stream must be !GetAtt <Table>.StreamArn"
            )
        on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure")) or {}
        queue_url = None
        if on_failure:
            destination = _logical_of(on_failure.get("Destination"))
            if on_failure.get("Type", "SQS") == "SQS" and destination in self.resolver.refs:
                queue_url = self.resolver.refs[destination]
            else:
                log.warning("%s: only SQS OnFailure destinations are served locally", fn.logical_id)
        return DynamoDBStreamPoller(
            fn,
            self.session(),
            table_name=self.resolver.refs[table_logical],
            batch_size=int(props.get("BatchSize", 100)),
            starting_position=str(props.get("StartingPosition", "TRIM_HORIZON")),
            maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
            bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
            report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            on_failure_queue_url=queue_url,
            retry_delay_seconds=self.retry_delay_seconds,
        )

    def _authorizers(self) -> dict[str, dict[str, Authorizer | str | None]]:
        """Per API logical id: its authorizers by name and its default."""
        assert self.resolver is not None
        apis: dict[str, dict[str, Any]] = {}
        for logical, res in (self.template.get("Resources") or {}).items():
            if res.get("Type") not in ("AWS::Serverless::HttpApi", "AWS::Serverless::Api"):
                continue
            auth = (res.get("Properties") or {}).get("Auth") or {}
            version_default = "2.0" if res["Type"] == "AWS::Serverless::HttpApi" else "1.0"
            found: dict[str, Authorizer] = {}
            for name, cfg in (auth.get("Authorizers") or {}).items():
                fn_logical = _logical_of(cfg.get("FunctionArn"))
                if fn_logical not in self.functions:
                    continue  # JWT/Cognito authorizers are not emulated
                identity = cfg.get("Identity") or {}
                headers = identity.get("Headers") or (
                    [identity["Header"]] if identity.get("Header") else ["Authorization"]
                )
                found[name] = Authorizer(
                    name=name,
                    function=self.functions[fn_logical],
                    payload_version=str(cfg.get("AuthorizerPayloadFormatVersion", version_default)),
                    simple_responses=bool(cfg.get("EnableSimpleResponses", False)),
                    identity_headers=tuple(h.lower() for h in headers),
                )
            apis[logical] = {"authorizers": found, "default": auth.get("DefaultAuthorizer")}
        return apis

    def _routes(self) -> list[Route]:
        apis = self._authorizers()
        routes = []
        for fn in self.functions.values():
            for _name, props in fn.spec.events_of("Api", "HttpApi"):
                kind = "2.0" if (fn.spec.events[_name]["Type"] == "HttpApi") else "1.0"
                api_logical = _logical_of(props.get("ApiId") or props.get("RestApiId"))
                api = apis.get(api_logical or "", {"authorizers": {}, "default": None})
                auth_name = ((props.get("Auth") or {}).get("Authorizer")) or api["default"]
                authorizer = None
                if auth_name and auth_name != "NONE":
                    authorizer = api["authorizers"].get(auth_name)
                routes.append(
                    Route(
                        function=fn,
                        method=str(props.get("Method", "ANY")).upper(),
                        path=str(props.get("Path", "/")),
                        payload_version=kind,
                        authorizer=authorizer,
                    )
                )
        return routes

    def _start_gateway(self) -> None:
        self.gateway = Gateway(self._routes(), log=log, console_dir=self.root / "console")
        self.url = self.gateway.serve(self.host, self.port)
        for name, simulator in self.simulators.items():
            if hasattr(simulator, "push_url"):
                simulator.push_url = f"{self.url}/webhooks/{name}"
        self._reserve_own_ports()

    def _reserve_own_ports(self) -> None:
        """Loopback webhooks are allowed on a dev stack, but not into the stack itself:
        every port it serves (the AWS endpoint, the gateway, each simulator and its MQTT
        broker) is reserved, so no subscription posts into the platform or drives a
        simulator's ``/_sim/*`` admin routes. Known once the gateway listens (a port 0
        is chosen then); the functions' environments are resolved again with them."""
        urls = [self.endpoint, self.url]
        for simulator in self.simulators.values():
            urls += [getattr(simulator, "url", ""), getattr(simulator, "broker_url", "")]
        ports = sorted({port for url in urls if url and (port := _port_of(url))})
        self.base_env["SUBSCRIPTIONS_RESERVED_PORTS"] = ",".join(str(p) for p in ports)
        assert self.resolver is not None
        for fn in self.functions.values():
            fn.refresh(self.resolver)

    def seed(self) -> dict[str, Any]:
        """Load the demo catalogue, departments and licences through the gateway.

        With the moto server this process runs, the seed is loaded once: the state it
        leaves (its effects settled) is kept as a snapshot, and a later ``seed()`` right
        after a reset restores it instead of loading it again. After other writes it is
        loaded over the gateway as ever."""
        if self.moto is None or self._restored is None or self._restored != self._fingerprint():
            return self._load_seed()
        if self._seed_snapshot is None:
            seeded = self._load_seed()
            with self._paused():
                self._settle()
                from govbus_dev.local import snapshot

                self._seed_snapshot = (
                    snapshot.take(self.endpoint, "seeded"),
                    copy.deepcopy(seeded),
                )
            # seeding twice without a reset loads it again, as it always did
            self._restored = None
            return seeded
        snapshot, seeded = self._seed_snapshot
        with self._paused():
            self._restore(snapshot)
        self._restored = None
        self.seeded = copy.deepcopy(seeded)
        return self.seeded

    def _load_seed(self) -> dict[str, Any]:
        from govbus_dev.seed.load import load

        assert self.resolver is not None
        level = log.level
        log.setLevel(logging.WARNING)  # a hundred access lines would bury the table
        try:
            self.seeded = load(self.url, self.resolver.refs["ClientsTable"])
        finally:
            log.setLevel(level)
        return self.seeded

    def _settle(self, timeout: float = 60.0) -> None:
        """Wait (pollers paused) until what the seed set going has all happened: no
        outbox row waiting, no message in any queue; each poller is let run in turn."""
        assert self.resolver is not None and self.provisioning is not None
        sqs = self.provisioning.client("sqs")
        ddb = self.provisioning.client("dynamodb")
        queues = [
            self.resolver.refs[r.logical_id]
            for r in self.provisioning.created
            if r.type == "AWS::SQS::Queue"
        ]
        outbox = [
            self.resolver.refs[logical]
            for logical, attrs in self.resolver.attrs.items()
            if "StreamArn" in attrs
        ]
        deadline = time.monotonic() + timeout
        while True:
            busy = [
                url
                for url in queues
                if any(
                    int(v)
                    for v in sqs.get_queue_attributes(
                        QueueUrl=url,
                        AttributeNames=[
                            "ApproximateNumberOfMessages",
                            "ApproximateNumberOfMessagesNotVisible",
                            "ApproximateNumberOfMessagesDelayed",
                        ],
                    )["Attributes"].values()
                )
            ]
            busy += [
                table
                for table in outbox
                if ddb.scan(
                    TableName=table,
                    FilterExpression="attribute_exists(pending)",
                    Select="COUNT",
                    ConsistentRead=True,
                )["Count"]
            ]
            if not busy:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the seed's effects did not settle: {busy}")
            for poller in self.pollers:
                poller.resume()
            time.sleep(0.5)
            for poller in self.pollers:
                poller.pause()

    # --- what runs where ------------------------------------------------------

    def rows(self) -> list[Row]:
        rows = [
            Row("AWS endpoint", "moto server" if self.moto else "external", self.endpoint or "")
        ]
        rows.append(
            Row(
                "API gateway", f"{len(self.gateway.routes) if self.gateway else 0} routes", self.url
            )
        )
        if self.gateway and self.gateway.console_dir:
            rows.append(Row("  ops console", "GET /console", f"{self.url}/console"))
        if self.gateway:
            rows.append(Row("  API docs", "GET /docs (Swagger UI)", f"{self.url}/docs"))
        if self.gateway:
            for route in self.gateway.routes:
                auth = f" [auth: {route.authorizer.name}]" if route.authorizer else ""
                rows.append(
                    Row("  route", f"{route.method} {route.path}{auth}", route.function.logical_id)
                )
        if self.functions:
            rows.append(
                Row(
                    "functions",
                    f"{len(self.functions)} functions",
                    f"worker processes, up to {self.concurrency} environments each "
                    "(or the reserved concurrency)",
                )
            )
        for poller in self.pollers:
            if isinstance(poller, DynamoDBStreamPoller):
                what, source = "DynamoDB stream", poller.table_name
            else:
                what, source = "SQS poller", poller.queue_arn.rsplit(":", 1)[-1]
            rows.append(
                Row(what, source, f"{poller.function.logical_id} (batch {poller.batch_size})")
            )
        for schedule in self.schedules:
            rows.append(Row("schedule", schedule.expression, schedule.function.logical_id))
        for name, sim in self.simulators.items():
            rows.append(Row("simulator", name, sim.url))
            if getattr(sim, "broker_url", ""):
                rows.append(Row("broker", f"{name} (MQTT)", sim.broker_url))
                if getattr(sim, "device_key", ""):  # devices authenticate (adapters.iot.broker)
                    rows.append(
                        Row(
                            "  device key",
                            f"{name} devices",
                            f"{sim.device_key}  (.venv/bin/python -m adapters.iot.devices "
                            f"{sim.broker_url} --device-key {sim.device_key})",
                        )
                    )
        if self.seeded:
            rows.append(
                Row(
                    "demo data",
                    f"{self.seeded['items']} service items",
                    f"{len(self.seeded['licences'])} e-licences",
                )
            )
            for agency, (client_id, secret) in self.seeded["clients"].items():
                rows.append(Row("  dept client", agency, f"{client_id} / {secret}"))
            if self.seeded.get("ops_client"):
                client_id, secret = self.seeded["ops_client"]
                rows.append(Row("  ops client", "/console", f"{client_id} / {secret}"))
        if self.provisioning:
            # one row for the alarms (dozens of them, none emulated) keeps the table readable
            alarms = [r for r in self.provisioning.created if r.type == "AWS::CloudWatch::Alarm"]
            if alarms:
                rows.append(
                    Row("CloudWatch::Alarm", f"{len(alarms)} alarms", "not emulated locally")
                )
            for res in self.provisioning.created:
                if res.type.startswith("AWS::Serverless::") or res.type in (
                    "AWS::SQS::QueuePolicy",
                    "AWS::CloudWatch::Alarm",
                ):
                    continue
                rows.append(
                    Row(
                        res.type.replace("AWS::", ""),
                        res.logical_id,
                        f"{res.physical_id} {res.note}".strip(),
                    )
                )
        return rows

    def table(self) -> str:
        rows = self.rows()
        w1 = max(len(r.what) for r in rows)
        w2 = max(len(r.name) for r in rows)
        return "\n".join(f"{r.what:<{w1}}  {r.name:<{w2}}  {r.where}" for r in rows)


def _logical_of(value: Any) -> str | None:
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def _side_by_side(stops: list) -> None:
    """Run every ``stop`` at once on threads of their own; one that fails is logged."""

    def quietly(stop) -> None:
        try:
            stop()
        except Exception:
            log.exception("a part of the local stack failed to stop")

    threads = [threading.Thread(target=quietly, args=(stop,), daemon=True) for stop in stops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)


def _port_of(url: str) -> int | None:
    try:
        return urllib.parse.urlsplit(url).port
    except ValueError:
        return None
