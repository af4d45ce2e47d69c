// Watch events of every type (incl. a 410 ERROR and an invalid object) and list decoding (typed lists with a
// bad item, generic manifest lists), through both the tree and the streaming text paths.
#include <nlohmann/json.hpp>

#include "tests/kube/testutil.h"

namespace nodenet::kube {
namespace {

using namespace nodenet::kube::testing;
using nlohmann::json;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  for (const std::string& l : split(text, '\n'))
    if (!trim(l).empty()) out.push_back(l);
  return out;
}

TEST(WatchEventDecode, EveryTypeFromStream) {
  auto events = lines(readTestdata("watch_events.jsonl"));
  ASSERT_EQ(events.size(), 7u);
  std::vector<WatchEvent> ev;
  for (const std::string& l : events) {
    ev.push_back(unwrap(decodeWatchEventText(l, ObjectKind::Service)));
    // The tree path agrees on the decoded object.
    WatchEvent dom = unwrap(decodeWatchEvent(json::parse(l), ObjectKind::Service));
    EXPECT_EQ(dom.type, ev.back().type);
    EXPECT_EQ(dom.object, ev.back().object);
    EXPECT_EQ(dom.resourceVersion, ev.back().resourceVersion);
  }

  EXPECT_EQ(ev[0].type, WatchEventType::Added);
  ASSERT_TRUE(ev[0].object.has_value());
  EXPECT_FALSE(ev[0].invalid.has_value());
  EXPECT_EQ(kindOf(*ev[0].object), ObjectKind::Service);
  EXPECT_EQ(std::get<Service>(*ev[0].object).ports.size(), 1u);
  EXPECT_EQ(ev[0].resourceVersion, "48213");

  EXPECT_EQ(ev[1].type, WatchEventType::Modified);
  EXPECT_EQ(std::get<Service>(*ev[1].object).ports.size(), 2u);
  EXPECT_EQ(ev[1].resourceVersion, "48300");

  // A MODIFIED event whose object is invalid keeps its identity so the cache can drop the stale version.
  EXPECT_EQ(ev[2].type, WatchEventType::Modified);
  EXPECT_FALSE(ev[2].object.has_value());
  ASSERT_TRUE(ev[2].invalid.has_value());
  EXPECT_EQ(ev[2].invalid->kind, "Service");
  EXPECT_EQ(ev[2].invalid->ns, "default");
  EXPECT_EQ(ev[2].invalid->name, "web");
  EXPECT_EQ(ev[2].invalid->resourceVersion, "48301");
  EXPECT_EQ(ev[2].resourceVersion, "48301");
  EXPECT_EQ(ev[2].invalid->error.message(),
            R"(Service default/web: spec.externalIPs[0]: expected IP address, got "not-an-ip")");

  EXPECT_EQ(ev[3].type, WatchEventType::Deleted);
  EXPECT_TRUE(std::get<Service>(*ev[3].object).meta.deleting);

  EXPECT_EQ(ev[4].type, WatchEventType::Bookmark);
  EXPECT_EQ(ev[4].resourceVersion, "48555");
  EXPECT_FALSE(ev[4].object.has_value());
  EXPECT_FALSE(ev[4].initialEventsEnd);
  EXPECT_EQ(ev[5].type, WatchEventType::Bookmark);
  EXPECT_EQ(ev[5].resourceVersion, "48556");
  EXPECT_TRUE(ev[5].initialEventsEnd);

  EXPECT_EQ(ev[6].type, WatchEventType::Error);
  EXPECT_EQ(ev[6].status.code, 410);
  EXPECT_EQ(ev[6].status.reason, "Expired");
  EXPECT_EQ(ev[6].status.status, "Failure");
  EXPECT_EQ(ev[6].status.message, "too old resource version: 48213 (48999)");
  EXPECT_FALSE(ev[6].object.has_value());
}

TEST(WatchEventDecode, EndpointSliceAndNodeEvents) {
  json slice = loadJson("endpointslice_ipv4.json");
  WatchEvent e = unwrap(decodeWatchEvent(json{{"type", "ADDED"}, {"object", slice}}));
  EXPECT_EQ(kindOf(*e.object), ObjectKind::EndpointSlice);
  EXPECT_EQ(e.resourceVersion, "48290");
  // Objects without kind decode as the expected kind.
  json node = loadJson("node.json");
  node.erase("kind");
  e = unwrap(decodeWatchEvent(json{{"type", "MODIFIED"}, {"object", node}}, ObjectKind::Node));
  EXPECT_EQ(std::get<Node>(*e.object).meta.name, "node-a");
}

TEST(WatchEventDecode, WrongKindOrKindlessObjectIsInvalidNotFatal) {
  json slice = loadJson("endpointslice_ipv4.json");
  WatchEvent e = unwrap(decodeWatchEvent(json{{"type", "ADDED"}, {"object", slice}}, ObjectKind::Service));
  ASSERT_TRUE(e.invalid.has_value());
  EXPECT_EQ(e.invalid->error.message(), R"(kind: expected "Service", got "EndpointSlice")");
  EXPECT_EQ(e.invalid->name, "web-7xk2p");
  EXPECT_EQ(e.resourceVersion, "48290");

  slice.erase("kind");
  e = unwrap(decodeWatchEvent(json{{"type", "DELETED"}, {"object", slice}}));
  ASSERT_TRUE(e.invalid.has_value());
  EXPECT_EQ(e.invalid->error.message(), "kind: required");

  e = unwrap(decodeWatchEvent(json{{"type", "ADDED"}, {"object", {{"kind", "Pod"}, {"metadata", {{"name", "p"}}}}}}));
  EXPECT_EQ(e.invalid->error.message(), R"(unsupported kind "Pod")");
  EXPECT_EQ(e.invalid->kind, "Pod");
}

TEST(WatchEventDecode, MalformedEnvelopes) {
  EXPECT_EQ(errorOf(decodeWatchEvent(json::array())), "watch event: expected a JSON object, got an array");
  EXPECT_EQ(errorOf(decodeWatchEvent(json{{"object", json::object()}})), "watch event: type: required");
  EXPECT_EQ(errorOf(decodeWatchEvent(json{{"type", "UPDATED"}, {"object", json::object()}})),
            R"(watch event: type: expected one of ADDED, MODIFIED, DELETED, BOOKMARK, ERROR, got "UPDATED")");
  EXPECT_EQ(errorOf(decodeWatchEvent(json{{"type", "ADDED"}})), "watch event ADDED: object: required");
  EXPECT_EQ(errorOf(decodeWatchEvent(json{{"type", "ADDED"}, {"object", "x"}})),
            R"(watch event ADDED: object: expected object, got "x")");
  EXPECT_EQ(errorOf(decodeWatchEvent(json{{"type", "ERROR"}, {"object", {{"code", "410"}}}})),
            R"(watch event ERROR: Status: code: expected integer 0-999, got "410")");
  EXPECT_TRUE(startsWith(errorOf(decodeWatchEventText("{\"type\":\"ADDED\",")), "watch event: invalid JSON: "));
}

TEST(ListDecode, ServiceListWithOneBadItem) {
  const std::string text = readTestdata("servicelist_one_bad.json");
  ServiceList streamed = unwrap(decodeServiceListText(text));
  ServiceList dom = unwrap(decodeServiceList(json::parse(text)));
  for (const ServiceList* l : {&streamed, &dom}) {
    EXPECT_EQ(l->kind, "ServiceList");
    EXPECT_EQ(l->resourceVersion, "500123");
    EXPECT_EQ(l->continueToken, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NTAwMTIzLCJzdGFydCI6InNob3AvYmFkXHUwMDAwIn0");
    ASSERT_EQ(l->items.size(), 2u);
    EXPECT_EQ(l->items[0].meta.key(), "default/kubernetes");
    EXPECT_EQ(l->items[1].meta.key(), "kube-system/kube-dns");
    EXPECT_EQ(l->items[1].ports.size(), 3u);
    ASSERT_EQ(l->errors.size(), 1u);
    EXPECT_EQ(l->errors[0].message(),
              R"(items[1]: Service shop/bad: spec.ports[1].port: expected integer 1-65535, got "http")");
  }
  EXPECT_EQ(streamed.items, dom.items);
}

TEST(ListDecode, TypedListsOfSlicesAndNodes) {
  json slices = {{"kind", "EndpointSliceList"},
                 {"apiVersion", "discovery.k8s.io/v1"},
                 {"metadata", {{"resourceVersion", "7"}}},
                 {"items", {loadJson("endpointslice_ipv4.json"), loadJson("endpointslice_ipv6.json")}}};
  for (auto& item : slices["items"]) item.erase("kind"), item.erase("apiVersion");
  EndpointSliceList l = unwrap(decodeEndpointSliceListText(slices.dump()));
  EXPECT_EQ(l.items.size(), 2u);
  EXPECT_TRUE(l.errors.empty());
  EXPECT_EQ(l.items[1].addressType, AddressType::IPv6);
  EXPECT_TRUE(l.continueToken.empty());

  json nodes = {{"kind", "NodeList"},
                {"apiVersion", "v1"},
                {"metadata", {{"resourceVersion", "9"}}},
                {"items", {loadJson("node.json")}}};
  NodeList n = unwrap(decodeNodeListText(nodes.dump()));
  ASSERT_EQ(n.items.size(), 1u);
  EXPECT_EQ(n.items[0], unwrap(decodeNode(loadJson("node.json"))));
  EXPECT_EQ(unwrap(decodeNodeList(nodes)).items, n.items);
}

TEST(ListDecode, ManifestListOfMixedKinds) {
  const std::string text = readTestdata("manifests_list.json");
  ObjectList streamed = unwrap(decodeObjectListText(text));
  ObjectList dom = unwrap(decodeObjectList(json::parse(text)));
  EXPECT_EQ(streamed.items, dom.items);
  for (const ObjectList* l : {&streamed, &dom}) {
    EXPECT_EQ(l->kind, "List");
    ASSERT_EQ(l->items.size(), 3u);
    EXPECT_EQ(l->unsupportedItems, 1u);  // the ConfigMap
    ASSERT_EQ(l->errors.size(), 1u);
    EXPECT_EQ(l->errors[0].message(),
              R"(items[4]: Service lab/broken: spec.clusterIP: expected IP address, got "10.96.1.300")");
  }
  const Service& svc = std::get<Service>(streamed.items[0]);
  EXPECT_EQ(svc.meta.key(), "default/demo");
  EXPECT_EQ(svc.ports[0].targetPort.number, 80);
  EXPECT_EQ(svc.ports[1].targetPort.name, "dns");
  EXPECT_EQ(std::get<EndpointSlice>(streamed.items[1]).serviceName(), "demo");
  EXPECT_EQ(std::get<Node>(streamed.items[2]).zone(), "lab");
}

TEST(ListDecode, KindAfterItemsAndKindlessItems) {
  // Items without kind before the list's kind in the text: decoded once the kind is known, order kept.
  std::string text = R"({"items":[{"metadata":{"name":"a","namespace":"n"}},{"metadata":{"name":"b","namespace":"n"}}],
      "metadata":{"resourceVersion":"3"},"kind":"ServiceList"})";
  ObjectList l = unwrap(decodeObjectListText(text));
  ASSERT_EQ(l.items.size(), 2u);
  EXPECT_EQ(metaOf(l.items[0]).name, "a");
  EXPECT_EQ(metaOf(l.items[1]).name, "b");
  EXPECT_EQ(l.resourceVersion, "3");
  // A generic List needs kind on every item.
  ObjectList g = unwrap(decodeObjectListText(R"({"kind":"List","items":[{"metadata":{"name":"a"}}]})"));
  ASSERT_EQ(g.errors.size(), 1u);
  EXPECT_EQ(g.errors[0].message(), "items[0]: kind: required");
}

