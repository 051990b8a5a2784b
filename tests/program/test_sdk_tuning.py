"""k2infra.program.sdk_tuning: each replacement behaves as the SDK's own, and is pinned to its version."""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import sys

import pulumi.log
import pytest
from pulumi.runtime import resource, stack

from k2infra.program import sdk_tuning


def test_written_against_the_pinned_sdk_whose_wait_is_still_quadratic():
    # An upgrade fails here: look again at each replacement, and drop those the SDK has fixed.
    assert importlib.metadata.version("pulumi") == sdk_tuning.SDK_VERSION
    # The modules' source, not their attributes: the program's tests have applied tune_sdk in this process.
    assert "return_when=asyncio.FIRST_COMPLETED" in inspect.getsource(stack)
    assert "stack = traceback.extract_stack()" in inspect.getsource(resource)


@pytest.fixture
def restored(monkeypatch):
    for module, name in ((pulumi.log, "debug"), (stack, "wait_for_rpcs"), (resource, "_get_stack_trace")):
        monkeypatch.setattr(module, name, getattr(module, name))


def test_tune_sdk_drops_debug_messages_unless_asked(restored, monkeypatch):
    monkeypatch.delenv(sdk_tuning.DEBUG_LOGS_ENV, raising=False)
    sdk_tuning.tune_sdk()
    assert pulumi.log.debug is sdk_tuning._dropped
    assert stack.wait_for_rpcs is sdk_tuning.wait_for_rpcs
    assert resource._get_stack_trace is sdk_tuning.declaring_frame


def test_debug_messages_are_kept_with_k2_pulumi_debug_logs(restored, monkeypatch):
    original = pulumi.log.debug
    monkeypatch.setenv(sdk_tuning.DEBUG_LOGS_ENV, "1")
    sdk_tuning.tune_sdk()
    assert pulumi.log.debug is original


def test_k2_pulumi_sdk_tuning_off_leaves_the_sdk_as_shipped(restored, monkeypatch):
    originals = (pulumi.log.debug, stack.wait_for_rpcs, resource._get_stack_trace)
    monkeypatch.setenv(sdk_tuning.TUNING_ENV, "off")
    sdk_tuning.tune_sdk()
    assert (pulumi.log.debug, stack.wait_for_rpcs, resource._get_stack_trace) == originals


def run_with_outputs(make_tasks, finished: list[str] | None = None) -> list[str]:
    """Run the replacement wait over the outputs `make_tasks` starts; return the order they finished in."""
    finished = [] if finished is None else finished

    async def main():
        rpc_manager = stack._get_rpc_manager()
        rpc_manager.rpcs.clear()
        for task in make_tasks(finished):
            stack.SETTINGS.outputs.add(task)
        await sdk_tuning.wait_for_rpcs()

    try:
        asyncio.run(main())
    finally:
        stack.SETTINGS.outputs.clear()
    return finished


def test_the_wait_awaits_every_output_including_those_added_while_waiting():
    def tasks(finished):
        async def output(name, delay, then=None):
            await asyncio.sleep(delay)
            finished.append(name)
            if then:
                stack.SETTINGS.outputs.add(asyncio.ensure_future(then()))

        async def late():
            await asyncio.sleep(0.05)
            finished.append("late")

        return [asyncio.ensure_future(output(f"o{i}", 0.001 * (i % 7))) for i in range(200)] + [
            asyncio.ensure_future(output("spawner", 0.01, then=late))]

    finished = run_with_outputs(tasks)
    assert len(finished) == 202 and finished[-1] == "late"


def test_the_wait_raises_the_first_failure_without_waiting_for_slower_outputs():
    def tasks(finished):
        async def fails():
            await asyncio.sleep(0.01)
            raise RuntimeError("apply failed")

        async def slow():
            await asyncio.sleep(5)
            finished.append("slow")

        return [asyncio.ensure_future(fails()), asyncio.ensure_future(slow())]

    finished: list[str] = []
    with pytest.raises(RuntimeError, match="apply failed"):
        run_with_outputs(tasks, finished)
    assert finished == []  # raised when it failed, not after the slow output


class _Resource:  # the SDK's chain: concrete class -> Custom/ComponentResource -> Resource
    def __init__(self):
        self.trace = sdk_tuning.declaring_frame()


class _Custom(_Resource):
    def __init__(self):
        super().__init__()


class _Topic(_Custom):
    def __init__(self):
        super().__init__()


def test_the_recorded_frame_is_the_line_that_declared_the_resource():
    declared_at = sys._getframe().f_lineno + 1
    trace = _Topic().trace
    assert len(trace.frames) == 1
    position = trace.frames[0].pc
    assert position.uri.endswith("/tests/program/test_sdk_tuning.py") and position.line == declared_at
