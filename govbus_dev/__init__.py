"""The developer's tools: the local stack (``govbus dev``), the ``govbus`` CLI, the
adapter scaffold, demo seed data and the province alignment command.

Nothing here ships in the Lambda layer (the Makefile's build-SharedLayer removes this
package) and the runtime (contracts, adapters, govbus, functions) never imports it:
import-linter enforces that (``make lint``).
"""
