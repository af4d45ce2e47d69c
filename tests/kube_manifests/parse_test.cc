// kube/manifests parsing: YAML scalars resolved as kubectl does, documents and Lists, file-level errors.
// IP plan: cluster IPs 10.96.0.x.
#include "kube/manifests/parse.h"

#include <gtest/gtest.h>

namespace nodenet::kube::manifests {
namespace {

using nlohmann::json;

json one(const std::string& yaml) {
  auto r = yamlToJson(yaml);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  if (!r.ok() || r->size() != 1) return json();
  return (*r)[0].json;
}

TEST(YamlToJsonTest, ScalarsResolveLikeKubectl) {
  json j = one(R"(
port: 80
quoted: "80"
single: '80'
str: !!str 80
hex: 0x50
octal: 0o120
legacyOctal: 0120
under: 1_000
negative: -5
big: 18446744073709551615
float: 1.5
exp: 1e3
yes: yes
on: On
no: NO
t: true
f: False
nul: null
tilde: ~
empty:
quotedNull: "null"
quotedTrue: "true"
word: http
version: 1.2.3
ip: 10.96.0.1
)");
  EXPECT_EQ(j["port"], json(80));
  EXPECT_TRUE(j["port"].is_number_integer());
  EXPECT_EQ(j["quoted"], json("80"));
  EXPECT_EQ(j["single"], json("80"));
  EXPECT_EQ(j["str"], json("80"));
  EXPECT_EQ(j["hex"], json(80));
  EXPECT_EQ(j["octal"], json(80));
  EXPECT_EQ(j["legacyOctal"], json(80));
  EXPECT_EQ(j["under"], json(1000));
  EXPECT_EQ(j["negative"], json(-5));
  EXPECT_TRUE(j["big"].is_number_unsigned());
  EXPECT_TRUE(j["float"].is_number_float());
  EXPECT_DOUBLE_EQ(j["exp"].get<double>(), 1000.0);
  EXPECT_EQ(j["yes"], json(true));
  EXPECT_EQ(j["on"], json(true));
  EXPECT_EQ(j["no"], json(false));
  EXPECT_EQ(j["t"], json(true));
  EXPECT_EQ(j["f"], json(false));
  EXPECT_TRUE(j["nul"].is_null());
  EXPECT_TRUE(j["tilde"].is_null());
  EXPECT_TRUE(j["empty"].is_null());
  EXPECT_EQ(j["quotedNull"], json("null"));
  EXPECT_EQ(j["quotedTrue"], json("true"));
  EXPECT_EQ(j["word"], json("http"));
  EXPECT_EQ(j["version"], json("1.2.3"));
  EXPECT_EQ(j["ip"], json("10.96.0.1"));
}

TEST(YamlToJsonTest, StructureAnchorsAndMergeKeys) {
  json j = one(R"(
base: &base {a: 1, b: 2}
derived:
  <<: *base
  b: 3
list: [1, "2", {x: z}, y]
alias: *base
flow: {"k": [true, null]}
)");
  EXPECT_EQ(j["derived"], json::parse(R"({"a":1,"b":3})"));
  EXPECT_EQ(j["list"], json::parse(R"([1,"2",{"x":"z"},true])"));
  EXPECT_EQ(j["alias"], json::parse(R"({"a":1,"b":2})"));
  EXPECT_EQ(j["flow"], json::parse(R"({"k":[true,null]})"));
}

TEST(YamlToJsonTest, DocumentsAndLines) {
  auto r = yamlToJson("---\na: 1\n---\n# only a comment\n---\nb: 2\n---\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].json, json::parse(R"({"a":1})"));
  EXPECT_EQ((*r)[1].line, 6);
  auto bad = yamlToJson("a: 1\nb: [1, 2\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("invalid YAML: line"), std::string::npos) << bad.error().message();
}

constexpr const char* kTwoServices = R"(apiVersion: v1
kind: Service
metadata: {name: a, namespace: demo}
spec:
  clusterIP: 10.96.0.1
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {port: "80"}
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: demo}
spec:
  clusterIP: 10.96.0.2
  ports:
    - port: 443
      targetPort: "https"
)";

TEST(ParseManifestTest, ObjectsInOrderOtherKindsCounted) {
  auto r = parseManifest("svc.yaml", kTwoServices);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->objects.size(), 2u);
  EXPECT_EQ(metaOf(r->objects[0]).key(), "demo/a");
  const Service& b = std::get<Service>(r->objects[1]);
  EXPECT_EQ(b.ports[0].port, 443);
  EXPECT_EQ(b.ports[0].targetPort.name, "https");
  EXPECT_EQ(r->unsupported, 1u);
}

TEST(ParseManifestTest, QuotedPortIsAFieldPathError) {
  std::string text = std::string(kTwoServices) +
                     "---\napiVersion: v1\nkind: Service\nmetadata: {name: c}\n"
                     "spec:\n  ports:\n  - port: \"80\"\n";
  auto r = parseManifest("svc.yaml", text);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().rfind("svc.yaml: document 4 (line 22): Service default/c: spec.ports[0].port:", 0), 0u)
      << r.error().message();
}

