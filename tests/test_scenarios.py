"""Every scenario table in ``tests/scenarios/*.md`` as its own test case (id = its title).

The tables are the specification a domain expert reads; ``tests/scenario_runner.py`` runs them.
A scenario whose expectation the engine does not meet yet carries ``> xfail: engine bug: ...``
under its title and runs as a strict xfail, so it turns red the moment the bug is fixed.
"""

from __future__ import annotations

import dataclasses

import pytest

from cambist.domain.reasons import Reject
from tests.scenario_runner import Scenario, all_rejection_codes, load_scenarios, run_scenario

SCENARIOS = load_scenarios()


def _case(sc: Scenario) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=sc.xfail)] if sc.xfail else []
    return pytest.param(sc, id=sc.title, marks=marks)


@pytest.mark.parametrize("scenario", [_case(sc) for sc in SCENARIOS])
def test_scenario(scenario: Scenario) -> None:
    run_scenario(scenario)


def test_scenarios_all_files_at_least_sixty_scenarios() -> None:
    assert len(SCENARIOS) >= 60, f"only {len(SCENARIOS)} scenarios"


def test_scenarios_every_reject_code_expected_by_a_passing_scenario() -> None:
    seen = all_rejection_codes(SCENARIOS)
    missing = sorted(code.value for code in Reject if code.value not in seen)
    assert not missing, f"no passing scenario expects these rejection codes: {missing}"


def test_scenarios_expected_codes_are_real_reject_values() -> None:
    known = {code.value for code in Reject}
    unknown = sorted(set(all_rejection_codes(SCENARIOS)) - known)
    assert not unknown, f"scenarios expect codes the engine does not have: {unknown}"


def test_scenario_runner_wrong_expectation_fails_with_both_tables() -> None:
    # Arrange: a passing scenario with one balance and one trade quantity made wrong
    original = next(
        sc for sc in SCENARIOS if sc.title == "Same price: the earlier order fills first"
    )
    tables = {name: [dict(row) for row in rows] for name, rows in original.tables.items()}
    tables["trades"][1]["qty"] = "0.002"
    tables["balances after"][0]["available"] = "804.99"
    broken = dataclasses.replace(original, tables=tables, xfail=None)
    # Act
    with pytest.raises(AssertionError) as caught:
        run_scenario(broken)
    # Assert: the message shows expected and actual rows
    message = str(caught.value)
    assert "trades differ" in message and "| BTC-USD | B1 | A2 | 65000 | 0.002 | 0 | 0 |" in message
    assert "| alice | USD | 804.99 | 0 | 805 | 0 |" in message
