"""chairtimectl: the operator command (deploy, rollback, history, status, diagnose).

Run it as ``bin/chairtimectl``; see cli.py and docs/runbook.md."""
