"""The application: the `xinyong` CLI and the orchestration facade (`pipeline`) that the
DAG files import."""
