"""EventBridge buses, rules and targets (Store protocol), the refusals services map to AWS errors
(store.errors Faults with their codes), and the routing read PutEvents does."""

from __future__ import annotations

import pytest

from lambdalite.faults import Fault
from lambdalite.model.bus import BusRecord, RuleRecord
from lambdalite.store.errors import AlreadyExists, BusMissing, InUse, RuleMissing, TooManyTargets
from lambdalite.store.protocol import Store
from tests.support.records import REGION

ACCOUNT = "000000000000"
PATTERN = '{"source": ["app"]}'


def bus(name: str) -> BusRecord:
    return BusRecord(name, f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}", "a bus", 10, 10)


def rule(name: str, bus: str = "default", *, pattern: str | None = PATTERN, schedule: str | None = None,
         state: str = "ENABLED") -> RuleRecord:
    return RuleRecord(bus, name, f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}/{name}", pattern, schedule, state,
                      None, None)


def target(id: str, arn: str = "arn:aws:sqs:us-east-1:000000000000:q") -> dict[str, str]:
    return {"Id": id, "Arn": arn}


async def default_bus(store: Store) -> None:
    await store.ensure_bus(REGION, "default", bus("default").arn, 10)


async def test_ensure_bus_creates_it_once(store: Store) -> None:
    await store.ensure_bus(REGION, "default", bus("default").arn, 10)
    await store.ensure_bus(REGION, "default", bus("default").arn, 99)
    got = await store.get_bus(REGION, "default")
    assert got is not None and got.created_s == 10 and got.arn == bus("default").arn
    assert await store.get_bus("eu-west-1", "default") is None


async def test_create_bus_refuses_an_existing_name(store: Store) -> None:
    await store.create_bus(REGION, bus("orders"))
    assert await store.get_bus(REGION, "orders") == bus("orders")
    with pytest.raises(AlreadyExists) as info:
        await store.create_bus(REGION, bus("orders"))
    assert isinstance(info.value, Fault) and info.value.code == "ResourceConflictException"


async def test_buses_are_listed_by_name_with_prefix_and_paging(store: Store) -> None:
    for name in ("b", "a2", "a1"):
        await store.create_bus(REGION, bus(name))
    assert [b.name for b in await store.list_buses(REGION, "", "", 10)] == ["a1", "a2", "b"]
    assert [b.name for b in await store.list_buses(REGION, "a", "", 10)] == ["a1", "a2"]
    assert [b.name for b in await store.list_buses(REGION, "", "a1", 1)] == ["a2"]


async def test_a_bus_with_rules_cannot_be_deleted(store: Store) -> None:
    await store.create_bus(REGION, bus("orders"))
    await store.put_rule(REGION, rule("r", "orders"), 10)
    with pytest.raises(InUse) as info:
        await store.delete_bus(REGION, "orders")
    assert info.value.code == "ValidationException"
    await store.delete_rule(REGION, "orders", "r")
    assert await store.delete_bus(REGION, "orders")
    assert not await store.delete_bus(REGION, "orders")
    assert await store.get_bus(REGION, "orders") is None


async def test_rules_need_their_bus_and_put_replaces_a_rule(store: Store) -> None:
    with pytest.raises(BusMissing) as info:
        await store.put_rule(REGION, rule("r"), 10)
    assert info.value.code == "ResourceNotFoundException"
    await default_bus(store)
    await store.put_rule(REGION, rule("r"), 10)
    await store.put_targets(REGION, "default", "r", [target("t1")])
    replaced = rule("r", pattern='{"source": ["other"]}', state="DISABLED")
    await store.put_rule(REGION, replaced, 20)
    assert await store.get_rule(REGION, "default", "r") == replaced
    assert [t for _, t in await store.list_targets(REGION, "default", "r", 0, 10)] == [target("t1")]  # kept
    assert await store.get_rule(REGION, "default", "nope") is None


async def test_rules_are_listed_per_bus_and_none_for_a_missing_bus(store: Store) -> None:
    await default_bus(store)
    await store.create_bus(REGION, bus("orders"))
    for name in ("b", "a2", "a1"):
        await store.put_rule(REGION, rule(name), 10)
    await store.put_rule(REGION, rule("x", "orders"), 10)
    listed = await store.list_rules(REGION, "default", "", "", 10)
    assert listed is not None and [r.name for r in listed] == ["a1", "a2", "b"]
    page = await store.list_rules(REGION, "default", "a", "a1", 10)
    assert page is not None and [r.name for r in page] == ["a2"]
    assert await store.list_rules(REGION, "missing", "", "", 10) is None


async def test_rule_state_changes_and_a_missing_rule_is_refused(store: Store) -> None:
    await default_bus(store)
    await store.put_rule(REGION, rule("r"), 10)
    await store.set_rule_state(REGION, "default", "r", "DISABLED")
    got = await store.get_rule(REGION, "default", "r")
    assert got is not None and got.state == "DISABLED"
    with pytest.raises(RuleMissing) as info:
        await store.set_rule_state(REGION, "default", "nope", "ENABLED")
    assert info.value.code == "ResourceNotFoundException"


