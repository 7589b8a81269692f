"""Report writers, each a `scimconform.events.Reporter`; `registry.REPORTERS` says which a run builds.
Nothing upstream imports a reporter: the engine only emits events."""
