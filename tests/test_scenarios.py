"""Every scenario table in ``tests/scenarios/*.md`` as its own test case (id = its title).

The tables are the specification a domain expert reads; ``tests/scenario_runner.py`` runs them.
A scenario whose expectation the engine does not meet yet carries ``> xfail: engine bug: ...``
under its title and runs as a strict xfail, so it turns red the moment the bug is fixed.
"""

from __future__ import annotations

import pytest

from tests.scenario_runner import Scenario, load_scenarios, run_scenario

SCENARIOS = load_scenarios()


def _case(sc: Scenario) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=sc.xfail)] if sc.xfail else []
    return pytest.param(sc, id=sc.title, marks=marks)


@pytest.mark.parametrize("scenario", [_case(sc) for sc in SCENARIOS])
def test_scenario(scenario: Scenario) -> None:
    run_scenario(scenario)
