"""Three per-resource costs of the Pulumi Python SDK (pulumi 3.272.0) that K2 removes, found by profiling a
preview of 3,000 topics (issue 12, bench/topology_scale.py). None changes what is registered.

- Debug messages: the SDK sends about four per resource ("resource registration prepared", "...successful")
  to the engine as blocking gRPC calls on its event loop, whatever the CLI's verbosity; at 1,000 topics
  they were a quarter of a preview's Python time. The engine shows them only with `--debug` or `-v`:
  set K2_PULUMI_DEBUG_LOGS=1 to send them again.
- The final wait for outputs: `wait_for_rpcs` waits on every pending Output with FIRST_COMPLETED in a
  loop, adding and removing a callback on each of them per completion, which is quadratic: 16 s of a
  3,000-topic preview, growing to minutes at 10,000. K2's copy waits with FIRST_EXCEPTION instead: the
  same set of outputs awaited, an exception still raised as soon as one fails, one pass per round.
- Stack traces: the SDK records the whole Python stack of every resource (about 15 frames, each turned
  into a file URI) in the state; for K2 they are all the same few lines. K2 records only the frame that
  declared the resource, which is what the state's sourcePosition shows: a third of the state's size
  and a tenth of a preview's Python time.

tests/program/test_sdk_tuning.py pins the SDK version these were written against, so an upgrade makes
someone look again (and drop them once the SDK fixes its side).
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from types import FrameType

import pulumi.log
from pulumi.runtime import resource, stack
from pulumi.runtime.proto import source_pb2

DEBUG_LOGS_ENV = "K2_PULUMI_DEBUG_LOGS"
TUNING_ENV = "K2_PULUMI_SDK_TUNING"  # "off": the SDK as shipped (bench/topology_scale.py's baseline)
SDK_VERSION = "3.272.0"


def tune_sdk() -> None:
    """Apply all three, before any resource is declared (none if K2_PULUMI_SDK_TUNING=off)."""
    if os.environ.get(TUNING_ENV) == "off":
        return
    if os.environ.get(DEBUG_LOGS_ENV) != "1":
        pulumi.log.debug = _dropped  # the SDK's modules call it through the module attribute
    stack.wait_for_rpcs = wait_for_rpcs  # run_pulumi_func looks it up in its module when the program ends
    resource._get_stack_trace = declaring_frame  # looked up in its module for every resource


def _dropped(msg: str, resource: object = None, stream_id: int | None = None, ephemeral: bool | None = None) -> None:
    return None


async def wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    """The SDK's wait_for_rpcs, with the outputs drained one pass per round rather than one per completion."""
    rpc_manager = stack._get_rpc_manager()
    while True:
        while rpc_manager.rpcs:
            await asyncio.sleep(0)
            try:
                await rpc_manager.rpcs.pop()
            except Exception as exn:
                if rpc_manager.unhandled_exception is not None:
                    raise exn from rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
                raise
        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
        if await_all_outstanding_tasks:
            await _drain_outputs()
        if not rpc_manager.rpcs:  # outputs may have scheduled more RPCs: repeat until none are left
            break


async def _drain_outputs() -> None:
    settings = stack.SETTINGS
    while True:
        with settings.lock:
            if not settings.outputs:
                return
            pending = list(settings.outputs)
            settings.outputs.clear()
        done, not_done = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            await task  # re-raises the first failure, as the SDK does
        with settings.lock:
            settings.outputs.update(not_done)


def declaring_frame() -> source_pb2.StackTrace:
    """The SDK's _get_stack_trace, keeping only its first frame: the code that declared the resource.

    As the SDK does, that is the caller of the third `__init__` up the stack (Resource, Custom- or
    ComponentResource, then the concrete resource class).
    """
    frame: FrameType | None = sys._getframe(1)
    inits = 0
    while frame is not None:
        if frame.f_code.co_name == "__init__":
            inits += 1
            if inits == 3:
                break
        frame = frame.f_back
    caller = frame.f_back if frame is not None else None
    if caller is None:
        return source_pb2.StackTrace()
    summary = traceback.FrameSummary(caller.f_code.co_filename, caller.f_lineno, caller.f_code.co_name,
                                     lookup_line=False)
    return source_pb2.StackTrace(frames=[source_pb2.StackFrame(pc=resource._get_source_position_for_frame(summary))])
