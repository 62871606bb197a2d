"""Reading template.yaml: CloudFormation tags, intrinsic functions, the function specs.

The template is the single source of truth for the local stack: whatever it declares
is provisioned and served, with no other list to keep in step.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag_constructor(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    name = (
        "Ref"
        if tag_suffix == "Ref"
        else ("Condition" if tag_suffix == "Condition" else f"Fn::{tag_suffix}")
    )
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag_constructor)


def load_template(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


class UnresolvedReference(LookupError):
    """A reference to a resource that is not provisioned yet."""


@dataclasses.dataclass
class Resolver:
    """Resolves intrinsic functions against parameters and provisioned resources."""

    stack_name: str
    region: str
    parameters: dict[str, str]
    refs: dict[str, str] = dataclasses.field(default_factory=dict)
    attrs: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{ACCOUNT_ID}:stack/{self.stack_name}/local",
            "AWS::NoValue": None,
        }.get(name)

    def ref(self, name: str) -> str:
        if name.startswith("AWS::"):
            value = self.pseudo(name)
            if value is None and name != "AWS::NoValue":
                raise KeyError(f"unknown pseudo parameter {name}")
            return value  # type: ignore[return-value]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise UnresolvedReference(name)

    def get_att(self, logical: str, attr: str) -> str:
        try:
            return self.attrs[logical][attr]
        except KeyError:
            raise UnresolvedReference(f"{logical}.{attr}") from None

    def sub(self, template: str, variables: dict[str, Any] | None = None) -> str:
        variables = variables or {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                logical, attr = name.split(".", 1)
                return self.get_att(logical, attr)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, template)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(arg[0], arg[1])
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    return self.sub(arg[0], arg[1])
                return self.sub(arg)
            if key == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(v)) for v in self.resolve(arg[1]))
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if key == "Fn::ToJsonString":
                return json.dumps(self.resolve(arg))
        return {k: self.resolve(v) for k, v in value.items()}


def references(value: Any) -> set[str]:
    """Logical ids a value refers to (for ordering provisioning)."""
    found: set[str] = set()
    if isinstance(value, list):
        for v in value:
            found |= references(v)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str) and not arg.startswith("AWS::"):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg[0])
            elif key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) else arg
                for name in re.findall(r"\$\{([^}!]+)\}", text):
                    if not name.startswith("AWS::"):
                        found.add(name.split(".", 1)[0])
                if isinstance(arg, list):
                    found |= references(arg[1])
            else:
                found |= references(arg)
    return found


@dataclasses.dataclass
class FunctionSpec:
    """An ``AWS::Serverless::Function`` as the local stack needs it."""

    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, Any]
    events: dict[str, dict[str, Any]]
    timeout: int
    memory: int
    properties: dict[str, Any]

    @property
    def module_file(self) -> Path:
        module = self.handler.rsplit(".", 1)[0].replace(".", "/")
        return self.code_dir / f"{module}.py"

    @property
    def handler_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    def events_of(self, *types: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (name, ev.get("Properties", {}) or {})
            for name, ev in self.events.items()
            if ev.get("Type") in types
        ]


def function_specs(template: dict[str, Any], root: Path) -> list[FunctionSpec]:
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    global_env = ((globals_fn.get("Environment") or {}).get("Variables")) or {}
    specs = []
    for logical, res in (template.get("Resources") or {}).items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = {**globals_fn, **(res.get("Properties") or {})}
        env = {
            **global_env,
            **(((res.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}),
        }
        specs.append(
            FunctionSpec(
                logical_id=logical,
                code_dir=(root / str(props.get("CodeUri", "."))).resolve(),
                handler=str(props["Handler"]),
                environment=env,
                events=props.get("Events") or {},
                timeout=int(props.get("Timeout", 3)),
                memory=int(props.get("MemorySize", 128)),
                properties=props,
            )
        )
    return specs


def parameter_defaults(
    template: dict[str, Any], overrides: dict[str, str] | None = None
) -> dict[str, str]:
    params = {
        name: str(spec.get("Default", ""))
        for name, spec in (template.get("Parameters") or {}).items()
    }
    params.update(overrides or {})
    return params


def _placeholder(template: dict, name: str, value: object) -> str:
    """A literal as it is; a parameter's default; any other reference a placeholder."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        default = template.get("Parameters", {}).get(value["Ref"], {}).get("Default")
        if default is not None:
            return str(default)
    return f"placeholder-{name.lower()}"


def function_environments(template_path: Path) -> dict[str, dict[str, str]]:
    """Each function folder's name -> the environment the template gives it, references
    replaced by parameters' defaults or placeholders (for importing a function outside a
    stack: the bench and the import guard tests)."""
    template = load_template(template_path)
    common = template["Globals"]["Function"]["Environment"]["Variables"]
    found = {}
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        if not str(props.get("CodeUri", "")).startswith("functions/"):
            continue
        variables = {**common, **props.get("Environment", {}).get("Variables", {})}
        env = {k: _placeholder(template, k, v) for k, v in variables.items()}
        found[props["CodeUri"].strip("/").split("/")[-1]] = env
    return found
