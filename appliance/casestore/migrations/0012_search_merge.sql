-- Version 12: the search index merges its segments 32 at a time instead of FTS5's default 4.
--
-- FTS5 writes each transaction's new words as a small segment and merges segments in the
-- background of later writes (automerge): a word's entries are rewritten once per level of
-- merging, and with 4 segments to a merge a million messages make about ten levels. Merging
-- 32 at a time makes four, so an intake spends less of its commit rewriting old entries; a
-- search reads more segments per word (up to 31 a level) and stays far inside its target.
-- The crisis limit, where FTS5 merges a whole level inside one commit, is kept well above the
-- merge width, so merges stay spread over many small commits rather than one long one.
-- Measured in docs/casestore.md (Settings): at 200,000 cases the intake p99 fell from 13 ms
-- to 1.2 ms; at 1,000,000 the search p99 is 0.24 ms (target 10 ms).
INSERT INTO message_fts (message_fts, rank) VALUES ('automerge', 32);
INSERT INTO message_fts (message_fts, rank) VALUES ('crisismerge', 128);
