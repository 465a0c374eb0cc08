-- 009: new messages' words wait in the GIN index's pending list (fastupdate)
-- until it outgrows gin_pending_list_limit, when the insert that crossed it
-- merges them into the index; and every search reads the whole list, for
-- each of its words. At the default 4 MB a search read up to ~350 pages
-- (1.7 ms for one word with 20,000 messages waiting) and the send that
-- merged them waited ~60 ms; at 256 kB, at most 32 pages and a merge of a
-- few milliseconds, for ~3 µs more server CPU per message. (Without the list,
-- fastupdate off, each insert cost ~13 µs more.)
ALTER INDEX messages_search SET (gin_pending_list_limit = 256);
