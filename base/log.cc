#include "base/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string_view>

#include "base/strings.h"

namespace nodenet::log {
namespace {
std::atomic<int> gVerbosity{0};
std::atomic<Format> gFormat{Format::Text};

const char* baseName(const char* path) {
  const char* slash = path;
  for (const char* p = path; *p; ++p)
    if (*p == '/') slash = p + 1;
  return slash;
}
}  // namespace

void setVerbosity(int v) { gVerbosity = v; }
int verbosity() { return gVerbosity; }
void setFormat(Format f) { gFormat = f; }
bool setFormat(const std::string& name) {
  if (name == "text") gFormat = Format::Text;
  else if (name == "json") gFormat = Format::Json;
  else return false;
  return true;
}

LogMessage::~LogMessage() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  localtime_r(&tv.tv_sec, &t);
  std::string out;
  if (gFormat == Format::Json) {
    char ts[64];
    std::snprintf(ts, sizeof ts, "%ld.%06ld", static_cast<long>(tv.tv_sec), static_cast<long>(tv.tv_usec));
    static constexpr const char* kNames[] = {"info", "warning", "error", "fatal"};
    out = std::string("{\"ts\":") + ts + ",\"level\":\"" + kNames[static_cast<int>(sev_)] + "\",\"caller\":\"" +
          jsonEscape(std::string(baseName(file_)) + ":" + std::to_string(line_)) + "\",\"msg\":\"" +
          jsonEscape(os_.str()) + "\"}\n";
  } else {
    static constexpr char kLetters[] = {'I', 'W', 'E', 'F'};
    char head[96];
    std::snprintf(head, sizeof head, "%c%02d%02d %02d:%02d:%02d.%06ld %7d %s:%d] ", kLetters[static_cast<int>(sev_)],
                  t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, static_cast<long>(tv.tv_usec),
                  static_cast<int>(getpid()), baseName(file_), line_);
    out = head + os_.str() + "\n";
  }
  // One write per line so concurrent loggers do not interleave within a line.
  ssize_t ignored = ::write(STDERR_FILENO, out.data(), out.size());
  (void)ignored;
  if (sev_ == Severity::Fatal) std::abort();
}

}  // namespace nodenet::log
