"""Retention: the policy (one declarative table), the deletion plan and its gates, complete erasure through every
layer with a rewrite of the database file, post-deletion verification, and access requests (DSAR).

Nothing in this package logs, raises or stores a person's identifier: plans, audit rows and metadata carry
pseudonyms and counts. Identifiers of subjects being erased are held in memory only while a run erases them.
"""
