"""The operator's command line, above the library: one module per command group, `main` the parser and entry."""
