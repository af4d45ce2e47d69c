// Public decoders: typed objects, kind dispatch, watch events, lists, and the filtering/streaming text path.
#include "kube/objects/decode.h"

#include "base/strings.h"
#include "kube/objects/decode_internal.h"

namespace nodenet::kube {
namespace {

using detail::describe;
using detail::member;
using detail::Path;
using nlohmann::json;

// ObjectKind values index the Object variant.
static_assert(std::is_same_v<std::variant_alternative_t<static_cast<size_t>(ObjectKind::Service), Object>, Service>);
static_assert(
    std::is_same_v<std::variant_alternative_t<static_cast<size_t>(ObjectKind::EndpointSlice), Object>, EndpointSlice>);
static_assert(std::is_same_v<std::variant_alternative_t<static_cast<size_t>(ObjectKind::Node), Object>, Node>);

template <typename T>
struct Traits;
template <>
struct Traits<Service> {
  static constexpr std::string_view kKind = "Service";
  static Status fields(const json& j, Service& o) { return detail::decodeServiceFields(j, o); }
};
template <>
struct Traits<EndpointSlice> {
  static constexpr std::string_view kKind = "EndpointSlice";
  static Status fields(const json& j, EndpointSlice& o) { return detail::decodeEndpointSliceFields(j, o); }
};
template <>
struct Traits<Node> {
  static constexpr std::string_view kKind = "Node";
  static Status fields(const json& j, Node& o) { return detail::decodeNodeFields(j, o); }
};

template <typename T>
Result<T> decodeTyped(const json& j) {
  constexpr std::string_view kind = Traits<T>::kKind;
  if (!j.is_object()) return Error(strCat(kind, ": expected a JSON object, got ", describe(j)));
  T out;
  Status st = Traits<T>::fields(j, out);
  if (!st.ok()) return detail::objectError(kind, j, st.error());
  return out;
}

Result<Object> decodeAs(ObjectKind kind, const json& j) {
  switch (kind) {
    case ObjectKind::Service: {
      NN_ASSIGN_OR_RETURN(Service s, decodeTyped<Service>(j));
      return Object(std::move(s));
    }
    case ObjectKind::EndpointSlice: {
      NN_ASSIGN_OR_RETURN(EndpointSlice s, decodeTyped<EndpointSlice>(j));
      return Object(std::move(s));
    }
    case ObjectKind::Node: {
      NN_ASSIGN_OR_RETURN(Node n, decodeTyped<Node>(j));
      return Object(std::move(n));
    }
  }
  return Error("unreachable kind");
}

/// The `kind` of a JSON object: nullopt when absent; an error when not a string.
Result<std::optional<std::string>> readKind(const json& j) {
  const json* k = j.is_object() ? member(j, "kind") : nullptr;
  if (!k) return std::optional<std::string>();
  if (!k->is_string()) return detail::typeError(Path().field("kind"), "string", *k);
  return std::optional<std::string>(k->get_ref<const std::string&>());
}

Result<Object> decodeByKindField(const json& j) {
  if (!j.is_object()) return Error(strCat("object: expected a JSON object, got ", describe(j)));
  NN_ASSIGN_OR_RETURN(auto kind, readKind(j));
  if (!kind || kind->empty()) return Error("kind: required");
  auto k = parseObjectKind(*kind);
  if (!k) return Error(strCat("unsupported kind \"", jsonEscape(*kind), '"'));
  return decodeAs(*k, j);
}

/// Parser-callback state shared by the filtering single-object parse and the streaming list parse.
///
/// While parsing text it drops, wherever an object sits in the document (a single object, a list item, a watch
/// event's object), the parts nodenet never reads and that dominate an object's size: metadata.managedFields
/// (often half of a served object), kubectl's last-applied-configuration annotation, and a Node's status.images.
/// Matching is by parent key, so a label that happens to be named "images" is kept.
class ParseFilter {
 public:
  /// Returns false to discard the value. `depth` and `ev` as in nlohmann's parser callback.
  bool filter(int depth, json::parse_event_t ev, const json& parsed) {
    if (dropDepth_ >= 0) {
      if (depth > dropDepth_) return false;
      dropDepth_ = -1;
    }
    switch (ev) {
      case json::parse_event_t::key: {
        dropPending_ = false;
        const std::string& k = parsed.get_ref<const std::string&>();
        setKey(depth, k);
        if (isDropped(depth, k)) {
          dropPending_ = true;
          return false;
        }
        return true;
      }
      case json::parse_event_t::object_start:
        if (dropPending_) return startDrop(depth);
        return true;
      case json::parse_event_t::array_start:
        if (dropPending_) return startDrop(depth);
        // The elements of this array are opened at depth+1 and have no key of their own.
        setKey(depth + 1, kNoKey);
        return true;
      case json::parse_event_t::value: dropPending_ = false; return true;
      default: return true;
    }
  }

