"""CA authentication (统一电子政务认证): certificate chains, revocation, document
signatures and challenge-response login. Plugin: :mod:`adapters.ca.plugin`."""
