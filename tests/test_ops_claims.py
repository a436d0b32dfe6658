"""Claims, rule by rule, on documents in memory (the time is passed in, so leases are exact)."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import make_doc, make_subtask, make_task

from taskmaster.commands import ClaimTask, UpdateTask, Work
from taskmaster.errors import BadArgument, ClaimHeld, ClaimLost, InvalidInput, TaskNotFound
from taskmaster.model import TaskId
from taskmaster.ops import claims
from taskmaster.ops.claims import (
    check_fence,
    claim_task,
    excluded_by_claims,
    list_claims,
    parse_lease,
    release_claim,
    renew_claim,
)
from taskmaster.storage.base import Draft, ProjectState

T0 = 1_800_000_000.0
LEASE = 60.0


def three() -> object:
    return make_doc(make_task(1, priority="high"), make_task(2), make_task(3, 1))


def claimed_id(answer: dict) -> str | None:
    return None if answer["claim"] is None else answer["claim"]["id"]


# claiming ---------------------------------------------------------------------------------------


def test_a_claim_takes_the_task_next_would_pick_sets_it_in_progress_and_records_the_claim() -> None:
    doc = three()
    answer = claim_task(doc, "master", None, "a", LEASE, T0)
    assert claimed_id(answer) == "1"
    task = doc.task("master", 1)
    assert task["status"] == "in-progress"
    record = task["metadata"]["claim"]
    assert record == {
        "token": 1,
        "agent": "a",
        "claimedAt": claims.iso_time(T0),
        "expiresAt": claims.iso_time(T0 + LEASE),
    }
    assert answer["task"]["id"] == 1 and answer["claim"]["state"] == "live"


def test_the_next_claim_skips_live_claims_and_tokens_increase() -> None:
    doc = three()
    first = claim_task(doc, "master", None, "a", LEASE, T0)
    second = claim_task(doc, "master", None, "b", LEASE, T0 + 1)
    third = claim_task(doc, "master", None, "c", LEASE, T0 + 2)
    # 3 waits for 1, which is claimed but not done: nothing is left for c.
    assert (claimed_id(first), claimed_id(second), claimed_id(third)) == ("1", "2", None)
    assert third["task"] is None
    assert [first["claim"]["token"], second["claim"]["token"]] == [1, 2]
    assert doc.tag("master")["metadata"][claims.SEQUENCE_KEY] == 2


def test_another_agents_live_claim_is_refused_naming_the_holder_and_expiry() -> None:
    doc = three()
    claim_task(doc, "master", TaskId(2), "a", LEASE, T0)
    before = copy.deepcopy(doc.data)
    with pytest.raises(ClaimHeld) as caught:
        claim_task(doc, "master", TaskId(2), "b", LEASE, T0 + 5)
    assert caught.value.agent == "a" and caught.value.token == 1
    assert claims.iso_time(T0 + LEASE) in str(caught.value)
    del before  # the facade's transaction discards a refused command's draft


def test_a_task_and_its_subtask_are_never_held_by_two_agents() -> None:
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1), make_subtask(2, 1)]), make_task(2))
    claim_task(doc, "master", TaskId(1), "a", LEASE, T0)
    with pytest.raises(ClaimHeld):
        claim_task(doc, "master", TaskId(1, 1), "b", LEASE, T0)
    # The holder itself is offered its task's subtasks; another agent gets another task.
    assert claimed_id(claim_task(doc, "master", None, "b", LEASE, T0)) == "2"
    assert claimed_id(claim_task(doc, "master", None, "a", LEASE, T0)) == "1.1"


def test_a_claimed_subtask_keeps_its_parent_but_not_its_siblings_from_others() -> None:
    doc = make_doc(
        make_task(1, status="in-progress", subtasks=[make_subtask(1, 1), make_subtask(2, 1)])
    )
    assert claimed_id(claim_task(doc, "master", None, "a", LEASE, T0)) == "1.1"
    assert claimed_id(claim_task(doc, "master", None, "b", LEASE, T0)) == "1.2"
    with pytest.raises(ClaimHeld):
        claim_task(doc, "master", TaskId(1), "c", LEASE, T0)
    assert TaskId(1) in excluded_by_claims(doc, "master", T0, agent="c")


def test_the_same_agent_claiming_again_gets_a_new_token_and_the_old_one_is_fenced_off() -> None:
    doc = three()
    old = claim_task(doc, "master", TaskId(2), "a", LEASE, T0)["claim"]["token"]
    new = claim_task(doc, "master", TaskId(2), "a", LEASE, T0 + 1)["claim"]["token"]
    assert new > old
    with pytest.raises(ClaimLost, match="superseded"):
        check_fence(doc, "master", [TaskId(2)], old, T0 + 2)
    check_fence(doc, "master", [TaskId(2)], new, T0 + 2)


def test_a_done_or_cancelled_task_cannot_be_claimed_and_a_missing_one_is_not_found() -> None:
    doc = make_doc(make_task(1, status="done"), make_task(2, status="cancelled"))
    for task_id in (1, 2):
        with pytest.raises(InvalidInput, match="nothing left to claim"):
            claim_task(doc, "master", TaskId(task_id), "a", LEASE, T0)
    with pytest.raises(TaskNotFound):
        claim_task(doc, "master", TaskId(9), "a", LEASE, T0)


@pytest.mark.parametrize("agent", ["", "   ", "a\nb", "x" * 201, None, 3])
def test_an_agent_needs_a_printable_name(agent: object) -> None:
    with pytest.raises(BadArgument):
        claim_task(three(), "master", None, agent, LEASE, T0)  # type: ignore[arg-type]


# expiry -----------------------------------------------------------------------------------------


def test_an_expired_claim_frees_its_task_and_is_recorded_as_expired_by_the_next_claim() -> None:
    doc = three()
    first = claim_task(doc, "master", TaskId(1), "a", LEASE, T0)["claim"]
    assert claim_task(doc, "master", TaskId(2), "b", LEASE, T0)["claim"]["token"] == 2
    # Still live one millisecond before the end: the task is held.
    with pytest.raises(ClaimHeld):
        claim_task(doc, "master", TaskId(1), "c", LEASE, T0 + LEASE - 0.001)
    answer = claim_task(doc, "master", None, "c", LEASE, T0 + LEASE)
    assert claimed_id(answer) == "1"
    assert [(each["id"], each["token"], each["state"]) for each in answer["expired"]] == [
        ("1", 1, "expired"),
        ("2", 2, "expired"),
    ]
    history = doc.task("master", 1)["metadata"]["claimHistory"]
    assert history[-1]["token"] == first["token"] and history[-1]["outcome"] == "expired"
    assert history[-1]["endedAt"] == first["expiresAt"]
    with pytest.raises(ClaimLost, match="expired"):
        check_fence(doc, "master", [TaskId(1)], first["token"], T0 + LEASE + 1)


def test_a_lease_that_ran_out_is_no_claim_even_before_anyone_claims_the_task() -> None:
    doc = three()
    token = claim_task(doc, "master", TaskId(2), "a", LEASE, T0)["claim"]["token"]
    with pytest.raises(ClaimLost, match="ran out"):
        check_fence(doc, "master", [TaskId(2)], token, T0 + LEASE)
    with pytest.raises(ClaimLost, match="ran out"):
        renew_claim(doc, token, LEASE, T0 + LEASE)
    with pytest.raises(ClaimLost, match="ran out"):
        release_claim(doc, token, T0 + LEASE, "done")
    assert [claim["state"] for claim in list_claims(doc, "master", T0 + LEASE)] == ["expired"]


def test_the_history_keeps_the_newest_ended_claims_only() -> None:
    doc = three()
    for n in range(claims.HISTORY_KEPT + 5):
        token = claim_task(doc, "master", TaskId(2), "a", LEASE, T0 + n)["claim"]["token"]
        release_claim(doc, token, T0 + n)
    history = doc.task("master", 2)["metadata"]["claimHistory"]
    assert len(history) == claims.HISTORY_KEPT
    assert history[-1]["token"] == claims.HISTORY_KEPT + 5


# renew and release ------------------------------------------------------------------------------


def test_renewing_moves_the_expiry_from_now() -> None:
    doc = three()
    token = claim_task(doc, "master", TaskId(2), "a", LEASE, T0)["claim"]["token"]
    renewed = renew_claim(doc, token, 300.0, T0 + 50)
    assert renewed["expiresAt"] == claims.iso_time(T0 + 350)
    check_fence(doc, "master", [TaskId(2)], token, T0 + 349)
    with pytest.raises(ClaimLost):
        check_fence(doc, "master", [TaskId(2)], token, T0 + 350)


def test_release_ends_the_claim_and_may_set_the_outcome_in_the_same_change() -> None:
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1)]))
    token = claim_task(doc, "master", TaskId(1, 1), "a", LEASE, T0)["claim"]["token"]
    assert doc.task("master", 1)["status"] == "in-progress"  # the parent follows its subtask
    ended = release_claim(doc, token, T0 + 10, "done")
    assert (ended["state"], ended["status"], ended["endedAt"]) == (
        "released",
        "done",
        claims.iso_time(T0 + 10),
    )
    task = doc.task("master", 1)
    assert task["subtasks"][0]["status"] == "done" and task["status"] == "done"
    assert "claim" not in task["subtasks"][0]["metadata"]
    with pytest.raises(ClaimLost, match="released"):
        release_claim(doc, token, T0 + 11)


def test_list_claims_shows_live_and_lapsed_ones_and_with_ended_the_history_by_token() -> None:
    doc = three()
    t1 = claim_task(doc, "master", TaskId(1), "a", LEASE, T0)["claim"]["token"]
    claim_task(doc, "master", TaskId(2), "b", 10.0, T0)
    release_claim(doc, t1, T0 + 1)
    shown = list_claims(doc, "master", T0 + 20)
    assert [(c["id"], c["state"]) for c in shown] == [("2", "expired")]
    every = list_claims(doc, "master", T0 + 20, ended=True)
    assert [(c["token"], c["state"]) for c in every] == [(1, "released"), (2, "expired")]


# fencing ----------------------------------------------------------------------------------------


def test_a_fenced_write_needs_the_live_claim_of_every_item_it_writes() -> None:
    doc = make_doc(make_task(1, subtasks=[make_subtask(1, 1)]), make_task(2))
    mine = claim_task(doc, "master", TaskId(1), "a", LEASE, T0)["claim"]["token"]
    theirs = claim_task(doc, "master", TaskId(2), "b", LEASE, T0)["claim"]["token"]
    check_fence(doc, "master", [TaskId(1)], mine, T0 + 1)
    check_fence(doc, "master", [TaskId(1, 1)], mine, T0 + 1)  # the task's claim covers its subtasks
    with pytest.raises(ClaimLost) as caught:
        check_fence(doc, "master", [TaskId(1), TaskId(2)], mine, T0 + 1)
    assert caught.value.details["holder"] == "b" and caught.value.details["holder_token"] == theirs
    with pytest.raises(ClaimLost, match="does not exist"):
        check_fence(doc, "master", [TaskId(9)], mine, T0 + 1)
    # A write naming no task (adding one) needs the token live somewhere in the tag.
    check_fence(doc, "master", [], mine, T0 + 1)
    with pytest.raises(ClaimLost, match="no task holds"):
        check_fence(doc, "master", [], 99, T0 + 1)


def test_a_command_is_fenced_by_its_subject_parameters_and_judged_by_the_drafts_clock() -> None:
    doc = three()
    work = Work(Draft(doc, ProjectState(), 0, clock=lambda: T0), "now")
    answer = ClaimTask(agent="a", id=TaskId(2), lease=LEASE).apply(work)
    # The lease is measured by the clock the storage gave the transaction, not the caller's.
    assert answer["claim"]["expiresAt"] == claims.iso_time(T0 + LEASE)
    token = answer["claim"]["token"]
    update = UpdateTask(id=TaskId(2), fields={"details": "x"})
    assert update.claim_subjects() == [TaskId(2)]
    update.fence(Work(Draft(doc, ProjectState(), 0, clock=lambda: T0 + 1), "now"), token)
    with pytest.raises(ClaimLost):
        update.fence(Work(Draft(doc, ProjectState(), 0, clock=lambda: T0 + LEASE), "now"), token)
    with pytest.raises(ClaimLost):
        UpdateTask(id=TaskId(1), fields={"details": "x"}).fence(
            Work(Draft(doc, ProjectState(), 0, clock=lambda: T0 + 1), "now"), token
        )


# tokens -----------------------------------------------------------------------------------------


def test_a_token_is_not_reused_when_its_counter_is_written_back_older() -> None:
    doc = make_doc(make_task(1), make_task(2), make_task(3))
    claim_task(doc, "master", TaskId(1), "a", LEASE, T0)
    t2 = claim_task(doc, "master", TaskId(2), "a", LEASE, T0)["claim"]["token"]
    release_claim(doc, t2, T0)
    # An older copy of the tag's metadata comes back (another tool wrote the tag): the
    # records, live and ended, still count.
    doc.tag("master")["metadata"][claims.SEQUENCE_KEY] = 0
    assert claim_task(doc, "master", TaskId(3), "a", LEASE, T0)["claim"]["token"] == t2 + 1


def test_a_token_is_not_reused_when_the_task_that_held_it_is_removed() -> None:
    doc = make_doc(make_task(1), make_task(2), other=[make_task(1)])
    claim_task(doc, "master", TaskId(1), "a", LEASE, T0)
    t2 = claim_task(doc, "other", TaskId(1), "a", LEASE, T0)["claim"]["token"]
    doc.drop_tag("other")  # the newest token's task and its tag's counter are gone
    doc.tasks("master").pop(0)  # and so is the older one's record
    assert claim_task(doc, "master", TaskId(2), "a", LEASE, T0)["claim"]["token"] == t2 + 1


@pytest.mark.parametrize(
    "record",
    [
        "not an object",
        {"token": "7", "agent": "a", "expiresAt": "2099-01-01T00:00:00Z"},
        {"token": 7, "agent": None, "expiresAt": "2099-01-01T00:00:00Z"},
        {"token": 7, "agent": "a", "expiresAt": "soon"},
        {"token": True, "agent": "a", "expiresAt": "2099-01-01T00:00:00Z"},
    ],
)
def test_an_unreadable_claim_record_is_no_claim(record: object) -> None:
    doc = make_doc(make_task(1, metadata={"claim": record, "kept": 1, "claimHistory": "x"}))
    assert claimed_id(claim_task(doc, "master", None, "a", LEASE, T0)) == "1"
    metadata = doc.task("master", 1)["metadata"]
    assert metadata["kept"] == 1 and metadata["claim"]["agent"] == "a"


# leases -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        (90, 90.0),
        (0.5, 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("2d", 172800.0),
        (" 1H ", 3600.0),
        ("7d", 604800.0),
    ],
)
def test_a_lease_is_seconds_or_a_duration(text: object, seconds: float) -> None:
    assert parse_lease(text) == seconds


@pytest.mark.parametrize("text", ["", "0", -5, "abc", "5x", "1m1h", "8d", True, None, float("nan")])
def test_a_bad_lease_is_refused_naming_the_argument(text: object) -> None:
    with pytest.raises(BadArgument, match="'lease'"):
        parse_lease(text)


@pytest.mark.parametrize("seconds", [0.0, -1.0, 7 * 86400 + 1.0])
def test_a_claim_or_renewal_refuses_a_lease_its_front_end_let_through(seconds: float) -> None:
    """The seven days are the claim's rule, not the argument kind's: whatever parsed the
    duration, the operation checks it, and changes nothing when it refuses."""
    doc = three()
    with pytest.raises(BadArgument, match="at most 7 days"):
        claim_task(doc, "master", None, "a", seconds, T0)
    assert doc.data == three().data
    token = claim_task(doc, "master", None, "a", LEASE, T0)["claim"]["token"]
    before = copy.deepcopy(doc.data)
    with pytest.raises(BadArgument, match="at most 7 days"):
        renew_claim(doc, token, seconds, T0 + 1)
    assert doc.data == before


# a property: whatever agents do, in whatever order, one live claim per task and fresh tokens -----

ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["claim-next", "claim-id", "renew", "release", "fenced-write"]),
        st.sampled_from(["a", "b", "c"]),
        st.integers(1, 4),
        st.floats(0, 40),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(ACTIONS)
def test_at_most_one_live_claim_per_item_and_tokens_only_grow(actions: list) -> None:
    doc = make_doc(
        make_task(1, subtasks=[make_subtask(1, 1), make_subtask(2, 1)]),
        make_task(2),
        make_task(3, 2),
        make_task(4),
    )
    now = T0
    issued: list[int] = []
    held: dict[str, int] = {}  # agent -> the last token it got
    for action, agent, number, step in actions:
        now += step
        try:
            if action.startswith("claim"):
                target = None if action == "claim-next" else TaskId(number)
                answer = claim_task(doc, "master", target, agent, 25.0, now)
                if answer["claim"] is not None:
                    token = answer["claim"]["token"]
                    assert not issued or token > issued[-1]
                    issued.append(token)
                    held[agent] = token
            elif agent in held and action == "renew":
                renew_claim(doc, held[agent], 25.0, now)
            elif agent in held and action == "release":
                release_claim(doc, held[agent], now, "done")
            elif agent in held:
                check_fence(doc, "master", [TaskId(number)], held[agent], now)
                record = claims.live_record(doc.task("master", number), now)
                assert record is not None and record["token"] == held[agent]
        except (ClaimHeld, ClaimLost, InvalidInput):
            pass
        live = claims.live_claims(doc, "master", now)
        tokens = [record["token"] for record in live.values()]
        assert len(tokens) == len(set(tokens))
        for item_id, record in live.items():
            # Another agent's claim on the task of a claimed subtask, or the reverse, is refused.
            other = TaskId(item_id.task) if item_id.sub is not None else None
            if other is not None and other in live:
                assert live[other]["agent"] == record["agent"]