  /// The last key seen at `depth` (keys of a container opened at depth c are at depth c+1).
  std::string_view keyAt(int depth) const {
    return depth >= 0 && static_cast<size_t>(depth) < keys_.size() ? std::string_view(keys_[depth]) : kNoKey;
  }

 private:
  static constexpr std::string_view kNoKey = "[]";

  void setKey(int depth, std::string_view k) {
    if (depth < 0) return;
    if (keys_.size() <= static_cast<size_t>(depth)) keys_.resize(depth + 1);
    keys_[depth] = k;
  }

  bool isDropped(int depth, const std::string& k) const {
    std::string_view parent = keyAt(depth - 1);
    if (parent == "metadata") return k == "managedFields";
    if (parent == "status") return k == "images";
    if (parent == "annotations" && keyAt(depth - 2) == "metadata")
      return k == "kubectl.kubernetes.io/last-applied-configuration";
    return false;
  }

  // The dropped value is a container opened at `depth`: refuse it and everything inside it, so nlohmann does
  // not even build the nested values.
  bool startDrop(int depth) {
    dropPending_ = false;
    dropDepth_ = depth;
    return false;
  }

  std::vector<std::string> keys_;
  bool dropPending_ = false;
  int dropDepth_ = -1;
};

Result<json> parseFiltered(std::string_view text) {
  ParseFilter f;
  try {
    return json::parse(
        text.begin(), text.end(),
        [&f](int depth, json::parse_event_t ev, json& parsed) { return f.filter(depth, ev, parsed); },
        /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    return Error(strCat("invalid JSON: ", e.what()));
  }
}

template <typename T>
Result<T> decodeTypedText(std::string_view text) {
  auto j = parseFiltered(text);
  if (!j.ok()) return std::move(j).error().context(std::string(Traits<T>::kKind));
  return decodeTyped<T>(*j);
}

/// Reads metadata.resourceVersion and metadata.continue of a list.
Status readListMeta(const json& root, std::string& rv, std::string& cont) {
  const json* md = member(root, "metadata");
  if (!md) return okStatus();
  Path mp = Path().field("metadata");
  NN_TRY(detail::requireObject(*md, mp));
  NN_TRY(detail::optString(*md, "resourceVersion", mp, rv));
  NN_TRY(detail::optString(*md, "continue", mp, cont));
  return okStatus();
}

/// Per-item decoding for a list of T; `kind` is the list's kind (used by generic lists for items without kind).
template <typename T>
struct ItemDecoder {
  void decode(const json& item, size_t index, List<T>& out) {
    auto r = decodeTyped<T>(item);
    if (r.ok())
      out.items.push_back(std::move(r).value());
    else
      out.errors.push_back(std::move(r).error().context(strCat("items[", index, "]")));
  }
};

/// "ServiceList" -> Service, for items of a typed list that omit kind.
std::optional<ObjectKind> itemKindOfList(std::string_view listKind) {
  if (listKind.size() > 4 && listKind.substr(listKind.size() - 4) == "List")
    return parseObjectKind(listKind.substr(0, listKind.size() - 4));
  return std::nullopt;
}

template <>
struct ItemDecoder<Object> {
  void decode(const json& item, size_t index, List<Object>& out) {
    std::string ctx = strCat("items[", index, "]");
    auto kind = readKind(item);
    if (!kind.ok()) {
      out.errors.push_back(std::move(kind).error().context(ctx));
      return;
    }
    std::optional<ObjectKind> k;
    if (kind->has_value() && !(*kind)->empty()) {
      k = parseObjectKind(**kind);
      if (!k) {
        ++out.unsupportedItems;
        return;
      }
    } else {
      k = itemKindOfList(out.kind);
      if (!k) {
        out.errors.push_back(Error(strCat(ctx, ": kind: required")));
        return;
      }
    }
    auto r = decodeAs(*k, item);
    if (r.ok())
      out.items.push_back(std::move(r).value());
    else
      out.errors.push_back(std::move(r).error().context(ctx));
  }
};

template <typename T>
Result<List<T>> decodeListDom(const json& j) {
  if (!j.is_object()) return Error(strCat("list: expected a JSON object, got ", describe(j)));
  List<T> out;
  if (const json* k = member(j, "kind"); k && k->is_string()) out.kind = k->get_ref<const std::string&>();
  Status st = readListMeta(j, out.resourceVersion, out.continueToken);
  if (!st.ok()) return std::move(st).error().context(out.kind.empty() ? "list" : out.kind);
  const json* items = member(j, "items");
  if (!items) return out;
  if (!items->is_array())
    return detail::typeError(Path().field("items"), "array", *items).context(out.kind.empty() ? "list" : out.kind);
  out.items.reserve(items->size());
  ItemDecoder<T> dec;
  for (size_t i = 0; i < items->size(); ++i) {
    const json& item = (*items)[i];
    if (item.is_object())
      dec.decode(item, i, out);
    else
      out.errors.push_back(detail::typeError(Path().field("items").index(i), "object", item));
  }
  return out;
}

/// Streaming list decode: items are decoded from inside the parser callback as each one closes, then discarded,
/// so the transient JSON tree never holds more than one item.
template <typename T>
Result<List<T>> decodeListStreaming(std::string_view text) {
  List<T> out;
  ItemDecoder<T> dec;
  ParseFilter filter;
  bool inItems = false;                           // inside the top-level "items" array
  size_t index = 0;                               // index of the next item
  std::vector<std::pair<size_t, json>> deferred;  // generic lists: items seen before the list's kind

  auto cb = [&](int depth, json::parse_event_t ev, json& parsed) -> bool {
    if (!filter.filter(depth, ev, parsed)) return false;
    using E = json::parse_event_t;
    if (depth == 1) {
      if (ev == E::array_start && filter.keyAt(1) == "items")
        inItems = true;
      else if (ev == E::array_end)
        inItems = false;
      else if (ev == E::value && filter.keyAt(1) == "kind" && parsed.is_string())
        out.kind = parsed.get_ref<const std::string&>();
      return true;
    }
    if (depth != 2 || !inItems) return true;
    switch (ev) {
      case E::object_end: {
        size_t i = index++;
        if constexpr (std::is_same_v<T, Object>) {
          // An item without kind in a list whose kind comes later in the text: decode once the kind is known.
          if (out.kind.empty() && !member(parsed, "kind")) {
            deferred.emplace_back(i, std::move(parsed));
            return false;
          }
        }
        dec.decode(parsed, i, out);
        return false;
      }
      case E::value:  // a scalar item
      case E::array_end: {
        size_t i = index++;
        out.errors.push_back(
            detail::typeError(Path().field("items").index(i), "object", ev == E::value ? parsed : json::array()));
        return false;
      }
      default: return true;
    }
  };

  json root;
  try {
    root = json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    return Error(strCat(out.kind.empty() ? "list" : out.kind, ": invalid JSON: ", e.what()));
  }
  std::string what = out.kind.empty() ? "list" : out.kind;
  if (!root.is_object()) return Error(strCat(what, ": expected a JSON object, got ", describe(root)));
  if (const json* items = member(root, "items"); items && !items->is_array())
    return detail::typeError(Path().field("items"), "array", *items).context(what);
  Status st = readListMeta(root, out.resourceVersion, out.continueToken);
  if (!st.ok()) return std::move(st).error().context(what);
  if constexpr (std::is_same_v<T, Object>) {
    if (!deferred.empty()) {
      // Keep the list order: decode the deferred items into a side list and merge by index.
      List<Object> early;
      early.kind = out.kind;
      for (auto& [i, item] : deferred) dec.decode(item, i, early);
      out.items.insert(out.items.begin(), std::make_move_iterator(early.items.begin()),
                       std::make_move_iterator(early.items.end()));
      out.errors.insert(out.errors.begin(), early.errors.begin(), early.errors.end());
      out.unsupportedItems += early.unsupportedItems;
    }
  }
  out.items.shrink_to_fit();
  return out;
}

Result<WatchEventType> readEventType(const json& v) {
  WatchEventType t = WatchEventType::Added;
  Status st = detail::readEnum<WatchEventType>(v, Path().field("type"),
                                               {{"ADDED", WatchEventType::Added},
                                                {"MODIFIED", WatchEventType::Modified},
                                                {"DELETED", WatchEventType::Deleted},
                                                {"BOOKMARK", WatchEventType::Bookmark},
                                                {"ERROR", WatchEventType::Error}},
                                               t);
  if (!st.ok()) return std::move(st).error();
  return t;
}

/// Best-effort identity of an object that failed to decode.
InvalidObject identify(const json& obj, std::string kind, Error error) {
  InvalidObject inv;
  inv.kind = std::move(kind);
  inv.error = std::move(error);
  if (!obj.is_object()) return inv;
  const json* md = member(obj, "metadata");
  if (!md || !md->is_object()) return inv;
  if (const json* v = member(*md, "namespace"); v && v->is_string()) inv.ns = InternedString(v->get<std::string>());
  if (const json* v = member(*md, "name"); v && v->is_string()) inv.name = v->get<std::string>();
  if (const json* v = member(*md, "resourceVersion"); v && v->is_string()) inv.resourceVersion = v->get<std::string>();
  return inv;
}

}  // namespace

Result<Service> decodeService(const json& j) { return decodeTyped<Service>(j); }
Result<EndpointSlice> decodeEndpointSlice(const json& j) { return decodeTyped<EndpointSlice>(j); }
Result<Node> decodeNode(const json& j) { return decodeTyped<Node>(j); }
Result<Object> decodeObject(const json& j) { return decodeByKindField(j); }

Result<Service> decodeServiceText(std::string_view text) { return decodeTypedText<Service>(text); }
Result<EndpointSlice> decodeEndpointSliceText(std::string_view text) { return decodeTypedText<EndpointSlice>(text); }
Result<Node> decodeNodeText(std::string_view text) { return decodeTypedText<Node>(text); }
Result<Object> decodeObjectText(std::string_view text) {
  NN_ASSIGN_OR_RETURN(json j, parseFiltered(text));
  return decodeByKindField(j);
}

Result<ApiStatus> decodeStatus(const json& j) {
  Path root;
  if (!j.is_object()) return Error(strCat("Status: expected a JSON object, got ", describe(j)));
  ApiStatus s;
  Status st = detail::optString(j, "status", root, s.status);
  if (st.ok()) st = detail::optString(j, "message", root, s.message);
  if (st.ok()) st = detail::optString(j, "reason", root, s.reason);
  if (st.ok()) {
    int64_t code = 0;
    st = detail::optField(j, "code", root, code,
                          [](const json& v, const Path& p, int64_t& o) { return detail::readInt(v, p, 0, 999, o); });
    s.code = static_cast<int>(code);
  }
  if (!st.ok()) return std::move(st).error().context("Status");
  return s;
}

Result<WatchEvent> decodeWatchEvent(const json& j, std::optional<ObjectKind> expected) {
  if (!j.is_object()) return Error(strCat("watch event: expected a JSON object, got ", describe(j)));
  const json* type = member(j, "type");
  if (!type) return Error("watch event: type: required");
  auto t = readEventType(*type);
  if (!t.ok()) return std::move(t).error().context("watch event");
  const json* obj = member(j, "object");
  if (!obj) return Error(strCat("watch event ", watchEventTypeName(*t), ": object: required"));
  if (!obj->is_object())
    return detail::typeError(Path().field("object"), "object", *obj)
        .context(strCat("watch event ", watchEventTypeName(*t)));

  WatchEvent ev;
  ev.type = *t;
  if (ev.type == WatchEventType::Error) {
    auto s = decodeStatus(*obj);
    if (!s.ok()) return std::move(s).error().context("watch event ERROR");
    ev.status = std::move(s).value();
    return ev;
  }
  if (ev.type == WatchEventType::Bookmark) {
    // A bookmark's object is an empty object of the watched kind carrying only a resourceVersion.
    ObjectMeta m;
    Status st = detail::decodeMeta(*obj, /*namespaced=*/false, /*requireName=*/false, m);
    if (!st.ok()) return std::move(st).error().context("watch event BOOKMARK");
    ev.resourceVersion = std::move(m.resourceVersion);
    ev.initialEventsEnd = m.annotations.get(kAnnotationInitialEventsEnd) == std::optional<std::string_view>("true");
    return ev;
  }

  auto kindField = readKind(*obj);
  std::string kindName = kindField.ok() && kindField->has_value() ? **kindField : std::string();
  std::optional<ObjectKind> kind = kindName.empty() ? expected : parseObjectKind(kindName);
  if (kindName.empty() && expected) kindName = objectKindName(*expected);
  Result<Object> decoded = Error("");
  if (!kindField.ok())
    decoded = std::move(kindField).error();
  else if (!kind && kindName.empty())
    decoded = Error("kind: required");
  else if (!kind)
    decoded = Error(strCat("unsupported kind \"", jsonEscape(kindName), '"'));
  else if (expected && *kind != *expected)
    decoded = Error(strCat("kind: expected \"", objectKindName(*expected), "\", got \"", jsonEscape(kindName), '"'));
  else
    decoded = decodeAs(*kind, *obj);

  if (decoded.ok()) {
    ev.object = std::move(decoded).value();
    ev.resourceVersion = metaOf(*ev.object).resourceVersion;
  } else {
    ev.invalid = identify(*obj, kindName, std::move(decoded).error());
    ev.resourceVersion = ev.invalid->resourceVersion;
  }
  return ev;
}

Result<WatchEvent> decodeWatchEventText(std::string_view text, std::optional<ObjectKind> expected) {
  auto j = parseFiltered(text);
  if (!j.ok()) return std::move(j).error().context("watch event");
  return decodeWatchEvent(*j, expected);
}

Result<ServiceList> decodeServiceList(const json& j) { return decodeListDom<Service>(j); }
Result<EndpointSliceList> decodeEndpointSliceList(const json& j) { return decodeListDom<EndpointSlice>(j); }
Result<NodeList> decodeNodeList(const json& j) { return decodeListDom<Node>(j); }
Result<ObjectList> decodeObjectList(const json& j) { return decodeListDom<Object>(j); }

Result<ServiceList> decodeServiceListText(std::string_view text) { return decodeListStreaming<Service>(text); }
Result<EndpointSliceList> decodeEndpointSliceListText(std::string_view text) {
  return decodeListStreaming<EndpointSlice>(text);
}
Result<NodeList> decodeNodeListText(std::string_view text) { return decodeListStreaming<Node>(text); }
Result<ObjectList> decodeObjectListText(std::string_view text) { return decodeListStreaming<Object>(text); }

}  // namespace nodenet::kube
