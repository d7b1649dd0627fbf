"""The test suite, a package so that ``from tests.helpers import ...`` finds
these helpers: without this file a ``tests`` package installed by a
dependency (model-index ships one in site-packages) would be imported
instead."""
