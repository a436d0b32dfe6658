#!/usr/bin/env bash
# A short `tm` session in a scratch project: what a newcomer sees first.
set -euo pipefail
project=$(mktemp -d "${TMPDIR:-/tmp}/tm-demo.XXXXXX")
trap 'rm -rf "$project"' EXIT
run() { printf '\n$ %s\n' "$*"; "$@"; }
cd "$project"
run tm init
run tm add-task --prompt "Build feature X"
run tm add-task --title "Write the docs" --description "Explain feature X" --dependencies 1 --priority high
run tm add-subtask --parent 1 --title "Design the API"
run tm add-subtask --parent 1 --title "Implement it" --dependencies 1.1
run tm set-status 1 in-progress
run tm next
run tm set-status 1.1,1.2 done
run tm list --with-subtasks
run tm next --json
printf '\nScratch project %s is removed on exit.\n' "$project"
