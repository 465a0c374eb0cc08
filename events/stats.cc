#include "events/stats.h"

#include "schema/json.h"

namespace parley::events {

const char* CauseName(CloseCause c) {
  switch (c) {
    case CloseCause::kClient: return "client";
    case CloseCause::kSlow: return "slow";
    case CloseCause::kBudget: return "budget";
    case CloseCause::kRevoked: return "revoked";
    case CloseCause::kRotated: return "rotated";
    case CloseCause::kShutdown: return "shutdown";
    case CloseCause::kCount: break;
  }
  return "unknown";
}

std::string Stats::Json() const {
  JsonWriter w;
  w.BeginObject();
  w.Key("connections").BeginObject().Key("stream").Int(static_cast<int64_t>(streams));
  w.Key("poll").Int(static_cast<int64_t>(polls_waiting)).EndObject();
  w.Key("streams_opened").Int(static_cast<int64_t>(streams_opened));
  w.Key("polls_completed").Int(static_cast<int64_t>(polls_completed));
  w.Key("events_delivered").Int(static_cast<int64_t>(deliveries));
  w.Key("ephemeral_delivered").Int(static_cast<int64_t>(ephemeral));
  w.Key("wakeups").Int(static_cast<int64_t>(wakeups)).Key("batches").Int(static_cast<int64_t>(batches));
  w.Key("read_failures").Int(static_cast<int64_t>(read_failures));
  w.Key("refused").Int(static_cast<int64_t>(refused));
  w.Key("refused_user_cap").Int(static_cast<int64_t>(refused_user));
  w.Key("accept_pauses").Int(static_cast<int64_t>(accept_pauses));
  w.Key("typing_merged").Int(static_cast<int64_t>(typing_merged));
  w.Key("ephemeral_dropped").Int(static_cast<int64_t>(ephemeral_dropped));
  w.Key("polls_paced").Int(static_cast<int64_t>(polls_paced));
  w.Key("streams_paced").Int(static_cast<int64_t>(streams_paced));
  w.Key("datagrams_refused").Int(static_cast<int64_t>(datagrams_refused));
  w.Key("queued_bytes").Int(static_cast<int64_t>(queued_bytes));
  w.Key("head").Int(head).Key("db_head").Int(db_head).Key("lag").Int(db_head - head);
  w.Key("disconnects").BeginObject();
  for (int i = 0; i < static_cast<int>(CloseCause::kCount); ++i) {
    w.Key(CauseName(static_cast<CloseCause>(i))).Int(static_cast<int64_t>(closed[i]));
  }
  w.EndObject().Key("rss_bytes").Int(static_cast<int64_t>(rss_bytes));
  w.Key("timing").BeginObject();
  w.Key("commit_to_read");
  commit_to_read.Write(w);
  w.Key("read");
  read.Write(w);
  w.Key("append");
  append.Write(w);
  w.Key("flush");
  flush.Write(w);
  w.EndObject().EndObject();
  return w.Take();
}

std::string Stats::Prometheus() const {
  std::string o;
  auto line = [&o](const char* name, const char* help, const char* type, const std::string& samples) {
    o += "# HELP ";
    o += name;
    o += ' ';
    o += help;
    o += "\n# TYPE ";
    o += name;
    o += ' ';
    o += type;
    o += '\n';
    o += samples;
  };
  auto v = [](const std::string& metric, uint64_t value) { return metric + " " + std::to_string(value) + "\n"; };
  line("parley_connections", "Open subscriber connections by transport.", "gauge",
       v("parley_connections{transport=\"stream\"}", streams) +
           v("parley_connections{transport=\"poll\"}", polls_waiting));
  line("parley_streams_opened_total", "SSE streams opened.", "counter", v("parley_streams_opened_total", streams_opened));
  line("parley_polls_completed_total", "Long-polls answered.", "counter", v("parley_polls_completed_total", polls_completed));
  line("parley_events_delivered_total", "Durable events written to connections.", "counter",
       v("parley_events_delivered_total", deliveries));
  line("parley_ephemeral_delivered_total", "Typing and presence notices written.", "counter",
       v("parley_ephemeral_delivered_total", ephemeral));
  std::string d;
  for (int i = 0; i < static_cast<int>(CloseCause::kCount); ++i) {
    d += v(std::string("parley_disconnects_total{cause=\"") + CauseName(static_cast<CloseCause>(i)) + "\"}", closed[i]);
  }
  line("parley_disconnects_total", "Closed connections by cause.", "counter", d);
  line("parley_refused_total", "Connections refused at the cap.", "counter", v("parley_refused_total", refused));
  line("parley_refused_user_cap_total", "Connections refused at the per-user cap.", "counter",
       v("parley_refused_user_cap_total", refused_user));
  line("parley_accept_pauses_total", "Pauses of the listener after accept() ran out of descriptors or memory.",
       "counter", v("parley_accept_pauses_total", accept_pauses));
  line("parley_typing_merged_total", "Typing notices merged into an earlier one.", "counter",
       v("parley_typing_merged_total", typing_merged));
  line("parley_ephemeral_dropped_total",
       "Typing notices and receipts dropped: the log could not be read up to the head their sender saw.", "counter",
       v("parley_ephemeral_dropped_total", ephemeral_dropped));
  line("parley_polls_paced_total", "Polls from old cursors held for their user's next catch-up page.", "counter",
       v("parley_polls_paced_total", polls_paced));
  line("parley_streams_paced_total", "Replay pages of resuming streams held for their next catch-up page.", "counter",
       v("parley_streams_paced_total", streams_paced));
  line("parley_log_read_failures_total", "Reads of the event log that failed and were retried.", "counter",
       v("parley_log_read_failures_total", read_failures));
  line("parley_datagrams_refused_total", "Wake-up datagrams refused (other uid, malformed).", "counter",
       v("parley_datagrams_refused_total", datagrams_refused));
  line("parley_queued_output_bytes", "Output queued to all connections.", "gauge",
       v("parley_queued_output_bytes", queued_bytes));
  line("parley_head_event_id", "Last event id fanned out.", "gauge", v("parley_head_event_id", static_cast<uint64_t>(head)));
  line("parley_lag_events", "Events in the database not yet fanned out.", "gauge",
       v("parley_lag_events", static_cast<uint64_t>(db_head > head ? db_head - head : 0)));
  line("parley_resident_memory_bytes", "Resident memory of the daemon.", "gauge", v("parley_resident_memory_bytes", rss_bytes));
  return o;
}

}  // namespace parley::events