async def test_targets_are_added_replaced_by_id_listed_in_order_and_removed(store: Store) -> None:
    await default_bus(store)
    await store.put_rule(REGION, rule("r"), 10)
    await store.put_targets(REGION, "default", "r", [target("t1"), target("t2")])
    await store.put_targets(REGION, "default", "r", [target("t1", "arn:aws:lambda:us-east-1:0:function:f")])
    listed = await store.list_targets(REGION, "default", "r", 0, 10)
    assert [t["Id"] for _, t in listed] == ["t1", "t2"]
    assert listed[0][1]["Arn"] == "arn:aws:lambda:us-east-1:0:function:f"
    first_page = await store.list_targets(REGION, "default", "r", 0, 1)
    assert [t["Id"] for _, t in await store.list_targets(REGION, "default", "r", first_page[-1][0], 10)] == ["t2"]
    await store.remove_targets(REGION, "default", "r", ["t1", "unknown"])
    assert [t["Id"] for _, t in await store.list_targets(REGION, "default", "r", 0, 10)] == ["t2"]


async def test_rules_are_found_by_their_targets_arn(store: Store) -> None:
    await default_bus(store)
    shared = "arn:aws:sqs:us-east-1:0:shared"
    for name in ("b", "a", "c"):
        await store.put_rule(REGION, rule(name), 10)
    await store.put_targets(REGION, "default", "b", [target("t1", shared), target("t2", shared)])
    await store.put_targets(REGION, "default", "a", [target("t1", shared)])
    await store.put_targets(REGION, "default", "c", [target("t1", "arn:aws:sqs:us-east-1:0:other")])
    assert await store.rule_names_by_target(REGION, "default", shared) == ["a", "b"]
    assert await store.rule_names_by_target(REGION, "default", "arn:aws:sqs:us-east-1:0:none") == []
    assert await store.rule_names_by_target(REGION, "no-such-bus", shared) is None


async def test_target_operations_need_the_rule(store: Store) -> None:
    await default_bus(store)
    with pytest.raises(RuleMissing):
        await store.put_targets(REGION, "default", "nope", [target("t1")])
    with pytest.raises(RuleMissing):
        await store.remove_targets(REGION, "default", "nope", ["t1"])
    with pytest.raises(RuleMissing):
        await store.list_targets(REGION, "default", "nope", 0, 10)


async def test_a_rule_holds_at_most_five_targets(store: Store) -> None:
    await default_bus(store)
    await store.put_rule(REGION, rule("r"), 10)
    await store.put_targets(REGION, "default", "r", [target(f"t{i}") for i in range(4)])
    with pytest.raises(TooManyTargets) as info:
        await store.put_targets(REGION, "default", "r", [target("t8"), target("t9")])
    assert info.value.code == "LimitExceededException"
    assert len(await store.list_targets(REGION, "default", "r", 0, 10)) == 4  # nothing added
    await store.put_targets(REGION, "default", "r", [target("t0"), target("t4")])  # one new: five in all
    assert len(await store.list_targets(REGION, "default", "r", 0, 10)) == 5


async def test_a_rule_with_targets_cannot_be_deleted_and_a_missing_rule_deletes_quietly(store: Store) -> None:
    await default_bus(store)
    await store.put_rule(REGION, rule("r"), 10)
    await store.put_targets(REGION, "default", "r", [target("t1")])
    with pytest.raises(InUse):
        await store.delete_rule(REGION, "default", "r")
    await store.remove_targets(REGION, "default", "r", ["t1"])
    await store.delete_rule(REGION, "default", "r")
    assert await store.get_rule(REGION, "default", "r") is None
    await store.delete_rule(REGION, "default", "r")  # as AWS: no error


async def test_routed_targets_are_those_of_enabled_pattern_rules_of_the_bus(store: Store) -> None:
    await default_bus(store)
    await store.create_bus(REGION, bus("orders"))
    rules = [rule("b-rule"), rule("a-rule"), rule("off", state="DISABLED"),
             rule("timer", pattern=None, schedule="rate(1 minute)"), rule("elsewhere", "orders")]
    for r in rules:
        await store.put_rule(REGION, r, 10)
        await store.put_targets(REGION, r.bus, r.name, [target(f"{r.name}-1"), target(f"{r.name}-2")])
    routed = await store.routed_targets(REGION, "default")
    assert [(t.rule, t.target["Id"]) for t in routed] == [
        ("a-rule", "a-rule-1"), ("a-rule", "a-rule-2"), ("b-rule", "b-rule-1"), ("b-rule", "b-rule-2")]
    assert routed[0].rule_arn == rule("a-rule").arn and routed[0].pattern == PATTERN
    assert [t.rule for t in await store.routed_targets(REGION, "orders")] == ["elsewhere", "elsewhere"]
    assert await store.routed_targets("eu-west-1", "default") == []
