"""Tests of deploy/pipeline-local (a package: pytest then puts deploy/pipeline-local on
sys.path, where runner.py and replay.py are imported from)."""
