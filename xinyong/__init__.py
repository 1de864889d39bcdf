"""Xinyong: department feeds in, a gated public credit warehouse out.

The packages follow the data, with the runtime beneath them all:

- `xinyong.ingest`: feed contracts, reading, validating and loading department files;
- `xinyong.publication`: the warehouse build (dbt), the gates (GX), the atomic publish,
  the consumers' grants, the outbox and the reports;
- `xinyong.app`: the CLI and the orchestration facade the DAG files import;
- `xinyong.runtime`: settings, the embedded server, warehouse access, secrets.

A package imports only from the ones listed after it.
"""