TEST(ParseManifestTest, ListsJsonAndErrors) {
  auto list = parseManifest("list.yaml", R"(apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: Node, metadata: {name: n1}}
  - {apiVersion: v1, kind: Secret, metadata: {name: s}}
  - {apiVersion: v1, kind: Service, metadata: {name: x}, spec: {clusterIP: 10.96.0.5, ports: [{port: 53, protocol: UDP}]}}
)");
  ASSERT_TRUE(list.ok()) << list.error().message();
  EXPECT_EQ(list->objects.size(), 2u);
  EXPECT_EQ(list->unsupported, 1u);

  auto typed = parseManifest("cm.yaml", "apiVersion: v1\nkind: ConfigMapList\nitems: [{metadata: {name: a}}]\n");
  ASSERT_TRUE(typed.ok()) << typed.error().message();
  EXPECT_EQ(typed->unsupported, 1u);

  auto badItem = parseManifest("list.yaml",
                               "apiVersion: v1\nkind: List\nitems:\n"
                               "  - {apiVersion: v1, kind: Service, metadata: {name: ok}}\n"
                               "  - {apiVersion: v1, kind: Service, metadata: {name: bad}, spec: {type: Weird}}\n");
  ASSERT_FALSE(badItem.ok()) << "one bad item fails the whole file";
  EXPECT_NE(badItem.error().message().find("list.yaml: items[1]: Service default/bad: spec.type"), std::string::npos)
      << badItem.error().message();

  auto js = parseManifest("node.json", R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n2"}})");
  ASSERT_TRUE(js.ok()) << js.error().message();
  EXPECT_EQ(metaOf(js->objects[0]).key(), "n2");
  auto badJs = parseManifest("node.json", R"({"kind":"Node",)");
  ASSERT_FALSE(badJs.ok());
  EXPECT_EQ(badJs.error().message().rfind("node.json: invalid JSON", 0), 0u) << badJs.error().message();

  auto noKind = parseManifest("x.yaml", "metadata: {name: a}\n");
  ASSERT_FALSE(noKind.ok());
  EXPECT_EQ(noKind.error().message(), "x.yaml: kind: missing (every manifest object needs kind and apiVersion)");
  auto scalar = parseManifest("x.yaml", "just text\n");
  ASSERT_FALSE(scalar.ok());

  auto empty = parseManifest("empty.yaml", "# nothing yet\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->objects.empty());
}

TEST(ParseManifestTest, FileNames) {
  for (const char* yes : {"a.yaml", "a.yml", "a.json", "web-1.yaml"}) EXPECT_TRUE(isManifestFileName(yes)) << yes;
  for (const char* no : {".a.yaml", "a.yaml~", ".#a.yaml", "#a.yaml#", ".a.yaml.swp", "a.yaml.swp", "4913", "a.txt",
                         "a.yaml.tmp", "..data", ""})
    EXPECT_FALSE(isManifestFileName(no)) << no;
}

}  // namespace
}  // namespace nodenet::kube::manifests
