"""Shrink a failing program further than hypothesis does, on the program's own structure.

hypothesis shrinks the choices that drew a program; an edit that is small on the
program (drop one statement, replace a block statement by its body, shorten a sleep)
can be a large, misaligned edit on those choices, so its minimal examples keep some
junk. This pass applies such edits greedily until none keeps the failure, skipping
edits that make the program ill-formed (a reference to a deleted scope, a spawn with
no nursery, a shield that could block the watchdog).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import fields, replace
from typing import Any

from .program import (
    Block,
    Cancel,
    CancelNursery,
    FailAfter,
    Nursery,
    Observe,
    Program,
    ReadCancelCalled,
    Scope,
    SetDeadline,
    SetShield,
    Sleep,
    Spawn,
    Start,
    Stmt,
    TryExcept,
    TryFinally,
    WithLimiter,
    WithLock,
    WithSemaphore,
    children,
    walk,
)

_BLOCK_FIELDS = ("body", "pre", "post", "cleanup")


def well_formed(program: Program) -> bool:
    scopes = {s.scope: s for s in walk(program.body) if isinstance(s, Scope)}

    def check(block: Block, in_nursery: bool) -> bool:
        for stmt in block:
            if isinstance(stmt, (Spawn, Start, CancelNursery)) and not in_nursery:
                return False
            if isinstance(stmt, (Cancel, SetDeadline, SetShield, ReadCancelCalled)):
                target = scopes.get(stmt.scope)
                if target is None:
                    return False
                if isinstance(stmt, SetShield) and stmt.shield and target.deadline is None:
                    return False
            inner_nursery = in_nursery or isinstance(stmt, Nursery)
            if not all(check(inner, inner_nursery) for inner in children(stmt)):
                return False
        return True

    return check(program.body, False)


def _with_blocks(stmt: Stmt, blocks: list[Block]) -> Stmt:
    names = [f.name for f in fields(stmt) if f.name in _BLOCK_FIELDS]
    return replace(stmt, **dict(zip(names, blocks, strict=True)))  # type: ignore[arg-type]


def _edits_of_block(block: Block) -> Iterator[Block]:
    """Each block one edit away from ``block``."""
    for i, stmt in enumerate(block):
        before, after = block[:i], block[i + 1 :]
        yield (*before, *after)
        inner = list(children(stmt))
        if isinstance(stmt, (Nursery, Scope, FailAfter, WithLock, WithSemaphore, WithLimiter,
                             Observe, TryExcept, TryFinally)):
            for sub in inner:
                yield (*before, *sub, *after)
        if isinstance(stmt, (Spawn, Start)):
            # Run the task's code in the spawner instead: one task fewer.
            yield (*before, *(code for sub in inner for code in sub), *after)
        for edited in _edits_of_stmt(stmt):
            yield (*before, edited, *after)
        for j, sub in enumerate(inner):
            for edited_sub in _edits_of_block(sub):
                blocks = list(inner)
                blocks[j] = edited_sub
                yield (*before, _with_blocks(stmt, blocks), *after)


def _edits_of_stmt(stmt: Stmt) -> Iterator[Stmt]:
    if isinstance(stmt, Sleep) and stmt.seconds > 0:
        yield Sleep(0)
        if stmt.seconds > 1:
            yield Sleep(1)
    if isinstance(stmt, Scope):
        if stmt.shield:
            yield replace(stmt, shield=False)
        if stmt.relative:
            yield replace(stmt, relative=False)
    if isinstance(stmt, Start) and not stmt.calls_started:
        yield replace(stmt, calls_started=True)
    if isinstance(stmt, TryFinally) and stmt.shield_deadline is not None:
        yield replace(stmt, shield_deadline=None)
    if isinstance(stmt, TryExcept) and not stmt.star:
        yield replace(stmt, star=True)


def minimise(
    program: Program, still_fails: Callable[[Program], bool], budget: int = 2000
) -> Program:
    """The smallest program reachable by single edits that ``still_fails``.

    ``budget`` bounds the number of candidate programs run.
    """
    tries = 0
    improved = True
    while improved and tries < budget:
        improved = False
        for body in _edits_of_block(program.body):
            candidate: Any = replace(program, body=body)
            if not well_formed(candidate):
                continue
            tries += 1
            if still_fails(candidate):
                program = candidate
                improved = True
                break
            if tries >= budget:
                break
    candidate = replace(program, semaphore_value=1)
    if candidate != program and still_fails(candidate):
        program = candidate
    candidate = replace(program, limiter_tokens=1)
    if candidate != program and still_fails(candidate):
        program = candidate
    candidate = replace(program, channel_buffer=0)
    if candidate != program and still_fails(candidate):
        program = candidate
    return program