TEST(ListDecode, NonObjectItemsAndMalformedLists) {
  ServiceList l = unwrap(decodeServiceListText(
      R"({"kind":"ServiceList","items":[1,{"metadata":{"name":"ok","namespace":"n"}},[2],null]})"));
  ASSERT_EQ(l.items.size(), 1u);
  EXPECT_EQ(l.items[0].meta.name, "ok");
  ASSERT_EQ(l.errors.size(), 3u);
  EXPECT_EQ(l.errors[0].message(), "items[0]: expected object, got 1");
  EXPECT_EQ(l.errors[1].message(), "items[2]: expected object, got an array");
  EXPECT_EQ(l.errors[2].message(), "items[3]: expected object, got null");
  ServiceList d = unwrap(decodeServiceList(json::parse(R"({"items":[1]})")));
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_EQ(d.errors[0].message(), "items[0]: expected object, got 1");

  EXPECT_EQ(errorOf(decodeServiceListText(R"({"kind":"ServiceList","items":{}})")),
            "ServiceList: items: expected array, got an object");
  EXPECT_EQ(errorOf(decodeServiceList(json::parse(R"({"kind":"ServiceList","items":5})"))),
            "ServiceList: items: expected array, got 5");
  EXPECT_EQ(errorOf(decodeServiceListText("[]")), "list: expected a JSON object, got an array");
  EXPECT_EQ(errorOf(decodeServiceListText(R"({"kind":"ServiceList","metadata":{"continue":1}})")),
            "ServiceList: metadata.continue: expected string, got 1");
  EXPECT_TRUE(
      startsWith(errorOf(decodeServiceListText(R"({"kind":"ServiceList","items":[{)")), "ServiceList: invalid JSON: "));
  ServiceList empty =
      unwrap(decodeServiceListText(R"({"kind":"ServiceList","metadata":{"resourceVersion":"1"},"items":null})"));
  EXPECT_TRUE(empty.items.empty());
  EXPECT_EQ(empty.resourceVersion, "1");
}

}  // namespace
}  // namespace nodenet::kube
