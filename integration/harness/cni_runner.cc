#include "integration/harness/cni_runner.h"

#include <fstream>
#include <sstream>

#include "base/strings.h"

namespace nodenet::itest {
namespace {

using nlohmann::json;

// CHECK and the cached prevResult on DEL arrived with spec 0.4.0 (libcni checks GreaterThanOrEqualTo "0.4.0").
bool atLeast040(const std::string& v) {
  auto parts = split(v, '.');
  int major = parts.size() > 0 ? std::atoi(parts[0].c_str()) : 0;
  int minor = parts.size() > 1 ? std::atoi(parts[1].c_str()) : 0;
  return major > 0 || minor >= 4;
}

// Folds one plugin exec into the operation's outcome; stdout must be JSON when it is not empty.
Status absorb(CniOutcome& out, const std::string& type, const RunResult& r) {
  out.steps.push_back({type, r.exitCode, r.elapsed});
  out.elapsed += r.elapsed;
  out.pluginType = type;
  out.exitCode = r.timedOut ? -1 : r.exitCode;
  out.stderrText = r.err;
  out.json = nullptr;
  std::string_view body = trim(r.out);
  if (!body.empty()) {
    json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
      if (r.ok()) return Error(strCat("plugin ", type, " printed invalid JSON: ", body.substr(0, 500)));
      // libcni wraps undecodable output of a failed plugin in an error with the raw text.
      parsed = json{{"code", 999}, {"msg", std::string(body)}};
    }
    out.json = std::move(parsed);
  } else if (!r.ok()) {
    // A plugin that failed without error JSON: libcni reports its stderr.
    out.json = json{{"code", 999}, {"msg", r.timedOut ? std::string("timed out") : std::string(trim(r.err))}};
  }
  return okStatus();
}

}  // namespace

Result<Conflist> Conflist::parse(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return Error("conflist: not a JSON object");
  Conflist c;
  if (!doc.contains("name") || !doc["name"].is_string()) return Error("conflist: \"name\" missing or not a string");
  c.name = doc["name"].get<std::string>();
  if (doc.contains("cniVersion")) {
    if (!doc["cniVersion"].is_string()) return Error("conflist: \"cniVersion\" is not a string");
    c.cniVersion = doc["cniVersion"].get<std::string>();
  }
  if (doc.contains("disableCheck") && doc["disableCheck"].is_boolean()) c.disableCheck = doc["disableCheck"].get<bool>();
  if (!doc.contains("plugins") || !doc["plugins"].is_array() || doc["plugins"].empty())
    return Error(strCat("conflist ", c.name, ": \"plugins\" missing or empty"));
  for (size_t i = 0; i < doc["plugins"].size(); ++i) {
    const json& p = doc["plugins"][i];
    if (!p.is_object() || !p.contains("type") || !p["type"].is_string())
      return Error(strCat("conflist ", c.name, ": plugins[", i, "].type missing"));
    c.plugins.push_back(p);
  }
  c.raw = std::move(doc);
  return c;
}

Result<Conflist> Conflist::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error::fromErrno(errno, "open conflist " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = parse(ss.str());
  if (!c.ok()) return c.error().context(path);
  return c;
}

Conflist Conflist::withIpamDataDir(const std::string& dataDir) const {
  Conflist c = *this;
  for (size_t i = 0; i < c.plugins.size(); ++i) {
    if (c.plugins[i].contains("ipam") && c.plugins[i]["ipam"].is_object()) {
      c.plugins[i]["ipam"]["dataDir"] = dataDir;
      c.raw["plugins"][i] = c.plugins[i];
    }
  }
  return c;
}

std::string CniOutcome::describe() const {
  std::string s = strCat("plugin ", pluginType.empty() ? "?" : pluginType, " exit ", exitCode);
  if (!json.is_null()) s += ": " + json.dump();
  std::string_view e = trim(stderrText);
  if (!e.empty()) s += strCat(" stderr: ", e.substr(0, 2000));
  return s;
}

json CniRunner::buildPluginConfig(const Conflist& list, const json& plugin, const json& prevResult,
                                  const RuntimeConf& rt) {
  json conf = plugin;
  conf["name"] = list.name;
  conf["cniVersion"] = list.cniVersion;
  if (!prevResult.is_null()) conf["prevResult"] = prevResult;
  // libcni injects runtimeConfig only for capabilities the plugin declares and the runtime supplies.
  if (plugin.contains("capabilities") && plugin["capabilities"].is_object()) {
    json rc = json::object();
    for (auto& [cap, enabled] : plugin["capabilities"].items()) {
      if (enabled.is_boolean() && enabled.get<bool>() && rt.capabilityArgs.contains(cap))
        rc[cap] = rt.capabilityArgs[cap];
    }
    if (!rc.empty()) conf["runtimeConfig"] = std::move(rc);
  }
  return conf;
}

std::string CniRunner::cacheKey(const Conflist& list, const RuntimeConf& rt) {
  return strCat(list.name, "-", rt.containerId, "-", rt.ifName);
}

std::optional<json> CniRunner::cachedResult(const Conflist& list, const RuntimeConf& rt) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(cacheKey(list, rt));
  if (it == cache_.end()) return std::nullopt;
  return it->second;
}

