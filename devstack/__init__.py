"""The docker-free local stack: the template's resources on an AWS emulator, the handlers in processes
of their own, as Lambda runs them.

This package runs on a developer's machine and in the tests; it is never deployed to Lambda.
"""
