"""Run anyio's own test suite on pike, next to asyncio and trio, and gate CI on it.

anyio's tests are the specification of pike's anyio backend. This package fetches
the tests of exactly the installed anyio version, runs them once per backend in
separate pytest processes (with a plugin that adds "pike" to the backends anyio's
conftest parametrizes over), and compares pike's outcomes with the references.

The package itself is imported by those pytest processes (as `-p conformance.plugin`),
so this module must stay free of imports.
"""
