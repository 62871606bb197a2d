"""The template deploys in the China regions (aws-cn) as in the global ones (aws).

ARNs name their partition through ``${AWS::Partition}``; hostnames through
``${AWS::URLSuffix}`` (amazonaws.com, amazonaws.com.cn). Service principals are the
exception: Lambda, API Gateway, EventBridge, IoT and CloudFront are
``<service>.amazonaws.com`` in aws-cn too (a ``${AWS::URLSuffix}`` principal there,
``lambda.amazonaws.com.cn``, is refused as invalid), so they are written literally.
The console's bucket is read through an origin access control where CloudFront offers
one and through an origin access identity in aws-cn, which has none (cfn-lint's region
specs: no AWS::CloudFront::OriginAccessControl in cn-north-1 or cn-northwest-1).
"""

from __future__ import annotations

import re

from govbus_dev.local.template import load_template
from tests.conftest import ROOT

TEXT = (ROOT / "template.yaml").read_text(encoding="utf-8")
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
# principals that are <service>.amazonaws.com in every partition, aws-cn included
SAME_IN_CHINA = {
    "events.amazonaws.com",
    "lambda.amazonaws.com",
    "apigateway.amazonaws.com",
    "iot.amazonaws.com",
    "cloudfront.amazonaws.com",
}


def _walk(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, (*path, i))
    else:
        yield path, node


def test_every_arn_names_its_partition():
    literal = [
        (line_no, line.strip())
        for line_no, line in enumerate(TEXT.splitlines(), 1)
        if re.search(r"arn:aws[:-]", line)
    ]
    assert literal == [], "ARNs name ${AWS::Partition}, never aws"


def test_hostnames_use_the_partitions_url_suffix_and_principals_are_literal():
    principals, hosts = set(), []
    for logical, resource in RESOURCES.items():
        for path, value in _walk(resource.get("Properties") or {}):
            if not isinstance(value, str) or "amazonaws" not in value:
                continue
            if "Service" in path or path[-1] == "Principal":
                principals.add(value)
            else:
                hosts.append((logical, value))
    assert principals <= SAME_IN_CHINA, principals - SAME_IN_CHINA
    assert hosts == [], "hostnames are ${...}.${AWS::URLSuffix}, not amazonaws.com"


def test_the_console_is_read_through_an_oac_outside_china_and_an_oai_in_china():
    conditions = TEMPLATE["Conditions"]
    assert conditions["InChina"] == {
        "Fn::Or": [
            {"Fn::Equals": [{"Ref": "AWS::Region"}, region]}
            for region in ("cn-north-1", "cn-northwest-1")
        ]
    }
    assert RESOURCES["ConsoleOriginAccessControl"]["Condition"] == "OutsideChina"
    oai = RESOURCES["ConsoleOriginAccessIdentity"]
    assert oai["Type"] == "AWS::CloudFront::CloudFrontOriginAccessIdentity"
    assert oai["Condition"] == "InChina"
    origin = RESOURCES["ConsoleDistribution"]["Properties"]["DistributionConfig"]["Origins"][0]
    assert origin["OriginAccessControlId"]["Fn::If"][0] == "OutsideChina"
    assert origin["S3OriginConfig"]["OriginAccessIdentity"]["Fn::If"][0] == "InChina"
    statements = RESOURCES["ConsoleBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    readers = {s["Fn::If"][0]: s["Fn::If"][1] for s in statements if "Fn::If" in s}
    assert readers["InChina"]["Principal"] == {
        "CanonicalUser": {"Fn::GetAtt": ["ConsoleOriginAccessIdentity", "S3CanonicalUserId"]}
    }
    assert readers["OutsideChina"]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
