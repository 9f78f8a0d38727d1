"""The fuzz suite's Hypothesis settings: `ci` (the default, bounded so the whole suite adds about a minute) and
`deep` (by hand: `HYPOTHESIS_PROFILE=deep python -m pytest tests/fuzz`).

They apply to the tests of tests/fuzz only (the `fuzz` decorator), not through `settings.load_profile`: Hypothesis
loads its own global "ci" profile when CI=true, and re-registering that name would change every other property
test of the suite.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

# Each fuzz test starts one bot and attacks it example after example (state piles up, as in production), so a
# function-scoped fixture serving many examples is the design, not an accident; examples do network round trips,
# so no deadline, and huge strings are deliberate.
_COMMON = {
    "deadline": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
}
PROFILES = {
    # Reproducible (the same examples every run) and bounded: no shrinking, which could take minutes on a found
    # bug; the failing example is printed as found. Shrink it with the deep profile.
    "ci": settings(
        max_examples=12,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        print_blob=True,
        **_COMMON,  # type: ignore[arg-type]
    ),
    # By hand: many more examples, new ones each run, failures shrunk and kept in Hypothesis's database.
    "deep": settings(max_examples=400, **_COMMON),  # type: ignore[arg-type]
}
# Another name (a profile of Hypothesis's own, say) leaves the fuzz suite on its bounded default.
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci") if os.environ.get("HYPOTHESIS_PROFILE") in PROFILES else "ci"


def fuzz(max_examples: int | None = None) -> settings:
    """The chosen profile as a decorator; `max_examples` scales a test's share of the ci budget (deep: x30)."""
    chosen = PROFILES[PROFILE]
    if max_examples is None:
        return chosen
    return settings(chosen, max_examples=max_examples if PROFILE == "ci" else max_examples * 30)
