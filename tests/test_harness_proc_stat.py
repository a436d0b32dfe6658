"""`harness.processes.stat_fields` and what reads it: real processes, their /proc entries."""

from __future__ import annotations

import os
import signal
import sys
import time

from harness.processes import pids_mentioning, stat_fields, supervised


def test_stat_fields_give_a_live_process_its_state_and_parent_and_a_reaped_one_nothing() -> None:
    with supervised() as supervisor:
        # An argument with a space and a parenthesis, for `pids_mentioning` to find.
        child = supervisor.spawn(
            "sleeper",
            [sys.executable, "-c", "import time; time.sleep(30)", "tm-stat-fields (x) probe"],
        )
        fields = stat_fields(child.pid)
        assert fields is not None
        assert fields[0] in "RSD"
        assert int(fields[1]) == os.getpid()
        assert int(fields[11]) >= 0 and int(fields[12]) >= 0
        assert pids_mentioning("tm-stat-fields (x) probe") == [child.pid]
        os.kill(child.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while (stopped := stat_fields(child.pid)) is not None and stopped[0] != "T":
            assert time.monotonic() < deadline, "the stopped process never showed T"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
        child.popen.wait()
    assert stat_fields(child.pid) is None
    assert pids_mentioning("tm-stat-fields (x) probe") == []
