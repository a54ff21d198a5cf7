// A parser of Server-Sent Events (the text/event-stream format of GET /api/weir/v1/events):
// bytes in, whole events out. Lines end in "\n", "\r\n" or "\r"; a blank line ends an event;
// "field: value" lines fill it (one space after the colon is dropped); comment lines
// (": heartbeat") are counted but make no event; several data lines are joined with "\n".
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace weir::client {

struct SseEvent {
  std::string id;     // "" when the event had no id line
  std::string event;  // "message" when the event had no event line
  std::string data;
};

class SseParser {
 public:
  // Feeds the next bytes; calls `on_event` for each event they complete.
  void Feed(std::string_view bytes, const std::function<void(const SseEvent&)>& on_event);
  // The id of the last event that had one ("" before any): what Last-Event-ID resumes from.
  const std::string& last_id() const { return last_id_; }
  int64_t comments() const { return comments_; }

 private:
  void Line(std::string_view line, const std::function<void(const SseEvent&)>& on_event);

  std::string partial_;
  bool after_cr_ = false;
  SseEvent current_;
  bool has_data_ = false;
  std::string last_id_;
  int64_t comments_ = 0;
};

}  // namespace weir::client
