"""What ``CognitoAuthMiddleware`` costs per request, against a bare Starlette app and against
the stacks a team would otherwise assemble. Run ``python -m benchmarks`` (``--help``)."""
