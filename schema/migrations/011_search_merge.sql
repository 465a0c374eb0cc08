-- 011: the search index merges its segments 64 at a time, and at quiet
-- points (issue 12: "FTS5 and mentions must cost under 15 %" of a send).
--
-- Why. With 009 each commit writes one small segment and FTS5 merged them
-- as it went (automerge 16): in process, 200,000 messages indexed, one
-- send per commit, callgrind counted 1.76 M instructions per send against
-- 0.26 M without the index (tools/bench/sendcost, index mode); in batches
-- of 30, 0.57 M against 0.24 M. Most of it is merging: every row and each
-- of its prefixes (2, 3, 4) is rewritten once per level it passes.
--
-- How. automerge 0: a commit merges nothing unless a level holds
-- crisismerge segments; crisismerge 64 then merges them all at once, so a
-- row passes fewer levels (log64 rather than log16 of the rows). So a
-- level never holds more than 64 segments (queries read each: at 200,000
-- messages and 99 segments, a word, two words or a prefix took 0.5-1.8 ms
-- median in the sqlite3 module). Besides, Store::MaintainIfDue
-- (schema/store_search.cc) runs a small ('merge', 32) step after every 256
-- commits that indexed, once the answers of a batch are out: it merges a
-- level of usermerge (16) segments or more, so an index that grows slowly
-- does not keep up to 64 segments a level for long.
--
-- Only FTS5's configuration changes (rows of messages_fts_config): the
-- table, its triggers and what is indexed stay as 009 left them.
INSERT INTO messages_fts(messages_fts, rank) VALUES ('automerge', 0);
INSERT INTO messages_fts(messages_fts, rank) VALUES ('crisismerge', 64);
INSERT INTO messages_fts(messages_fts, rank) VALUES ('usermerge', 16);
