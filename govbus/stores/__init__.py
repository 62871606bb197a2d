"""DynamoDB repositories: one per aggregate, conditional writes for every invariant."""
