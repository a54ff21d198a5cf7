#include "service/job_log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/json.hpp>
#include <memory>

#include "common/clock.h"
#include "common/strings.h"
#include "common/time_format.h"

namespace weir::service {

namespace {

namespace json = boost::json;

std::atomic<LogFormat> g_format{LogFormat::kText};

// A job event's payload in json mode starts with this byte, then the event's JSON object.
constexpr char kEventMarker = '\x1f';

std::string Utf8Safe(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  for (unsigned char c : s) out.push_back(c < 0x80 ? static_cast<char>(c) : '?');
  return out;
}

// One JSON object per line: time, level, then the event's members or "msg".
class JsonLineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    json::object o;
    o["time"] = FormatIso8601(std::chrono::time_point_cast<std::chrono::milliseconds>(msg.time));
    auto level = spdlog::level::to_string_view(msg.level);
    o["level"] = std::string_view(level.data(), level.size());
    std::string_view payload(msg.payload.data(), msg.payload.size());
    bool merged = false;
    if (!payload.empty() && payload.front() == kEventMarker) {
      boost::system::error_code ec;
      json::value v = json::parse(payload.substr(1), ec);
      if (!ec && v.is_object()) {
        for (const auto& [k, val] : v.as_object()) o[k] = val;
        merged = true;
      }
    }
    if (!merged) o["msg"] = Utf8Safe(payload);
    std::string line = json::serialize(o);
    line.push_back('\n');
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLineFormatter>();
  }
};

std::string Field(std::string_view v) {
  if (v.empty()) return "-";
  bool plain = true;
  for (char c : v) plain = plain && c != ' ' && c != '"' && c != '\n' && c != '=';
  if (plain) return std::string(v);
  return json::serialize(json::value(Utf8Safe(v)));  // quoted and escaped
}

}  // namespace

std::optional<LogFormat> ParseLogFormat(std::string_view s) {
  if (s == "text") return LogFormat::kText;
  if (s == "json") return LogFormat::kJson;
  return std::nullopt;
}

void SetLogFormat(LogFormat format) {
  g_format = format;
  // The log goes to stderr (spdlog's default logger writes stdout), at the level set so far.
  auto logger =
      std::make_shared<spdlog::logger>("", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_level(spdlog::default_logger()->level());
  spdlog::set_default_logger(std::move(logger));
  if (format == LogFormat::kJson) {
    spdlog::set_formatter(std::make_unique<JsonLineFormatter>());
  } else {
    spdlog::set_formatter(std::make_unique<spdlog::pattern_formatter>());
  }
}

LogFormat CurrentLogFormat() { return g_format; }

std::string JobEventText(const JobEvent& e) {
  std::string s = "job " + e.event + ":";
  if (!e.id.empty()) s += " id=" + Field(e.id);
  s += " user=" + Field(e.user) + " cluster=" + Field(e.cluster) + " command=" + Field(e.command) +
       " status=" + Field(e.status);
  if (e.exit_code) s += " exitCode=" + std::to_string(*e.exit_code);
  if (e.duration_ms) s += " duration=" + FormatIsoDuration(Millis(*e.duration_ms));
  if (!e.message.empty()) s += " message=" + json::serialize(json::value(Utf8Safe(e.message)));
  return s;
}

void LogJobEvent(const JobEvent& e) {
  const auto level = e.event == "rejected" ? spdlog::level::warn : spdlog::level::info;
  if (g_format.load() != LogFormat::kJson) {
    spdlog::log(level, "{}", JobEventText(e));
    return;
  }
  json::object o;
  o["event"] = "job." + e.event;
  if (!e.id.empty()) o["id"] = Utf8Safe(e.id);
  o["user"] = Utf8Safe(e.user);
  if (!e.cluster.empty()) o["cluster"] = Utf8Safe(e.cluster);
  if (!e.command.empty()) o["command"] = Utf8Safe(e.command);
  o["status"] = Utf8Safe(e.status);
  if (e.exit_code) o["exitCode"] = *e.exit_code;
  if (e.duration_ms) o["durationMs"] = *e.duration_ms;
  if (!e.message.empty()) o["message"] = Utf8Safe(e.message);
  spdlog::log(level, "{}{}", kEventMarker, json::serialize(o));
}

}  // namespace weir::service
