"""Scope factories: imported by dotted path, called per handler, every problem named."""
import pytest

from mr.handlers.scope import HandlerScope, ScopeFactoryError, check_path, scope_for

HERE = "tests.unit.handlers.test_scope"


def secrets(handler_name: str) -> dict:
    return {"TOKEN": "t0k"} if handler_name == "billing" else {}


def broken(handler_name: str) -> dict:
    raise RuntimeError("vault unreachable")


def not_a_dict(handler_name: str):
    return ["TOKEN"]


def test_values_per_handler():
    scope = HandlerScope("wf", f"{HERE}:secrets")
    assert scope("billing") == {"TOKEN": "t0k"} and scope("report") == {}
    scope.check(["billing", "report"])


@pytest.mark.parametrize("path, message", [
    ("no_module_here:f", "cannot import 'no_module_here'"),
    (f"{HERE}:missing", f"module '{HERE}' has no 'missing'"),
    ("not a path", "is not of the form package.module:function"),
])
def test_bad_paths_name_workflow_and_path(path, message):
    with pytest.raises(ScopeFactoryError) as info:
        HandlerScope("wf1", path)
    assert str(info.value).startswith(f"workflow 'wf1': scope factory {path!r}: ")
    assert message in str(info.value)


@pytest.mark.parametrize("function, message", [
    ("broken", "raised RuntimeError for handler 'h': vault unreachable"),
    ("not_a_dict", "returned list for handler 'h'; it must return a dict"),
])
def test_bad_factories_fail_the_check(function, message):
    with pytest.raises(ScopeFactoryError, match=message):
        HandlerScope("wf", f"{HERE}:{function}").check(["h"])


def test_environment_setting_wins_over_the_stored_one():
    assert scope_for("wf", None, {}) is None
    assert scope_for("wf", f"{HERE}:broken", {"wf": f"{HERE}:secrets"}).path.endswith("secrets")
    assert check_path("a.b:c") == "a.b:c"
