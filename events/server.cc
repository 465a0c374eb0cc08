#include "events/server.h"

#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "schema/crypto.h"
#include "schema/listen_address.h"
#include "schema/log.h"
#include "schema/migrate.h"
#include "schema/posix.h"
#include "schema/start_retry.h"

namespace parley::events {

void EventBaseFree::operator()(event_base* b) const { event_base_free(b); }

Server::~Server() {
  // The modules hold events of base_: free them before the base.
  sweep_.reset();
  pg_wakeups_.reset();
  notify_.reset();
  http_.reset();
  sessions_.reset();
  presence_.reset();
  pacer_.reset();
  fanout_.reset();
  conns_.reset();
  signal_evs_.clear();
}

void Server::HoldWithinOpenFiles() {
  // Each held stream or poll is a descriptor. Past the open-file limit
  // accept() fails before --max-connections refuses anything, and nginx's
  // clients wait instead of hearing 503; so the cap stays below the limit,
  // raised first to what the operator allows (the hard limit).
  auto files = RaiseOpenFileLimit();
  if (!files.ok()) {
    LOG_WARN("%s", files.status().message().c_str());
    return;
  }
  const uint64_t room = *files - std::min(kReservedFiles, *files / 4);
  if (static_cast<uint64_t>(cfg_.max_connections) <= room) return;
  // Not a warning: the default cap is above the usual limits.
  LOG_INFO("holding at most %llu connections, as %llu open files allow (--max-connections %d; raise LimitNOFILE, "
           "or ulimit -n, for more)",
           static_cast<unsigned long long>(room), static_cast<unsigned long long>(*files), cfg_.max_connections);
  cfg_.max_connections = static_cast<int>(room);
}

Status Server::Start() {
  PARLEY_RETURN_IF_ERROR(CryptoInit());
  // The daemon writes only presence rows, which it rebuilds at start-up:
  // an fsync per change would stall its loop for nothing.
  // Waited for while the database is only unavailable (schema/start_retry.h):
  // a pool starting beside it may hold the write lock for a long migration.
  // SIGTERM keeps its default action until the loop runs: a stop ends it.
  const std::string action = "migrating the database " + Redacted(cfg_.db) + " at start-up";
  PARLEY_RETURN_IF_ERROR(RetryWhileUnavailable(action.c_str(), StartRetry{}, [this] { return MigrateStorage(cfg_.db); },
                                               [](std::chrono::milliseconds delay) {
                                                 std::this_thread::sleep_for(delay);
                                                 return true;
                                               })
                             .status());
  StorageOptions options;
  options.sync = Sync::kNormal;
  options.daemon = cfg_.name;
  PARLEY_ASSIGN_OR_RETURN(db_, OpenStorage::Open(cfg_.db, options));
  store_ = &db_->storage();
  PARLEY_ASSIGN_OR_RETURN(std::string epoch, store_->Epoch());
  PARLEY_ASSIGN_OR_RETURN(int64_t head, store_->Head());
  // Nobody is connected to a daemon that is just starting, unless it is an
  // upgrade's new image: whoever the image before it held has the grace
  // period to come back (Presence::Adopt), so an upgrade announces nobody
  // offline, then online again.
  const bool upgraded = inherited_.listen.valid();
  std::vector<User> held;
  if (upgraded) {
    PARLEY_ASSIGN_OR_RETURN(held, store_->HeldPresence());
  } else {
    PARLEY_RETURN_IF_ERROR(store_->ClearPresence());
  }
  stats_.head = stats_.db_head = head;

  HoldWithinOpenFiles();
  base_.reset(event_base_new());
  if (!base_) return Status::Internal("libevent initialisation failed");
  Conns::Hooks hooks;
  hooks.first_opened = [this](int64_t user) { presence_->Opened(user); };
  hooks.last_closed = [this](int64_t user) { presence_->Closed(user); };
  hooks.replay = [this](Conn& c) { http_->ReplayPage(c); };
  hooks.head = [this] { return fanout_->head(); };
  hooks.forgotten = [this](uint64_t id) {
    if (pacer_) pacer_->Release(id);
  };
  conns_ = std::make_unique<Conns>(base_.get(), cfg_, epoch, stats_, std::move(hooks));
  fanout_ = std::make_unique<Fanout>(base_.get(), cfg_, *store_, *conns_, stats_, head);
  pacer_ = std::make_unique<Pacer>(base_.get(), cfg_, [this](uint64_t id) { return http_->BuildHeldPage(id); });
  presence_ = std::make_unique<Presence>(cfg_, *store_, *conns_, *fanout_);
  presence_->Adopt(held);
  sessions_ = std::make_unique<Sessions>(cfg_, *store_);
  fanout_->on_sessions_ended = [this](int64_t user_id) { sessions_->ForgetUser(user_id); };
  http_ = std::make_unique<Http>(
      Http::Parts{cfg_, epoch, *store_, *conns_, *fanout_, *pacer_, *presence_, *sessions_, stats_});
  PARLEY_RETURN_IF_ERROR(http_->Listen(base_.get(), std::move(inherited_.listen)));
  auto on_wakeup = [this](const Wakeup& w) {
    if (w.kind == Wakeup::Kind::kHead) {
      if (w.head > fanout_->head()) fanout_->Wake();
    } else if (w.kind == Wakeup::Kind::kPresence) {
      presence_->Tell(w.user, w.online);
    } else if (w.kind == Wakeup::Kind::kReceipt) {
      fanout_->Receipt(w.room_id, w.user, w.event_id, w.head);
    } else {
      fanout_->Typing(w.room_id, w.user, w.head);
    }
  };
  notify_ = std::make_unique<Notify>(stats_, on_wakeup);
  PARLEY_RETURN_IF_ERROR(notify_->Open(base_.get(), cfg_.notify_path, std::move(inherited_.notify)));
  if (store_->carries_wakeups()) {  // PostgreSQL: from every pool on every host
    pg_wakeups_ = std::make_unique<PgWakeups>(stats_, on_wakeup);
    PARLEY_RETURN_IF_ERROR(pg_wakeups_->Open(base_.get(), cfg_.db));
  }
  sweep_ = std::make_unique<Sweep>(
      Sweep::Parts{cfg_, *store_, *conns_, *fanout_, *presence_, *sessions_, stats_});
  PARLEY_RETURN_IF_ERROR(sweep_->Start(base_.get()));

  signal(SIGPIPE, SIG_IGN);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) {
    EventPtr ev(evsignal_new(base_.get(), sig, &Server::OnSignal, this));
    event_add(ev.get(), nullptr);
    signal_evs_.push_back(std::move(ev));
  }
  LOG_INFO("listening on %s%s, wake-ups on %s, head %lld, epoch %s", cfg_.listen_path.c_str(),
           upgraded ? " (kept across the upgrade)" : "", cfg_.notify_path.c_str(), static_cast<long long>(head),
           epoch.c_str());
  return Status::Ok();
}

