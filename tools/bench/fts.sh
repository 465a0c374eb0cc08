# shellcheck shell=bash
# tools/bench/fts.sh (sourced): what the SQLite search index of a database
# holds, for the bench scripts that write it themselves. Since migration 014
# the index (messages_fts) holds each message's room beside its text; a tree
# measured with PARLEY_BENCH_TREE may be older.

# fts_columns DB: the index's columns, "text" or "text, room_id".
fts_columns() {
  if [[ $(sqlite3 "$1" "SELECT COUNT(*) FROM pragma_table_info('messages_fts') WHERE name = 'room_id'") == 1 ]]; then
    echo "text, room_id"
  else
    echo "text"
  fi
}
