"""`tm mcp`: the project's tasks as MCP tools for AI agents (stdio, official `mcp` SDK).

    roots.py      which `projectRoot` a client may name (pure path checks)
    projects.py   one `TaskMaster` facade per served project, opened on first use
    toolkit.py    tool registration, JSON answers, errors as tool errors, shared parameters
    tasks.py, subtasks.py, dependencies.py, tags.py, project.py
                  the tools, named and parametrised like claude-task-master's
    server.py     `build_server()` and `serve_stdio()`

Nothing is imported here: `taskmaster.mcp.roots` must stay importable without the SDK, and
the SDK is imported only by `tm mcp` itself.
"""
