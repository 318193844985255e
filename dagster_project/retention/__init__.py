"""Retention: the policy (one declarative table), the deletion plan and its gates, complete erasure through every
layer with a rewrite of the database file, post-deletion verification, and access requests (DSAR).

* ``policy``: periods, the shorter policies' rules (relation, time column, action) and the gate limits;
* ``control``: retention's control tables and the requests, holds and approvals recorded in them;
* ``plan``: who is due, what the shorter policies would remove, the six gates;
* ``selection``: which rows of which relation belong to a subject, from the declarations (erasure, DSAR, plan);
* ``needles``: identifiers as search patterns, and queries that carry them without leaking them;
* ``archive``: the landing archive rewritten without a subject's lines, expired landing files;
* ``swap``: the work copy, ``COPY FROM DATABASE``, the atomic swap, pending file actions and crash recovery;
* ``verify``: the post-deletion verification of tables, file bytes and archive;
* ``erasure``: the step the pipeline runs (``run_retention``, ``apply_plan``);
* ``dsar``: the access-request export.

Nothing in this package logs, raises or stores a person's identifier: plans, audit rows and metadata carry
pseudonyms and counts. Identifiers of subjects being erased are held in memory only while a run erases them.
"""
