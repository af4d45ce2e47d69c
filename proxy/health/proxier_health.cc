// See proxier_health.h; the semantics are kube-proxy's pkg/proxy/healthcheck/proxier_health.go.
#include "proxy/health/proxier_health.h"

#include <ctime>

#include "base/log.h"
#include "base/strings.h"

namespace nodenet::proxy::health {
namespace {

using std::chrono::system_clock;

int64_t toNs(system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

system_clock::time_point fromNs(int64_t ns) {
  return system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(std::chrono::nanoseconds(ns)));
}

HttpResponse jsonResponse(unsigned status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.contentType = "application/json";
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.body = std::move(body);
  return r;
}

}  // namespace

bool nodeEligibleFor(bool hasDeletionTimestamp, const std::vector<std::string>& taintKeys) {
  if (hasDeletionTimestamp) return false;
  for (const auto& k : taintKeys)
    if (k == kToBeDeletedTaint) return false;
  return true;
}

std::string goTimeString(std::optional<system_clock::time_point> t) {
  // Go's zero time.Time, which kube-proxy prints for "never updated".
  if (!t) return "0001-01-01 00:00:00 +0000 UTC";
  int64_t ns = toNs(*t);
  int64_t secs = ns / 1000000000;
  int64_t frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  time_t tt = static_cast<time_t>(secs);
  tm utc{};
  gmtime_r(&tt, &utc);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &utc);
  std::string out = buf;
  if (frac != 0) {
    // Go's ".999999999" layout: nine digits with trailing zeros dropped.
    char f[16];
    snprintf(f, sizeof f, ".%09lld", static_cast<long long>(frac));
    std::string fs = f;
    while (fs.back() == '0') fs.pop_back();
    out += fs;
  }
  return out + " +0000 UTC";
}

ProxierHealthServer::ProxierHealthServer(Options options) : options_(std::move(options)) {}

ProxierHealthServer::~ProxierHealthServer() {
  if (server_) server_->close(listener_);
}

Status ProxierHealthServer::start(HttpServer& server, const IpAddress& address, uint16_t port) {
  if (server_) return Error("proxier health server: already started on port " + std::to_string(port_));
  auto bound = server.listen(address, port, [this](const HttpRequest& req) { return handle(req); });
  if (!bound.ok()) return std::move(bound).error().context("proxier health server");
  server_ = &server;
  listener_ = bound->id;
  port_ = bound->port;
  NN_LOG(Info) << "healthz server listening on " << metrics::hostPort(address, port_);
  return okStatus();
}

void ProxierHealthServer::queuedUpdate() {
  int64_t none = 0;
  // Only the oldest pending queue time counts; later queues must not move the deadline.
  oldestPendingQueuedNs_.compare_exchange_strong(none, toNs(options_.clock()));
}

void ProxierHealthServer::updated() {
  oldestPendingQueuedNs_.store(0);
  lastUpdatedNs_.store(toNs(options_.clock()));
}

void ProxierHealthServer::setNodeEligible(bool eligible) { nodeEligible_.store(eligible); }

ProxierHealthServer::State ProxierHealthServer::state() const {
  int64_t pending = oldestPendingQueuedNs_.load();
  int64_t last = lastUpdatedNs_.load();
  State s;
  s.now = options_.clock();
  s.lastUpdated = last ? std::optional(fromNs(last)) : std::nullopt;
  // Healthy while starting up or fully synced (nothing pending), or while the pending update is not late.
  s.healthy = pending == 0 || (toNs(s.now) - pending) < options_.healthTimeout.count();
  return s;
}

bool ProxierHealthServer::isHealthy() const { return state().healthy; }

HttpResponse ProxierHealthServer::healthz() const {
  bool eligible = nodeEligible_.load();
  State s = state();
  bool healthy = s.healthy && eligible;
  // As kube-proxy: a healthy answer reports lastUpdated = now (older clients read it as "the sync loop
  // ran recently"); an unhealthy one reports the real last update.
  std::optional<system_clock::time_point> last = healthy ? std::optional(s.now) : s.lastUpdated;
  unsigned code = healthy ? 200 : 503;
  if (options_.metrics) options_.metrics->healthzAnswered(code);
  return jsonResponse(code, strCat("{\"lastUpdated\": \"", goTimeString(last), "\",\"currentTime\": \"",
                                   goTimeString(s.now), "\", \"nodeEligible\": ", eligible ? "true" : "false", "}"));
}

HttpResponse ProxierHealthServer::livez() const {
  State s = state();
  std::optional<system_clock::time_point> last = s.healthy ? std::optional(s.now) : s.lastUpdated;
  unsigned code = s.healthy ? 200 : 503;
  if (options_.metrics) options_.metrics->livezAnswered(code);
  return jsonResponse(code, strCat("{\"lastUpdated\": \"", goTimeString(last), "\",\"currentTime\": \"",
                                   goTimeString(s.now), "\"}"));
}

HttpResponse ProxierHealthServer::handle(const HttpRequest& req) const {
  std::string path = req.path();
  if (path == "/healthz") return healthz();
  if (path == "/livez") return livez();
  HttpResponse r;
  r.status = 404;
  r.body = "404 page not found\n";
  return r;
}

}  // namespace nodenet::proxy::health
