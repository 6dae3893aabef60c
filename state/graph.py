"""The dependency graph: unknown deps, cycles, and who is downstream of whom."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """One dependency cycle as a closed path ``[a, b, a]``, or None if the graph is a DAG."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(deps, WHITE)
    for root in deps:
        if colour[root] != WHITE:
            continue
        path: list[str] = [root]
        iters = [iter(deps[root])]
        colour[root] = GREY
        while iters:
            for nxt in iters[-1]:
                if nxt not in colour:
                    continue
                if colour[nxt] == GREY:
                    return path[path.index(nxt):] + [nxt]
                if colour[nxt] == WHITE:
                    colour[nxt] = GREY
                    path.append(nxt)
                    iters.append(iter(deps[nxt]))
                    break
            else:
                colour[path.pop()] = BLACK
                iters.pop()
    return None


def dependents(deps: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Reverse edges: for each job, the jobs that depend on it directly."""
    reverse: dict[str, list[str]] = {job: [] for job in deps}
    for job, ups in deps.items():
        for up in ups:
            reverse.setdefault(up, []).append(job)
    return reverse


def downstream(roots: Iterable[str], deps: Mapping[str, Sequence[str]]) -> list[str]:
    """``roots`` and every job that depends on them, transitively, in topological order."""
    reverse = dependents(deps)
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        job = stack.pop()
        if job not in seen:
            seen.add(job)
            stack.extend(reverse.get(job, ()))
    return [job for job in topological(deps) if job in seen]


def topological(deps: Mapping[str, Sequence[str]]) -> list[str]:
    """Jobs ordered so each comes after its dependencies (declaration order breaks ties)."""
    order: list[str] = []
    placed: set[str] = set()
    for root in deps:
        stack = [(root, iter(deps.get(root, ())))]
        if root in placed:
            continue
        visiting = {root}
        while stack:
            job, it = stack[-1]
            for up in it:
                if up not in placed and up not in visiting and up in deps:
                    visiting.add(up)
                    stack.append((up, iter(deps[up])))
                    break
            else:
                stack.pop()
                visiting.discard(job)
                if job not in placed:
                    placed.add(job)
                    order.append(job)
    return order
