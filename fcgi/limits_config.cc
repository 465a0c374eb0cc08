#include "fcgi/limits_config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace parley::fcgi {
namespace {

Status Bad(const std::string& what) { return Status::Invalid("invalid_config", what); }

// A finite number in [0, max], the whole of s, written in plain decimal:
// strtod alone also took " 5" (but not "5 "), "0x10" (16) and "1e3".
bool ParseNumber(std::string_view s, double max, double* out) {
  std::string copy(s);
  if (copy.empty() || copy.find_first_not_of("0123456789.") != std::string::npos) return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(copy.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v) || v < 0 || v > max) return false;
  *out = v;
  return true;
}

// "class=rate/burst" or "class=0". A class named twice is refused: which
// of the two applied was the parser's choice, not the operator's (the
// last one, silently).
Status ApplyRate(std::string_view item, std::vector<WriteClass>* seen, Limits* out) {
  size_t eq = item.find('=');
  if (eq == std::string_view::npos) return Bad("PARLEY_WRITE_RATES: expected class=rate/burst, got '" + std::string(item) + "'");
  std::optional<WriteClass> c = ParseWriteClass(item.substr(0, eq));
  if (!c) return Bad("PARLEY_WRITE_RATES: unknown class '" + std::string(item.substr(0, eq)) + "'");
  if (std::find(seen->begin(), seen->end(), *c) != seen->end()) {
    return Bad("PARLEY_WRITE_RATES: " + std::string(ToString(*c)) + " is given twice");
  }
  seen->push_back(*c);
  std::string_view value = item.substr(eq + 1);
  size_t slash = value.find('/');
  Rate r;
  if (!ParseNumber(value.substr(0, slash), 1e6, &r.per_second)) {
    return Bad("PARLEY_WRITE_RATES: bad rate for " + std::string(ToString(*c)));
  }
  if (slash == std::string_view::npos) {
    if (r.per_second != 0) return Bad("PARLEY_WRITE_RATES: " + std::string(ToString(*c)) + " needs rate/burst");
  } else if (!ParseNumber(value.substr(slash + 1), 1e6, &r.burst)) {
    return Bad("PARLEY_WRITE_RATES: bad burst for " + std::string(ToString(*c)));
  } else if (r.per_second > 0 && r.burst < 1) {
    return Bad("PARLEY_WRITE_RATES: the burst of " + std::string(ToString(*c)) + " must be at least 1");
  } else if (r.per_second > 0 && r.per_second < kMinRatePerSecond) {
    return Bad("PARLEY_WRITE_RATES: the rate of " + std::string(ToString(*c)) +
               " must be 0 (off) or at least one token a day (0.0000116)");
  }
  out->rate(*c) = r;
  return Status::Ok();
}

// "25m", "512k", "1g" or bytes, as nginx writes sizes; at most 1 TiB.
bool ParseSize(std::string_view s, int64_t* out) {
  int64_t unit = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'k': case 'K': unit = int64_t{1} << 10; break;
      case 'm': case 'M': unit = int64_t{1} << 20; break;
      case 'g': case 'G': unit = int64_t{1} << 30; break;
      default: break;
    }
    if (unit != 1) s.remove_suffix(1);
  }
  if (s.empty() || s.size() > 13 || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
  int64_t n = std::stoll(std::string(s));
  if (n > (int64_t{1} << 40) / unit) return false;
  *out = n * unit;
  return true;
}

}  // namespace

Status ApplyUploadEnv(const char* upload_max, const char* upload_quota, Limits* out) {
  if (upload_max && *upload_max) {
    if (!ParseSize(upload_max, &out->upload_max_bytes) || out->upload_max_bytes == 0) {
      return Bad("PARLEY_UPLOAD_MAX must be a size such as 25m (bytes, k, m or g)");
    }
  }
  if (upload_quota && *upload_quota && !ParseSize(upload_quota, &out->upload_quota_bytes)) {
    return Bad("PARLEY_UPLOAD_QUOTA must be a size such as 1g (bytes, k, m or g; 0: none)");
  }
  return Status::Ok();
}

// A whole number of `name` in [0, 1e9] into *out; unset keeps *out.
Status ApplyCount(const char* name, const char* value, int64_t* out) {
  if (!value || !*value) return Status::Ok();
  double n = 0;
  if (!ParseNumber(value, 1e9, &n) || n != std::floor(n)) return Bad(std::string(name) + " must be a whole number");
  *out = static_cast<int64_t>(n);
  return Status::Ok();
}

Status ApplyLimitsEnv(const LimitsEnv& env, Limits* out) {
  std::string_view on = env.limits ? env.limits : "";
  if (!on.empty() && on != "on" && on != "off") return Bad("PARLEY_LIMITS must be on or off");
  PARLEY_RETURN_IF_ERROR(ApplyCount("PARLEY_ROOMS_PER_USER", env.rooms_per_user, &out->rooms_per_user));
  PARLEY_RETURN_IF_ERROR(
      ApplyCount("PARLEY_MEMBERSHIPS_PER_USER", env.memberships_per_user, &out->memberships_per_user));
  std::string_view rates = env.write_rates ? env.write_rates : "";
  std::vector<WriteClass> seen;
  // Every item between commas is a class: "send=5/30," ends in an empty one
  // (the loop used to stop there, taking it), as ",," holds one.
  constexpr size_t kEnd = std::string_view::npos;
  for (size_t at = 0; !rates.empty() && at != kEnd;) {
    const size_t comma = rates.find(',', at);
    const std::string_view item = rates.substr(at, comma == kEnd ? kEnd : comma - at);
    if (item.empty()) return Bad("PARLEY_WRITE_RATES: an empty class (a comma too many?)");
    PARLEY_RETURN_IF_ERROR(ApplyRate(item, &seen, out));
    at = comma == kEnd ? kEnd : comma + 1;
  }
  // Last, so that off wins over everything else.
  if (on == "off") out->WritesOff();
  return Status::Ok();
}

}  // namespace parley::fcgi
