"""`python -m taskmaster`: the `tm` command, for callers that know an interpreter but not where
its scripts are (git's merge driver, set up by `tm git install`)."""

from taskmaster.cli import main

main()
