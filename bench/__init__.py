"""`make bench`: Chairtime's performance figures (docs/performance.md)."""
