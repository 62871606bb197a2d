"""Built-in adapters. Each is registered through the ``govbus.adapters`` entry point
group, exactly like an adapter from a department's own package."""
