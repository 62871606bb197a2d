"""Provision every non-function resource template.yaml declares, over the wire.

Works against any AWS-compatible endpoint (moto server, LocalStack, an account):
it is plain boto3. Resources are created in dependency order; the resolver learns
each one's ``Ref`` and attributes as it goes, so functions' environment variables
resolve to the real physical names.
"""

from __future__ import annotations

import dataclasses
import json
import secrets as _secrets
from collections.abc import Callable
from typing import Any

import boto3

from govbus_dev.local.template import ACCOUNT_ID, Resolver, references

Provisioner = Callable[["Provisioning", str, dict[str, Any]], None]


@dataclasses.dataclass
class ProvisionedResource:
    logical_id: str
    type: str
    physical_id: str
    note: str = ""


@dataclasses.dataclass
class Provisioning:
    resolver: Resolver
    session: boto3.session.Session
    created: list[ProvisionedResource] = dataclasses.field(default_factory=list)
    clients: dict[str, Any] = dataclasses.field(default_factory=dict)

    def client(self, service: str) -> Any:
        # one client per service: building one costs more than the call it makes, and a
        # test session provisions the whole template again before every test
        if service not in self.clients:
            self.clients[service] = self.session.client(service)
        return self.clients[service]

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.resolver.region}:{ACCOUNT_ID}:{resource}"

    def name_for(self, logical: str, props: dict[str, Any], key: str) -> str:
        if key in props:
            return str(self.resolver.resolve(props[key]))
        return f"{self.resolver.stack_name}-{logical}"

    def record(self, logical: str, type_: str, ref: str, note: str = "", **attrs: str) -> None:
        self.resolver.refs[logical] = ref
        self.resolver.attrs[logical] = attrs
        self.created.append(ProvisionedResource(logical, type_, ref, note))


def _event_bus(p: Provisioning, logical: str, props: dict[str, Any]) -> None:
    name = p.name_for(logical, props, "Name")
    events = p.client("events")
    try:
        events.create_event_bus(Name=name)
    except events.exceptions.ResourceAlreadyExistsException:
        pass
    arn = p.arn("events", f"event-bus/{name}")
    p.record(logical, "AWS::Events::EventBus", name, Arn=arn, Name=name)


def _table(p: Provisioning, logical: str, props: dict[str, Any]) -> None:
    props = p.resolver.resolve(props)
    name = p.name_for(logical, props, "TableName")
    args: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if args["BillingMode"] == "PROVISIONED":
        args["ProvisionedThroughput"] = props.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in props:
            args[key] = props[key]
    if "StreamSpecification" in props:
        # CloudFormation's spec names only the view type; the API also wants it enabled
        args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    ddb = p.client("dynamodb")
    try:
        table = ddb.create_table(**args)["TableDescription"]
    except ddb.exceptions.ResourceInUseException:
        table = ddb.describe_table(TableName=name)["Table"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    arn = table.get("TableArn") or p.arn("dynamodb", f"table/{name}")
    attrs = {"Arn": arn}
    note = ""
    if table.get("LatestStreamArn"):
        # each new table has a stream of its own (a new label): the stream pollers follow it
        attrs["StreamArn"] = table["LatestStreamArn"]
        note = f"stream {props.get('StreamSpecification', {}).get('StreamViewType', '')}".strip()
    p.record(logical, "AWS::DynamoDB::Table", name, note, **attrs)


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
)


def _queue(p: Provisioning, logical: str, props: dict[str, Any]) -> None:
    props = p.resolver.resolve(props)
    name = p.name_for(logical, props, "QueueName")
    attributes = {
        k: str(props[k]).lower() if isinstance(props[k], bool) else str(props[k])
        for k in _QUEUE_ATTRIBUTES
        if k in props
    }
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    url = p.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = p.arn("sqs", name)
    note = ""
    if "RedrivePolicy" in props:
        note = f"DLQ after {props['RedrivePolicy'].get('maxReceiveCount')} receives"
    p.record(logical, "AWS::SQS::Queue", url, note, Arn=arn, QueueName=name, QueueUrl=url)


# what a rule's target carries over to EventBridge, its dead-letter queue and retries too
_TARGET_KEYS = (
    "Id",
    "Arn",
    "Input",
    "InputPath",
    "SqsParameters",
    "DeadLetterConfig",
    "RetryPolicy",
)


