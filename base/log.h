// klog-style logging to stderr: "I1124 13:23:51.022504    1234 file.cc:42] msg", or one JSON object per line
// with --logging-format=json. Verbosity follows klog: NN_VLOG(n) prints when --v >= n.
#pragma once

#include <sstream>
#include <string>

namespace nodenet::log {

enum class Severity { Info, Warning, Error, Fatal };
enum class Format { Text, Json };

void setVerbosity(int v);
int verbosity();
void setFormat(Format f);
/// Parses "text" or "json"; false on anything else.
bool setFormat(const std::string& name);

class LogMessage {
 public:
  LogMessage(Severity sev, const char* file, int line) : sev_(sev), file_(file), line_(line) {}
  ~LogMessage();  // writes the line; Fatal aborts afterwards
  std::ostream& stream() { return os_; }

 private:
  Severity sev_;
  const char* file_;
  int line_;
  std::ostringstream os_;
};

// Lets a stream expression be the false branch of a ternary (the glog trick for conditional logging).
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace nodenet::log

#define NN_LOG_Info ::nodenet::log::Severity::Info
#define NN_LOG_Warning ::nodenet::log::Severity::Warning
#define NN_LOG_Error ::nodenet::log::Severity::Error
#define NN_LOG_Fatal ::nodenet::log::Severity::Fatal
/// NN_LOG(Info) << "..."; severities: Info, Warning, Error, Fatal (aborts).
#define NN_LOG(sev) ::nodenet::log::LogMessage(NN_LOG_##sev, __FILE__, __LINE__).stream()
/// NN_VLOG(4) << "..."; the message is built only when the verbosity is high enough.
#define NN_VLOG(n)                              \
  (::nodenet::log::verbosity() < (n)) ? (void)0 \
                                      : ::nodenet::log::Voidify() & NN_LOG(Info)
