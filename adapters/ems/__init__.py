"""EMS (中国邮政速递物流): result delivery by courier.

The plugin itself is :mod:`adapters.ems.plugin`; :mod:`adapters.ems.wire` holds the
partner's wire format, shared by the client and the simulator.
"""
