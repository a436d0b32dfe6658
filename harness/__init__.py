"""Replays the races of the design documents with real processes and checks the guarantees.

`harness run NAME... | all` runs each scenario of `scenarios/*.toml` twice with the same seed:
against the naive "Current" stack (`baseline.py`) and against taskmaster (the real `tm`, real
`tm serve` processes, the `TaskMaster` facade). Every operation is recorded; the checker
decides from the recorded history alone, so `harness replay RUN_DIR` reaches the same verdict.

    cli.py          the `harness` command: list, run, replay
    scenarios.py    loading the scenario files (`[quick]` overrides, `--writers` & co.)
    runners/        one runner per scenario kind, driven by its file; `base.ScenarioRun`
    targets.py      the two stacks: which programs a CLI op, a server, a core writer are
    actors.py       performing and recording operations: CLI process, HTTP API, core
    workers.py      actor processes: planned writers, readers, file observer, editor
    agent.py        the MCP agent: `tm mcp` through the SDK's stdio client, or the naive one
    claimer.py      the claiming agent (claim, work, release; or next, then set-status) on the
                    CLI, the API, MCP or the facade
    hooked.py       the real CLI/server with a probe in its transaction (barriers, mid-write)
    processes.py    spawning and always reaping, free ports, barrier files, the run folder
    redis_server.py a throwaway redis-server on a free port (kill/restart for outages)
    history.py      the `Op` record and its JSON-lines files
    registers.py    the register model of a history
    checker.py      the invariants over a history (pure); phase_checks.py the phase-bound ones
    claims_check.py the invariants of claim histories: one holder, tokens, fencing (pure)
    violations.py   what the checker reports
    report.py       rows, verdicts, table, JSON, exit code
    progress.py     progress lines on stderr
    baseline.py     the naive file store, naive CLI, naive cached (rate-limited) API server and
                    naive agent server (the reference MCP server's loaded-once copy)

Scenarios that need Redis start their own redis-server; without one they are skipped (the row
says so) unless TM_REQUIRE_REDIS=1, which makes that an error.
"""
