#include "client/sse.h"

namespace weir::client {

void SseParser::Feed(std::string_view bytes, const std::function<void(const SseEvent&)>& on_event) {
  for (char c : bytes) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // the \n of a \r\n
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      Line(partial_, on_event);
      partial_.clear();
      continue;
    }
    partial_.push_back(c);
  }
}

void SseParser::Line(std::string_view line, const std::function<void(const SseEvent&)>& on_event) {
  if (line.empty()) {
    if (has_data_ || !current_.event.empty() || !current_.id.empty()) {
      if (current_.event.empty()) current_.event = "message";
      if (!current_.id.empty()) last_id_ = current_.id;
      on_event(current_);
    }
    current_ = SseEvent{};
    has_data_ = false;
    return;
  }
  if (line.front() == ':') {
    ++comments_;
    return;
  }
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) current_.data.push_back('\n');
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event = std::string(value);
  } else if (field == "id") {
    current_.id = std::string(value);
  }
}

}  // namespace weir::client
