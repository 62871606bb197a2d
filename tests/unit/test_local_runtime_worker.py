"""An execution environment answers as Lambda does, with no AWS endpoint involved."""

import textwrap

import pytest

from govbus_dev.local.runtime import FunctionError, LocalFunction
from govbus_dev.local.template import FunctionSpec, Resolver

HANDLERS = textwrap.dedent(
    """
    import os

    LOADED = os.getpid()

    def environ(event, context):
        return {"environ": dict(os.environ), "pid": LOADED, "function": context.function_name}

    def fails(event, context):
        raise ValueError("the event has no case id")

    def unserialisable(event, context):
        return {"when": object()}
    """
)


@pytest.fixture
def code_dir(tmp_path):
    (tmp_path / "app.py").write_text(HANDLERS, encoding="utf-8")
    (tmp_path / "broken.py").write_text("import no_such_module_here\n", encoding="utf-8")
    return tmp_path


def function(code_dir, handler, **variables):
    spec = FunctionSpec(
        logical_id="TestFunction",
        code_dir=code_dir,
        handler=handler,
        environment=variables,
        events={},
        timeout=10,
        memory=128,
        properties={},
    )
    fn = LocalFunction(spec, Resolver("unit", "us-east-1", {}), {"AWS_REGION": "us-east-1"})
    return fn


def test_an_environment_gets_the_functions_variables_and_nothing_of_the_callers(
    code_dir, monkeypatch
):
    monkeypatch.setenv("GOVBUS_ONLY_IN_THE_CALLER", "leaked")
    fn = function(code_dir, "app.environ", CASES_TABLE="cases-table")
    try:
        first = fn.invoke({})
        second = fn.invoke({})
    finally:
        fn.stop()
    environ = first["environ"]
    assert environ["CASES_TABLE"] == "cases-table"
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == "TestFunction" == first["function"]
    assert environ["LAMBDA_TASK_ROOT"] == str(code_dir)
    assert "GOVBUS_ONLY_IN_THE_CALLER" not in environ
    assert second["pid"] == first["pid"], "the second invocation was served warm"


def test_an_unhandled_error_is_lambdas_error_answer_and_the_environment_stays(code_dir):
    fn = function(code_dir, "app.fails")
    try:
        with pytest.raises(FunctionError) as caught:
            fn.invoke({})
        assert caught.value.payload["errorType"] == "ValueError"
        assert caught.value.payload["errorMessage"] == "the event has no case id"
        assert caught.value.payload["stackTrace"]
        assert fn.environments == 1
    finally:
        fn.stop()


def test_a_result_that_is_not_json_is_a_marshal_error(code_dir):
    fn = function(code_dir, "app.unserialisable")
    try:
        with pytest.raises(FunctionError) as caught:
            fn.invoke({})
    finally:
        fn.stop()
    assert caught.value.error_type == "Runtime.MarshalError"


def test_a_module_that_cannot_import_fails_each_invocation_with_an_import_error(code_dir):
    fn = function(code_dir, "broken.handler")
    try:
        for _ in range(2):
            with pytest.raises(FunctionError) as caught:
                fn.invoke({})
            assert caught.value.error_type == "Runtime.ImportModuleError"
            assert "Unable to import module 'broken'" in caught.value.payload["errorMessage"]
        assert fn.environments == 0, "a failed init leaves no environment behind"
    finally:
        fn.stop()
