"""The dependency graph: cycles named as closed paths, downstream sets, topological order."""

from __future__ import annotations

from jobdeck.state.graph import dependents, downstream, find_cycle, topological


def test_a_dag_has_no_cycle() -> None:
    assert find_cycle({"a": [], "b": ["a"], "c": ["a", "b"]}) is None
    assert find_cycle({}) is None


def test_self_loop_two_and_three_node_cycles_are_named() -> None:
    assert find_cycle({"a": ["a"]}) == ["a", "a"]
    assert find_cycle({"a": ["b"], "b": ["a"]}) == ["a", "b", "a"]
    assert find_cycle({"a": ["c"], "b": ["a"], "c": ["b"]}) == ["a", "c", "b", "a"]


def test_cycle_behind_an_acyclic_prefix_is_only_the_loop() -> None:
    cycle = find_cycle({"entry": ["x"], "x": ["y"], "y": ["z"], "z": ["x"]})
    assert cycle == ["x", "y", "z", "x"]


def test_unknown_dependencies_are_ignored_by_cycle_search() -> None:
    assert find_cycle({"a": ["missing"], "b": ["a"]}) is None


def test_long_chain_does_not_recurse() -> None:
    chain = {f"j{n}": [f"j{n - 1}"] if n else [] for n in range(20_000)}
    assert find_cycle(chain) is None
    assert topological(chain)[:3] == ["j0", "j1", "j2"]
    chain["j0"] = ["j19999"]
    cycle = find_cycle(chain)
    assert cycle is not None and len(cycle) == 20_001 and cycle[0] == cycle[-1]


def test_topological_puts_dependencies_first_and_keeps_declaration_order() -> None:
    deps = {"report": ["clean", "fetch"], "fetch": [], "clean": ["fetch"], "other": []}
    order = topological(deps)
    assert order == ["fetch", "clean", "report", "other"]
    for job, ups in deps.items():
        assert all(order.index(up) < order.index(job) for up in ups)


def test_downstream_is_the_roots_and_everything_depending_on_them_in_order() -> None:
    deps = {"a": [], "b": ["a"], "c": ["b"], "d": [], "e": ["d", "b"]}
    assert downstream(["b"], deps) == ["b", "c", "e"]
    assert downstream(["a"], deps) == ["a", "b", "c", "e"]
    assert downstream(["d"], deps) == ["d", "e"]
    assert downstream(["c"], deps) == ["c"]


def test_dependents_reverses_edges() -> None:
    assert dependents({"a": [], "b": ["a"], "c": ["a"]}) == {"a": ["b", "c"], "b": [], "c": []}


def test_the_spec_builds_its_dependency_graph_once_and_keeps_it_out_of_the_model() -> None:
    from jobdeck.state.loader import parse_spec

    raw = b'{"jobs": [{"id": "a", "command": ["true"]}, {"id": "b", "command": ["true"], "depends_on": ["a"]}]}'
    spec = parse_spec(raw).spec
    assert spec.dependencies == {"a": [], "b": ["a"]}
    assert spec.dependencies is spec.dependencies
    assert downstream(["a"], spec.dependencies) == ["a", "b"]
    assert spec == parse_spec(raw).spec
    assert "dependencies" not in spec.model_dump() and "by_id" not in spec.model_dump()
