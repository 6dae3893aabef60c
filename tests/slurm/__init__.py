"""Tests against a real single-node Slurm cluster (a package, so its conftest is not the top-level ``conftest``)."""
