"""Every backend follows the model of `machine.py` through random sequences of steps."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.contract.backends import Backend
from tests.contract.machine import ContractMachine


def test_the_store_follows_the_model(backend: Backend) -> None:
    run_state_machine_as_test(
        lambda: ContractMachine(backend),
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        ),
    )
