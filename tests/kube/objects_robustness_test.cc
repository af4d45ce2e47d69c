// Robustness: every field of every fixture replaced by values of every JSON type, and every prefix of the
// fixtures' text. Decoding must never crash or throw; a rejection must name the object and a field path.
#include <nlohmann/json.hpp>

#include "tests/kube/testutil.h"

namespace nodenet::kube {
namespace {

using namespace nodenet::kube::testing;
using nlohmann::json;

const char* kFixtures[] = {
    "service_clusterip.json",    "service_nodeport.json",
    "service_loadbalancer.json", "service_loadbalancer_legacy_ranges.json",
    "service_externalname.json", "service_headless.json",
    "service_dualstack.json",    "service_affinity_local.json",
    "endpointslice_ipv4.json",   "endpointslice_ipv6.json",
    "endpointslice_fqdn.json",   "node.json",
};

// Collects the JSON pointer of every value in the document.
void collectPointers(const json& j, const std::string& at, std::vector<std::string>& out) {
  out.push_back(at);
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      std::string key = it.key();
      // JSON pointer escaping: ~ -> ~0, / -> ~1.
      std::string esc;
      for (char c : key) esc += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
      collectPointers(it.value(), at + "/" + esc, out);
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) collectPointers(j[i], at + "/" + std::to_string(i), out);
  }
}

TEST(Robustness, EveryFieldWithEveryType) {
  const json replacements[] = {
      json(nullptr),
      json(true),
      json(-1),
      json(0),
      json(70000),
      json(1.5),
      json(18446744073709551615ull),
      json(""),
      json("None"),
      json("x"),
      json::array(),
      json::array({1}),
      json::object(),
      json{{"a", 1}},
  };
  size_t decoded = 0, rejected = 0;
  for (const char* fixture : kFixtures) {
    const json base = loadJson(fixture);
    std::vector<std::string> pointers;
    collectPointers(base, "", pointers);
    for (const std::string& p : pointers) {
      if (p.empty()) continue;
      for (const json& r : replacements) {
        json j = base;
        j[json::json_pointer(p)] = r;
        auto res = decodeObject(j);
        if (res.ok()) {
          ++decoded;
          continue;
        }
        ++rejected;
        const std::string& m = res.error().message();
        // "<Kind> <identity>: <path>: ..." unless the mutation hit kind itself.
        if (p == "/kind") continue;
        std::string kind = base["kind"];
        EXPECT_TRUE(startsWith(m, kind + " ")) << fixture << " " << p << " = " << r.dump() << ": " << m;
        EXPECT_NE(m.find(": "), std::string::npos) << m;
      }
    }
  }
  // Both outcomes occur in quantity: unknown fields are ignored, typed ones are checked.
  EXPECT_GT(decoded, 1000u);
  EXPECT_GT(rejected, 1000u);
}

TEST(Robustness, EveryPrefixOfTheText) {
  for (const char* fixture : {"service_loadbalancer.json", "endpointslice_ipv4.json", "servicelist_one_bad.json"}) {
    const std::string text = readTestdata(fixture);
    for (size_t n = 0; n < text.size(); n += 7) {
      std::string_view prefix(text.data(), n);
      // Every strict prefix of a JSON object is a syntax error; none may crash or throw.
      EXPECT_FALSE(decodeObjectText(prefix).ok());
      EXPECT_FALSE(decodeServiceListText(prefix).ok());
      EXPECT_FALSE(decodeWatchEventText(prefix).ok());
    }
  }
}

TEST(Robustness, GarbageText) {
  for (std::string_view t : {"", "null", "1", "\"s\"", "[1,2]", "{\"kind\":", "\xff\xfe", "{}{}", "{\"a\":1}x"}) {
    EXPECT_FALSE(decodeServiceText(t).ok()) << t;
    EXPECT_FALSE(decodeObjectText(t).ok()) << t;
    EXPECT_FALSE(decodeWatchEventText(t).ok()) << t;
  }
  // An empty object is an empty list; as a Service it lacks a name.
  EXPECT_TRUE(decodeServiceListText("{}").ok());
  EXPECT_FALSE(decodeServiceText("{}").ok());
}

}  // namespace
}  // namespace nodenet::kube