int Server::Run() {
  event_base_dispatch(base_.get());
  if (upgrading_) return 0;  // the sockets live on in the next image
  if (auto address = ParseListenAddress("--listen", cfg_.listen_path); address.ok() && !address->tcp) {
    unlink(cfg_.listen_path.c_str());
  }
  unlink(cfg_.notify_path.c_str());
  LOG_INFO("stopped");
  return 0;
}

void Server::OnSignal(int sig, short, void* self) {
  auto* s = static_cast<Server*>(self);
  if (sig == SIGTERM || sig == SIGINT) {
    if (s->upgrading_) {  // during an upgrade's goodbyes: stop instead
      s->upgrading_ = false;
      s->presence_->ClearAll();  // kept for a next image there will not be
    }
    s->Shutdown(/*upgrade=*/false);
  } else if (sig == SIGHUP) {
    if (!s->cfg_.log_file.empty()) {
      int fd = open(s->cfg_.log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
      if (fd < 0) {
        // The old file stays stderr: the line lands where logs went so far.
        LOG_ERROR("%s; logging on to the file already open", PosixError("reopen " + s->cfg_.log_file, errno).message().c_str());
        return;
      }
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    LOG_INFO("log reopened");
    if (s->binary_.Replaced()) {
      LOG_INFO("%s is a new file: upgrading to it", s->binary_.path().c_str());
      s->Shutdown(/*upgrade=*/true);
    }
  } else if (sig == SIGUSR1 || sig == SIGUSR2) {
    int level = static_cast<int>(g_log_level) + (sig == SIGUSR1 ? 1 : -1);
    if (level >= 0 && level <= static_cast<int>(LogLevel::kDebug)) g_log_level = static_cast<LogLevel>(level);
    LOG_WARN("log level now %d", static_cast<int>(g_log_level));
  }
}

Result<Sockets> Server::CopySockets() const {
  Sockets s;
  PARLEY_ASSIGN_OR_RETURN(s.listen, http_->CopyListener());
  PARLEY_ASSIGN_OR_RETURN(s.notify, notify_->CopySocket());
  return s;
}

void Server::Shutdown(bool upgrade) {
  if (stopping_) return;
  stopping_ = true;
  upgrading_ = upgrade;
  LOG_INFO("%s: closing %zu connection(s) with a retry hint", upgrade ? "upgrading" : "stopping",
           conns_->registry().connections());
  fanout_->Pump();  // deliver what is already committed before saying goodbye
  if (upgrade) {
    http_->HandOver();
  } else {
    http_->Stop();
  }
  sweep_->Stop();
  std::vector<uint64_t> ids;
  conns_->registry().ForAll([&](Conn& c) { ids.push_back(c.id); });
  for (uint64_t id : ids) {
    if (Conn* c = conns_->registry().Find(id)) conns_->RequestClose(*c, CloseCause::kShutdown);
  }
  conns_->RunPass();
  // An upgrade keeps the rows for the next image (Presence::Adopt).
  if (!upgrade) presence_->ClearAll();
  // Let the goodbyes reach the sockets, then leave the loop.
  timeval grace{0, 500 * 1000};
  event_base_loopexit(base_.get(), &grace);
}

}  // namespace parley::events
