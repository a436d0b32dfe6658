"""Project tools: generate (one markdown file per task), export_tasks (the tasks.json), doctor
(what needs a hand)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from taskmaster.mcp.projects import Projects
from taskmaster.mcp.toolkit import ProjectRoot, Tag, TasksFile, ToolServer, reply, tool


def register(server: ToolServer, projects: Projects) -> None:
    @tool(server, title="Generate Task Files", idempotent=True)
    def generate(
        projectRoot: ProjectRoot,
        output: Annotated[
            str | None,
            Field(
                description=(
                    "Directory for the files, absolute or relative to projectRoot; it must lie "
                    "inside projectRoot. Default: .taskmaster/tasks/."
                )
            ),
        ] = None,
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """Write one markdown file per task of a tag: task_001.md (task_001_<tag>.md for tags
        other than master).

        Files of tasks that no longer exist are removed; unchanged files are not rewritten.
        Returns {"tag", "outputDir", "files", "written", "removed"}.
        """
        core = projects.open(projectRoot, file)
        # The agent picks the directory, and generate deletes stale task_*.md files there:
        # the resolved directory is checked and then used, so a link cannot redirect it.
        directory = projects.output_dir(core, output)
        return reply(core.generate(directory, tag=projects.tag(tag)).result.to_dict())

    @tool(server, title="Export Tasks", read_only=True)
    def export_tasks(projectRoot: ProjectRoot, file: TasksFile = None) -> str:
        """The project as a claude-task-master tasks.json: every tag, unknown keys included,
        exactly the bytes the file backend writes (whatever backend keeps the project, a file
        or PostgreSQL). Returns that JSON text as it is."""
        core = projects.open(projectRoot, file)
        return core.snapshot().document.to_json().decode()

    @tool(server, title="Check Project", read_only=True)
    def doctor(projectRoot: ProjectRoot, file: TasksFile = None) -> str:
        """Check the project, as `tm doctor` does: the task file parses and can be replaced;
        no id is shared by two tasks and every dependency resolves; the reference tool's lock
        (tasks.json.lock) is free or says who holds it; the sidecars agree; reversions (the
        reference tool writing back a copy it read earlier, undoing commits: see get_history)
        and whether git ignores the sidecars and merges the task file.

        Returns {"status": "ok"|"warn"|"fail", "ok": bool, "checks": [{"name", "status",
        "summary", "details"}]}; a check is ok, warn, fail or skip (does not apply).
        """
        from taskmaster.doctor import diagnose

        core = projects.open(projectRoot, file)
        project = projects.project_of(core)
        return reply(diagnose(core, project.paths).to_dict())
