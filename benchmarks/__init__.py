"""Benchmarks: each module measures one thing and returns rows of figures for the report."""