Result<RunResult> CniRunner::execRaw(const std::string& type, const std::string& command,
                                     const std::string& stdinData, const RuntimeConf& rt, std::string* exePath) {
  if (options_.nodeNetns.empty())
    return Error("CniRunner: no node namespace; refusing to run CNI plugins in the machine's namespace");
  NN_ASSIGN_OR_RETURN(std::string path, findExecutable(type, options_.cniPath));
  if (exePath) *exePath = path;
  std::vector<std::string> pluginArgs;
  for (const auto& [k, v] : rt.args) pluginArgs.push_back(k + "=" + v);

  RunOptions o;
  o.dropEnvPrefixes = {"CNI_"};
  o.env = {
      "CNI_COMMAND=" + command,         "CNI_CONTAINERID=" + rt.containerId,
      "CNI_NETNS=" + rt.netns,          "CNI_IFNAME=" + rt.ifName,
      "CNI_ARGS=" + join(pluginArgs, ";"), "CNI_PATH=" + options_.cniPath,
  };
  o.env.insert(o.env.end(), options_.extraEnv.begin(), options_.extraEnv.end());
  o.stdinData = stdinData;
  o.netns = options_.nodeNetns;
  o.launcher = options_.launcher;
  o.timeout = options_.timeout;
  auto r = run({path}, o);
  if (!r.ok()) return r.error().context(strCat("CNI ", command, " ", type));
  return r;
}

Result<CniOutcome> CniRunner::version(const std::string& type, const std::string& stdinVersion) {
  CniOutcome out;
  RuntimeConf none;
  none.ifName.clear();
  NN_ASSIGN_OR_RETURN(RunResult r, execRaw(type, "VERSION", json{{"cniVersion", stdinVersion}}.dump(), none, nullptr));
  NN_TRY(absorb(out, type, r));
  return out;
}

Result<CniOutcome> CniRunner::validate(const Conflist& list) {
  NN_ASSIGN_OR_RETURN(CniOutcome total, validateOnce(list));
  if (total.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    validated_[list.name] = true;
  }
  return total;
}

Result<CniOutcome> CniRunner::validateOnce(const Conflist& list) {
  CniOutcome total;
  for (const json& p : list.plugins) {
    const std::string type = p["type"].get<std::string>();
    NN_ASSIGN_OR_RETURN(CniOutcome v, version(type, list.cniVersion.empty() ? "1.0.0" : list.cniVersion));
    total.steps.insert(total.steps.end(), v.steps.begin(), v.steps.end());
    total.elapsed += v.elapsed;
    total.pluginType = type;
    total.json = v.json;
    total.stderrText = v.stderrText;
    total.exitCode = v.exitCode;
    if (!v.ok()) return total;
    bool supported = false;
    if (v.json.contains("supportedVersions") && v.json["supportedVersions"].is_array())
      for (const json& s : v.json["supportedVersions"]) supported |= s.is_string() && s.get<std::string>() == list.cniVersion;
    if (!supported) {
      total.exitCode = 1;
      total.json = json{{"code", 1},
                        {"msg", strCat("plugin ", type, " does not support config version \"", list.cniVersion, "\"")}};
      return total;
    }
  }
  return total;
}

Result<CniOutcome> CniRunner::add(const Conflist& list, const RuntimeConf& rt) {
  if (options_.validateBeforeFirstAdd) {
    bool done;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done = validated_.count(list.name) > 0;
    }
    if (!done) {
      NN_ASSIGN_OR_RETURN(CniOutcome v, validate(list));
      if (!v.ok()) return v;
    }
  }
  CniOutcome out;
  json prev;  // null for the first plugin
  for (const json& p : list.plugins) {
    const std::string type = p["type"].get<std::string>();
    const std::string conf = buildPluginConfig(list, p, prev, rt).dump();
    NN_ASSIGN_OR_RETURN(RunResult r, execRaw(type, "ADD", conf, rt, nullptr));
    NN_TRY(absorb(out, type, r));
    if (!out.ok()) return out;  // libcni stops at the first failure and caches nothing
    if (!out.json.is_object()) return Error(strCat("plugin ", type, " ADD succeeded without a result"));
    prev = out.json;
  }
  std::lock_guard<std::mutex> lock(mu_);
  cache_[cacheKey(list, rt)] = out.json;
  return out;
}

Result<CniOutcome> CniRunner::check(const Conflist& list, const RuntimeConf& rt) {
  if (!list.cniVersion.empty() && !atLeast040(list.cniVersion))
    return Error(strCat("configuration version \"", list.cniVersion, "\" does not support the CHECK command"));
  CniOutcome out;
  if (list.disableCheck) return out;
  const json prev = cachedResult(list, rt).value_or(json());
  for (const json& p : list.plugins) {
    const std::string type = p["type"].get<std::string>();
    NN_ASSIGN_OR_RETURN(RunResult r, execRaw(type, "CHECK", buildPluginConfig(list, p, prev, rt).dump(), rt, nullptr));
    NN_TRY(absorb(out, type, r));
    if (!out.ok()) return out;
  }
  return out;
}

Result<CniOutcome> CniRunner::del(const Conflist& list, const RuntimeConf& rt) {
  CniOutcome out;
  json prev;
  if (list.cniVersion.empty() || atLeast040(list.cniVersion)) prev = cachedResult(list, rt).value_or(json());
  for (auto it = list.plugins.rbegin(); it != list.plugins.rend(); ++it) {
    const std::string type = (*it)["type"].get<std::string>();
    NN_ASSIGN_OR_RETURN(RunResult r, execRaw(type, "DEL", buildPluginConfig(list, *it, prev, rt).dump(), rt, nullptr));
    NN_TRY(absorb(out, type, r));
    if (!out.ok()) return out;
  }
  std::lock_guard<std::mutex> lock(mu_);
  cache_.erase(cacheKey(list, rt));
  return out;
}

Result<CniOutcome> CniRunner::execPlugin(const std::string& type, const std::string& command, const json& config,
                                         const RuntimeConf& rt) {
  CniOutcome out;
  NN_ASSIGN_OR_RETURN(RunResult r, execRaw(type, command, config.dump(), rt, nullptr));
  NN_TRY(absorb(out, type, r));
  return out;
}

}  // namespace nodenet::itest
