"""The base of every contract model: its validator is built when first used, not at import.

A function imports many more contract models than its first invocation uses (an
adapter's family models, every event type a module names): building each model's
validator and serializer at import was most of ``contracts``' import time. With
``defer_build`` pydantic collects the fields at import and builds the rest the first
time the model validates, serializes or gives its schema, which costs the same then
as it would have at import; a model never used costs almost nothing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ContractModel(BaseModel):
    """A pydantic model of the contracts, built on first use (see the module)."""

    model_config = ConfigDict(defer_build=True)
