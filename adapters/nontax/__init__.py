"""The non-tax payment platform (财政非税收入支付平台): fee and bill orders, signed
payment notifications, refunds and the streamed daily statement.

The plugin itself is :mod:`adapters.nontax.plugin`; :mod:`adapters.nontax.wire` holds
the platform's wire format, shared by the client and the simulator.
"""
