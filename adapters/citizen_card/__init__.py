"""The multi-card platform (市民卡): card status by citizen ID, payment from the card
account, refunds, behind OAuth2 client credentials.

The plugin itself is :mod:`adapters.citizen_card.plugin`; :mod:`adapters.citizen_card.wire`
holds the platform's wire format, shared by the client and the simulator.
"""
