"""Result delivery by EMS, over the local stack: the request, the waybill, the pushes."""

from contracts.adapters import Faults
from contracts.delivery import TrackingState
from govbus.stores.shipments import ShipmentStore
from tests.conftest import wait_for
from tests.integration.conftest import delivery_requested, put_event


def shipments(stack) -> ShipmentStore:
    return ShipmentStore(stack.resolver.refs["ShipmentsTable"])


def test_a_delivery_ends_delivered_with_each_transition_once_despite_messy_pushes(stack, aws, ems):
    put_event(aws, stack, delivery_requested("CASE-0001"))
    store = shipments(stack)
    created = wait_for(
        lambda: (s := store.get("CASE-0001")) and s.get("waybill_no") and s,
        what="the waybill to be created at EMS",
    )
    assert created["carrier"] == "ems"
    assert ems.waybills[created["waybill_no"]]["order"] == "CASE-0001"

    ems.set_faults(Faults(duplicate_pushes=True, out_of_order=True))
    statuses = ems.advance(created["waybill_no"])
    assert len(statuses) == 8 and set(statuses) == {202}, statuses

    done = wait_for(
        lambda: (s := store.get("CASE-0001")) and s["transitions"] == 6 and s,
        what="every tracking state to be recorded",
    )
    assert done["state"] == "delivered"
    assert list(done["history"]) == [
        "requested",
        "created",
        "accepted",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]


def test_a_late_push_never_moves_a_shipment_backwards(stack, aws, ems):
    put_event(aws, stack, delivery_requested("CASE-0002"))
    store = shipments(stack)
    waybill = wait_for(lambda: (s := store.get("CASE-0002")) and s.get("waybill_no"))
    ems.advance(waybill)
    wait_for(lambda: store.get("CASE-0002")["state"] == "delivered")
    # EMS re-sends an old state (a fresh push id, so not a duplicate delivery)
    headers, body = ems.push_body(waybill, ems.waybills[waybill]["traces"][1])
    assert ems._push(headers, body) == 202
    marker = delivery_requested("CASE-0003")
    put_event(aws, stack, marker)
    wait_for(lambda: store.get("CASE-0003") is not None, what="a later event to be processed")
    again = store.get("CASE-0002")
    assert again["state"] == "delivered" and again["transitions"] == 6


def test_the_event_archive_keeps_no_raw_phone_number_or_identity_code(stack, aws, ems):
    put_event(aws, stack, delivery_requested("CASE-ARCHIVE"))
    store = shipments(stack)
    wait_for(lambda: (s := store.get("CASE-ARCHIVE")) and s.get("waybill_no"))
    items = wait_for(lambda: aws["dynamodb"].scan(TableName="govbus-local-eventlog")["Items"])
    archived = " ".join(i["envelope"]["S"] for i in items)
    assert "delivery.requested" in archived and "138****5678" in archived
    assert "13812345678" not in archived


def test_after_rotate_and_drop_previous_the_ems_simulator_signs_with_the_new_secret(
    stack, aws, ems, capsys
):
    """Seen: `govbus webhooks rotate ems` then `drop-previous ems`, and every EMS push got
    401: the simulator kept signing with the secret it started with. The local stack's
    rotation gives the new secret to the simulator, as ops gives it to the partner."""
    import json

    from govbus_dev.cli import main as govbus

    # a push before the rotation: the webhook function holds the old secret, warm
    put_event(aws, stack, delivery_requested("CASE-0102"))
    store = shipments(stack)
    first = wait_for(
        lambda: (s := store.get("CASE-0102")) and s.get("waybill_no") and s,
        what="the waybill to be created at EMS",
    )
    assert set(ems.advance(first["waybill_no"], TrackingState.accepted)) == {202}

    assert govbus(["webhooks", "rotate", "ems", "--stack", stack.stack_name]) == 0
    assert govbus(["webhooks", "drop-previous", "ems", "--stack", stack.stack_name]) == 0
    said = capsys.readouterr().out
    assert "the local EMS simulator signs with it now" in said, said
    stored = json.loads(
        aws["secretsmanager"].get_secret_value(SecretId="govbus/dev/webhooks/ems")["SecretString"]
    )
    assert list(stored) == ["secret"]
    stack.clear_caches()  # the functions' five minutes of cached secrets have passed

    statuses = ems.advance(first["waybill_no"])
    assert set(statuses) == {202}, statuses
    done = wait_for(
        lambda: (s := store.get("CASE-0102")) and s["state"] == "delivered" and s,
        what="the shipment delivered",
    )
    assert list(done["history"])[-1] == "delivered"


def test_a_push_signed_with_a_just_rotated_secret_lands_while_the_old_one_is_cached(
    stack, aws, ems, capsys
):
    """Right after `rotate` + `drop-previous` (no five minutes waited), the warm webhook
    function still holds the old secret: a push that does not verify under it makes it
    read the secret again, once, instead of refusing what the partner rightly signed."""
    from govbus_dev.cli import main as govbus

    put_event(aws, stack, delivery_requested("CASE-0103"))
    store = shipments(stack)
    first = wait_for(
        lambda: (s := store.get("CASE-0103")) and s.get("waybill_no") and s,
        what="the waybill to be created at EMS",
    )
    assert set(ems.advance(first["waybill_no"], TrackingState.accepted)) == {202}
    assert govbus(["webhooks", "rotate", "ems", "--stack", stack.stack_name]) == 0
    assert govbus(["webhooks", "drop-previous", "ems", "--stack", stack.stack_name]) == 0
    capsys.readouterr()

    statuses = ems.advance(first["waybill_no"])
    assert set(statuses) == {202}, statuses
    wait_for(
        lambda: (s := store.get("CASE-0103")) and s["state"] == "delivered",
        what="the shipment delivered",
    )
