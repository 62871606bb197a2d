"""`govbus dlq list` / `redrive` see exactly this stack's dead-letter queues, the ones the
ops API sees (the template's ``DEAD_LETTER_QUEUES``), never another stack's on the same
endpoint, even one whose name starts the same."""

from __future__ import annotations

import json

import pytest

from govbus_dev.cli import main as govbus


@pytest.fixture
def neighbour(stack, aws):
    """A second stack on the endpoint, named like this one plus a suffix, with a letter
    in its dispatch DLQ (its source queue redrives into it)."""
    sqs = aws["sqs"]
    prefix = f"{stack.stack_name}-2"
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-dispatch-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    source = sqs.create_queue(
        QueueName=f"{prefix}-dispatch",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
        },
    )["QueueUrl"]
    sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps({"neighbour": True}))
    yield f"{prefix}-dispatch-dlq"
    for url in (source, dlq_url):
        sqs.delete_queue(QueueUrl=url)


def test_dlq_list_shows_this_stacks_queues_only(stack, aws, neighbour, capsys):
    assert govbus(["dlq", "list", "--json", "--stack", stack.stack_name]) == 0
    listed = {q["name"] for q in json.loads(capsys.readouterr().out)}
    # exactly what the ops function is given
    ops_env = stack.functions["OpsFunction"].environment
    assert listed == set(ops_env["DEAD_LETTER_QUEUES"].split(","))
    assert neighbour not in listed


def test_dlq_list_and_redrive_by_short_name_reach_this_stacks_queue(stack, aws, neighbour, capsys):
    own = stack.resolver.refs["DispatchDLQ"]
    aws["sqs"].send_message(QueueUrl=own, MessageBody=json.dumps({"own": True}))
    assert govbus(["dlq", "list", "dispatch-dlq", "--json", "--stack", stack.stack_name]) == 0
    letters = json.loads(capsys.readouterr().out)
    assert len(letters) == 1, letters
    # the neighbour's letter is not redriven (nor even looked at)
    govbus(["dlq", "redrive", "dispatch-dlq", "--stack", stack.stack_name])
    assert "from dispatch-dlq" in capsys.readouterr().out
    depth = aws["sqs"].get_queue_attributes(
        QueueUrl=aws["sqs"].get_queue_url(QueueName=neighbour)["QueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert depth == "1"


def test_an_unknown_queue_is_refused_naming_this_stacks_queues(stack, aws, neighbour, capsys):
    assert govbus(["dlq", "redrive", "nothing-dlq", "--stack", stack.stack_name]) == 2
    err = capsys.readouterr().err
    assert "no dead-letter queue named 'nothing-dlq'" in err
    assert f"{stack.stack_name}-dispatch-dlq" in err and neighbour not in err


def test_without_a_template_the_commands_refuse_instead_of_guessing_by_name(
    stack, aws, neighbour, capsys, tmp_path
):
    missing = str(tmp_path / "nowhere.yaml")
    assert govbus(["dlq", "list", "--stack", stack.stack_name, "--template", missing]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "--template" in err
    redrive = ["dlq", "redrive", "x-dispatch-dlq", "--stack", stack.stack_name]
    assert govbus([*redrive, "--template", missing]) == 2
    assert "redrove" not in capsys.readouterr().out


def test_a_queue_url_of_another_stack_is_refused(stack, aws, neighbour, capsys):
    url = aws["sqs"].get_queue_url(QueueName=neighbour)["QueueUrl"]
    assert govbus(["dlq", "redrive", url, "--stack", stack.stack_name]) == 2
    assert "is not a dead-letter queue of stack" in capsys.readouterr().err
    depth = aws["sqs"].get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert depth == "1", "the neighbour's letter stayed where it was"


def test_a_redrive_of_an_id_not_in_the_queue_says_so(stack, aws, capsys):
    assert (
        govbus(["dlq", "redrive", "dispatch-dlq", "--id", "nope", "--stack", stack.stack_name]) == 1
    )
    assert "not in dispatch-dlq: nope" in capsys.readouterr().err
