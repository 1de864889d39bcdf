"""A synthetic district's department files, written in the feeds' contracts (not part of
the platform: `xinyong generate` and the tests use it)."""
