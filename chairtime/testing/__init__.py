"""Test helpers that need real processes and sockets: a server launcher, a TCP
proxy that can be cut to "stop" a database, and an HTTP load generator.

Nothing here is imported by the application.
"""