def _rule(p: Provisioning, logical: str, props: dict[str, Any]) -> None:
    props = p.resolver.resolve(props)
    name = p.name_for(logical, props, "Name")
    bus = props.get("EventBusName", "default")
    args: dict[str, Any] = {
        "Name": name,
        "EventBusName": bus,
        "State": props.get("State", "ENABLED"),
    }
    if "EventPattern" in props:
        pattern = props["EventPattern"]
        args["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    if "ScheduleExpression" in props:
        args["ScheduleExpression"] = props["ScheduleExpression"]
    events = p.client("events")
    arn = events.put_rule(**args)["RuleArn"]
    targets = [{k: v for k, v in t.items() if k in _TARGET_KEYS} for t in props.get("Targets", [])]
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    p.record(logical, "AWS::Events::Rule", name, f"{len(targets)} target(s)", Arn=arn)


def _parameter(p: Provisioning, logical: str, props: dict[str, Any]) -> None:
    props = p.resolver.resolve(props)
    name = p.name_for(logical, props, "Name")
    p.client("ssm").put_parameter(
        Name=name, Value=str(props["Value"]), Type=props.get("Type", "String"), Overwrite=True
    )
    p.record(logical, "AWS::SSM::Parameter", name, Name=name)


def _secret(p: Provisioning, logical: str, props: dict[str, Any]) -> None:
    props = p.resolver.resolve(props)
    name = p.name_for(logical, props, "Name")
    if "SecretString" in props:
        value = props["SecretString"]
    else:
        # a development value, generated the way CloudFormation would
        spec = props.get("GenerateSecretString") or {}
        generated = _secrets.token_urlsafe(int(spec.get("PasswordLength", 32)))
        if "SecretStringTemplate" in spec:
            doc = json.loads(spec["SecretStringTemplate"])
            doc[spec["GenerateStringKey"]] = generated
            value = json.dumps(doc)
        else:
            value = generated
    sm = p.client("secretsmanager")
    try:
        arn = sm.create_secret(Name=name, SecretString=value)["ARN"]
    except sm.exceptions.ResourceExistsException:
        arn = sm.describe_secret(SecretId=name)["ARN"]
    p.record(logical, "AWS::SecretsManager::Secret", arn, name, Id=arn)


def _kms_key(p: Provisioning, logical: str, props: dict[str, Any]) -> None:
    meta = p.client("kms").create_key(Description=str(props.get("Description", logical)))
    key = meta["KeyMetadata"]
    p.record(logical, "AWS::KMS::Key", key["KeyId"], Arn=key["Arn"], KeyId=key["KeyId"])


def _kms_alias(p: Provisioning, logical: str, props: dict[str, Any]) -> None:
    props = p.resolver.resolve(props)
    kms = p.client("kms")
    try:
        kms.create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
    except kms.exceptions.AlreadyExistsException:
        pass
    p.record(logical, "AWS::KMS::Alias", props["AliasName"])


def _bucket(p: Provisioning, logical: str, props: dict[str, Any]) -> None:
    props = p.resolver.resolve(props)
    name = p.name_for(logical, props, "BucketName").lower()
    s3 = p.client("s3")
    try:
        s3.create_bucket(Bucket=name)
    except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        pass
    versioning = props.get("VersioningConfiguration") or {}
    if versioning.get("Status"):  # materials are read at the version pre-review pinned
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": versioning["Status"]}
        )
    p.record(
        logical,
        "AWS::S3::Bucket",
        name,
        Arn=f"arn:aws:s3:::{name}",
        DomainName=f"{name}.s3.amazonaws.com",
    )


def _function(p: Provisioning, logical: str, props: dict[str, Any]) -> None:
    name = p.name_for(logical, props, "FunctionName")
    arn = p.arn("lambda", f"function:{name}")
    p.record(logical, "AWS::Serverless::Function", name, "served by worker processes", Arn=arn)


def _logical_only(type_: str, note: str) -> Provisioner:
    def record(p: Provisioning, logical: str, props: dict[str, Any]) -> None:
        p.record(
            logical, type_, f"{p.resolver.stack_name}-{logical}", note, Arn=p.arn("local", logical)
        )

    return record


PROVISIONERS: dict[str, Provisioner] = {
    "AWS::Events::EventBus": _event_bus,
    "AWS::DynamoDB::Table": _table,
    "AWS::SQS::Queue": _queue,
    "AWS::Events::Rule": _rule,
    "AWS::SSM::Parameter": _parameter,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::KMS::Key": _kms_key,
    "AWS::KMS::Alias": _kms_alias,
    "AWS::S3::Bucket": _bucket,
    "AWS::Serverless::Function": _function,
    "AWS::Serverless::LayerVersion": _logical_only("layer", "on each worker's sys.path"),
    "AWS::Serverless::HttpApi": _logical_only("api", "served by the local gateway"),
    "AWS::Serverless::Api": _logical_only("api", "served by the local gateway"),
    "AWS::SQS::QueuePolicy": _logical_only("policy", "not enforced locally"),
}


def provision(
    template: dict[str, Any],
    resolver: Resolver,
    session: boto3.session.Session,
    clients: dict[str, Any] | None = None,
) -> Provisioning:
    """Create every resource in dependency order; unknown types are listed, not fatal.

    ``clients``: boto3 clients by service, made from ``session`` and filled as needed;
    a caller that provisions again and again (a reset before every test) passes the
    same dict each time."""
    resources: dict[str, dict[str, Any]] = template.get("Resources") or {}
    state = Provisioning(
        resolver=resolver, session=session, clients=clients if clients is not None else {}
    )
    pending = dict(resources)
    while pending:
        ready = [
            logical
            for logical, res in pending.items()
            if not (references(res.get("Properties") or {}) & pending.keys()) - {logical}
            or res.get("Type") == "AWS::Serverless::Function"
        ]
        if not ready:
            raise RuntimeError(f"circular references between {', '.join(sorted(pending))}")
        for logical in ready:
            res = pending.pop(logical)
            handler = PROVISIONERS.get(res["Type"])
            if handler is None:
                state.created.append(
                    ProvisionedResource(logical, res["Type"], "-", "not emulated locally")
                )
                continue
            handler(state, logical, res.get("Properties") or {})
    return state
