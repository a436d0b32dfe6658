"""Replays the races of the design documents with real processes and checks the guarantees."""
