"""Deployment helpers: the embedded development stack (`python -m deploy.devstack`)."""
