"""The embedded default: AWS emulator, provisioning, gateway, pollers, schedules and
simulators, all driven by template.yaml. No Docker, no account."""
