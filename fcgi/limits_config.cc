#include "fcgi/limits_config.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>

namespace parley::fcgi {
namespace {

Status Bad(const std::string& what) { return Status::Invalid("invalid_config", what); }

// A finite number in [0, max], the whole of s.
bool ParseNumber(std::string_view s, double max, double* out) {
  std::string copy(s);
  if (copy.empty()) return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(copy.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v) || v < 0 || v > max) return false;
  *out = v;
  return true;
}

// "class=rate/burst" or "class=0".
Status ApplyRate(std::string_view item, Limits* out) {
  size_t eq = item.find('=');
  if (eq == std::string_view::npos) return Bad("PARLEY_WRITE_RATES: expected class=rate/burst, got '" + std::string(item) + "'");
  std::optional<WriteClass> c = ParseWriteClass(item.substr(0, eq));
  if (!c) return Bad("PARLEY_WRITE_RATES: unknown class '" + std::string(item.substr(0, eq)) + "'");
  std::string_view value = item.substr(eq + 1);
  size_t slash = value.find('/');
  Rate r;
  if (!ParseNumber(value.substr(0, slash), 1e6, &r.per_second)) {
    return Bad("PARLEY_WRITE_RATES: bad rate for " + std::string(ToString(*c)));
  }
  if (slash == std::string_view::npos) {
    if (r.per_second != 0) return Bad("PARLEY_WRITE_RATES: " + std::string(ToString(*c)) + " needs rate/burst");
  } else if (!ParseNumber(value.substr(slash + 1), 1e6, &r.burst) || (r.per_second > 0 && r.burst < 1)) {
    return Bad("PARLEY_WRITE_RATES: the burst of " + std::string(ToString(*c)) + " must be at least 1");
  }
  out->rate(*c) = r;
  return Status::Ok();
}

}  // namespace

Status ApplyLimitsEnv(const char* limits, const char* write_rates, const char* rooms_per_user, Limits* out) {
  std::string_view on = limits ? limits : "";
  if (!on.empty() && on != "on" && on != "off") return Bad("PARLEY_LIMITS must be on or off");
  if (rooms_per_user && *rooms_per_user) {
    double n = 0;
    if (!ParseNumber(rooms_per_user, 1e9, &n) || n != std::floor(n)) {
      return Bad("PARLEY_ROOMS_PER_USER must be a whole number");
    }
    out->rooms_per_user = static_cast<int64_t>(n);
  }
  std::string_view rates = write_rates ? write_rates : "";
  while (!rates.empty()) {
    size_t comma = rates.find(',');
    PARLEY_RETURN_IF_ERROR(ApplyRate(rates.substr(0, comma), out));
    rates = comma == std::string_view::npos ? std::string_view() : rates.substr(comma + 1);
  }
  // Last, so that off wins over everything else.
  if (on == "off") out->WritesOff();
  return Status::Ok();
}

}  // namespace parley::fcgi
