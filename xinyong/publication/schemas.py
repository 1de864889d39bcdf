"""The names of the publication's schemas, declared once for build, gates and publish.

dbt builds the published marts into CANDIDATE (passed to dbt as the var `publish_schema`);
the gates audit CANDIDATE; publish swaps it into LIVE in one transaction, keeping the old
live schema as PREVIOUS for a rollback. A candidate whose only gate failures a person may
approve is kept as HELD_PREFIX + publication id until it is approved or superseded; a
rolled-back publication is set apart as ROLLED_BACK. Readers only ever see LIVE.

INTERMEDIATE is where dbt_project.yml puts the intermediate models and the incremental
build's state (intermediate.build_state); it is never swapped.
"""

from __future__ import annotations

LIVE = "publish"
PREVIOUS = "publish_prev"
CANDIDATE = "publish_candidate"
HELD_PREFIX = "publish_held_"
ROLLED_BACK = "publish_rolled_back"
INTERMEDIATE = "intermediate"
