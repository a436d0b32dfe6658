"""One runner function per scenario kind; each reads its parameters from the scenario file."""

from __future__ import annotations

from collections.abc import Callable

from harness.runners import (
    corrupt_file,
    crash,
    double_claim,
    external_edit,
    lock_holder,
    lost_update,
    mixed_frontends,
    multi_instance,
    postgres_outage,
    rate_limit,
    redis_outage,
    reference_tool,
    resume_events,
    stale_cache,
    zombie_claimant,
)
from harness.runners.base import ScenarioRun, ScenarioSkipped

Runner = Callable[[ScenarioRun], None]

RUNNERS: dict[str, Runner] = {
    "lost-update": lost_update.run,
    "stale-cache": stale_cache.run,
    "multi-instance": multi_instance.run,
    "crash": crash.run,
    "external-edit": external_edit.run,
    "corrupt-file": corrupt_file.run,
    "lock-holder-dies": lock_holder.run,
    "rate-limit": rate_limit.run,
    "redis-outage": redis_outage.run,
    "postgres-outage": postgres_outage.run,
    "mixed-frontends": mixed_frontends.run,
    "double-claim": double_claim.run,
    "zombie-claimant": zombie_claimant.run,
    "resume-events": resume_events.run,
    "reference-tool": reference_tool.run,
}

__all__ = ["RUNNERS", "Runner", "ScenarioRun", "ScenarioSkipped"]
