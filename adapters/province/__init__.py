"""The provincial online hall (省网上办事大厅): cross-level cases over SOAP 1.1.

The plugin is :mod:`adapters.province.plugin`; :mod:`adapters.province.client` holds the
zeep client (imported lazily: zeep costs ~150 ms at cold start), and
:mod:`adapters.province.wire` the hall's wire format shared by the client, the push
verifier and the simulator. The WSDL and XSD ship in ``wsdl/`` and are never fetched.
"""
