#include "kube/manifests/parse.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <regex>

#include "base/strings.h"

namespace nodenet::kube::manifests {

using nlohmann::json;

namespace {

// Tags yaml-cpp reports: "?" for plain scalars (type to be resolved), "!" for quoted ones (always strings).
constexpr std::string_view kTagNonSpecificPlain = "?";
constexpr std::string_view kTagStr = "tag:yaml.org,2002:str";
constexpr std::string_view kTagInt = "tag:yaml.org,2002:int";
constexpr std::string_view kTagFloat = "tag:yaml.org,2002:float";
constexpr std::string_view kTagBool = "tag:yaml.org,2002:bool";
constexpr std::string_view kTagNull = "tag:yaml.org,2002:null";
constexpr std::string_view kTagMerge = "tag:yaml.org,2002:merge";

std::optional<bool> resolveBool(std::string_view s) {
  // go-yaml v2's YAML 1.1 table, which kubectl (sigs.k8s.io/yaml) uses.
  static constexpr std::string_view kTrue[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static constexpr std::string_view kFalse[] = {"n",     "N",     "no",  "No",  "NO", "false",
                                                "False", "FALSE", "off", "Off", "OFF"};
  for (std::string_view t : kTrue)
    if (s == t) return true;
  for (std::string_view f : kFalse)
    if (s == f) return false;
  return std::nullopt;
}

bool isNullWord(std::string_view s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

// Go's strconv.ParseInt/ParseUint(s, 0, 64) after go-yaml removed underscores: optional sign, then 0x / 0o /
// 0b prefixes or a leading 0 for octal.
std::optional<json> resolveInt(std::string s) {
  std::erase(s, '_');
  std::string_view v = s;
  bool neg = false;
  if (!v.empty() && (v[0] == '+' || v[0] == '-')) {
    neg = v[0] == '-';
    v.remove_prefix(1);
  }
  if (v.empty()) return std::nullopt;
  int base = 10;
  if (v.size() > 1 && v[0] == '0') {
    char p = v[1];
    if (p == 'x' || p == 'X')
      base = 16, v.remove_prefix(2);
    else if (p == 'o' || p == 'O')
      base = 8, v.remove_prefix(2);
    else if (p == 'b' || p == 'B')
      base = 2, v.remove_prefix(2);
    else
      base = 8, v.remove_prefix(1);
  }
  if (v.empty()) return std::nullopt;
  uint64_t mag = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), mag, base);
  if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  if (!neg) {
    if (mag <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return json(static_cast<int64_t>(mag));
    return json(mag);
  }
  if (mag <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return json(-static_cast<int64_t>(mag));
  if (mag == static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1)
    return json(std::numeric_limits<int64_t>::min());
  return std::nullopt;
}

std::optional<json> resolveFloat(std::string s) {
  std::erase(s, '_');
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" || s == "+.INF")
    return json(std::numeric_limits<double>::infinity());
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return json(-std::numeric_limits<double>::infinity());
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return json(std::numeric_limits<double>::quiet_NaN());
  static const std::regex kFloat(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  if (!std::regex_match(s, kFloat)) return std::nullopt;
  try {
    return json(std::stod(s));
  } catch (...) {
    return std::nullopt;  // out of range
  }
}

// A plain scalar as go-yaml v2 resolves it: null, bool, int, float, else string.
json resolvePlain(const std::string& s) {
  if (isNullWord(s)) return nullptr;
  if (auto b = resolveBool(s)) return *b;
  if (auto i = resolveInt(s)) return *i;
  if (auto f = resolveFloat(s)) return *f;
  return s;
}

Result<json> toJson(const YAML::Node& n);

std::string mark(const YAML::Node& n) { return strCat("line ", n.Mark().line + 1, ", column ", n.Mark().column + 1); }

Result<json> scalarToJson(const YAML::Node& n) {
  const std::string& tag = n.Tag();
  const std::string& s = n.Scalar();
  if (tag == kTagNonSpecificPlain) return resolvePlain(s);
  if (tag == "!" || tag == kTagStr) return json(s);
  if (tag == kTagInt) {
    if (auto i = resolveInt(s)) return *i;
    return Error(strCat(mark(n), ": !!int ", s, " is not an integer"));
  }
  if (tag == kTagFloat) {
    if (auto i = resolveInt(s)) return json(i->get<double>());
    if (auto f = resolveFloat(s)) return *f;
    return Error(strCat(mark(n), ": !!float ", s, " is not a number"));
  }
  if (tag == kTagBool) {
    if (auto b = resolveBool(s)) return json(*b);
    return Error(strCat(mark(n), ": !!bool ", s, " is not a boolean"));
  }
  if (tag == kTagNull) return json(nullptr);
  // Other tags (!!timestamp, !!binary, application tags): the text, as sigs.k8s.io/yaml turns them into strings.
  return json(s);
}

bool isMergeKey(const YAML::Node& key) {
  return key.IsScalar() && key.Scalar() == "<<" && (key.Tag() == kTagNonSpecificPlain || key.Tag() == kTagMerge);
}

Result<json> mapToJson(const YAML::Node& n) {
  json out = json::object();
  std::vector<const YAML::Node*> merges;
  std::vector<std::pair<YAML::Node, YAML::Node>> entries;
  for (auto it = n.begin(); it != n.end(); ++it) entries.emplace_back(it->first, it->second);
  for (auto& [k, v] : entries) {
    if (isMergeKey(k)) {
      merges.push_back(&v);
      continue;
    }
    if (!k.IsScalar() && !k.IsNull())
      return Error(strCat(mark(k), ": mapping keys must be scalars (JSON objects have string keys)"));
    NN_ASSIGN_OR_RETURN(json val, toJson(v));
    out[k.IsNull() ? std::string("null") : k.Scalar()] = std::move(val);
  }
  // Merge keys: a mapping or a sequence of mappings; explicit keys win, then earlier merged mappings.
  for (const YAML::Node* m : merges) {
    std::vector<YAML::Node> sources;
    if (m->IsMap())
      sources.push_back(*m);
    else if (m->IsSequence())
      for (const YAML::Node& s : *m) sources.push_back(s);
    for (const YAML::Node& src : sources) {
      if (!src.IsMap()) return Error(strCat(mark(src), ": a merge key (<<) needs a mapping or a list of mappings"));
      NN_ASSIGN_OR_RETURN(json merged, mapToJson(src));
      for (auto& [key, val] : merged.items())
        if (!out.contains(key)) out[key] = val;
    }
  }
  return out;
}

Result<json> toJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: return json(nullptr);
    case YAML::NodeType::Scalar: return scalarToJson(n);
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const YAML::Node& item : n) {
        NN_ASSIGN_OR_RETURN(json v, toJson(item));
        out.push_back(std::move(v));
      }
      return out;
    }
    case YAML::NodeType::Map: return mapToJson(n);
  }
  return json(nullptr);
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Adds one document (an object or a list) to `out`.
Status addDocument(const json& doc, ParsedManifest& out) {
  if (doc.is_null()) return okStatus();
  if (!doc.is_object()) return Error(strCat("expected an object, got ", doc.is_array() ? "a list" : "a scalar"));
  const json* kindField = doc.contains("kind") ? &doc["kind"] : nullptr;
  if (!kindField || !kindField->is_string() || kindField->get_ref<const std::string&>().empty())
    return Error("kind: missing (every manifest object needs kind and apiVersion)");
  const std::string& kind = kindField->get_ref<const std::string&>();
  if (endsWith(kind, "List")) {
    std::string_view itemKind = std::string_view(kind).substr(0, kind.size() - 4);
    if (!itemKind.empty() && !parseObjectKind(itemKind)) {
      // A typed list of a kind we do not handle (ConfigMapList): skipped like its items would be.
      const json* items = doc.contains("items") ? &doc["items"] : nullptr;
      out.unsupported += items && items->is_array() ? items->size() : 0;
      return okStatus();
    }
    NN_ASSIGN_OR_RETURN(ObjectList list, decodeObjectList(doc));
    if (!list.errors.empty()) {
      std::vector<std::string> msgs;
      for (const Error& e : list.errors) msgs.push_back(e.message());
      return Error(join(msgs, "; "));
    }
    out.unsupported += list.unsupportedItems;
    for (Object& o : list.items) out.objects.push_back(std::move(o));
    return okStatus();
  }
  if (!parseObjectKind(kind)) {
    ++out.unsupported;
    return okStatus();
  }
  NN_ASSIGN_OR_RETURN(Object o, decodeObject(doc));
  out.objects.push_back(std::move(o));
  return okStatus();
}

}  // namespace

Result<std::vector<JsonDocument>> yamlToJson(std::string_view text) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    // e.mark is 0-based; e.msg is the parser's message without the position.
    return Error(strCat("invalid YAML: line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
  }
  std::vector<JsonDocument> out;
  out.reserve(docs.size());
  for (const YAML::Node& d : docs) {
    if (d.IsNull() || !d.IsDefined()) continue;
    int line = d.Mark().line + 1;
    Result<json> j = [&]() -> Result<json> {
      try {
        return toJson(d);
      } catch (const YAML::Exception& e) {
        return Error(strCat("invalid YAML: line ", e.mark.line + 1, ": ", e.msg));
      }
    }();
    if (!j.ok())
      return Error(j.error().message().starts_with("invalid YAML") ? j.error().message()
                                                                   : "invalid YAML: " + j.error().message());
    out.push_back({std::move(j).value(), line});
  }
  return out;
}

Result<ParsedManifest> parseManifest(std::string_view fileName, std::string_view text) {
  std::string file(fileName);
  std::vector<JsonDocument> docs;
  if (endsWith(fileName, ".json")) {
    try {
      docs.push_back({json::parse(text), 1});
    } catch (const json::exception& e) {
      return Error(strCat(file, ": invalid JSON: ", e.what()));
    }
  } else {
    auto r = yamlToJson(text);
    if (!r.ok()) return std::move(r).error().context(file);
    docs = std::move(r).value();
  }
  ParsedManifest out;
  for (size_t i = 0; i < docs.size(); ++i) {
    Status st = addDocument(docs[i].json, out);
    if (!st.ok()) {
      std::string where = docs.size() == 1 && docs[i].line == 1
                              ? file
                              : strCat(file, ": document ", i + 1, " (line ", docs[i].line, ")");
      return std::move(st).error().context(where);
    }
  }
  return out;
}

bool isManifestFileName(std::string_view name) {
  if (name.empty() || name[0] == '.' || name[0] == '#') return false;
  if (endsWith(name, "~") || endsWith(name, ".swp") || endsWith(name, ".swo") || endsWith(name, ".swx")) return false;
  return endsWith(name, ".yaml") || endsWith(name, ".yml") || endsWith(name, ".json");
}

}  // namespace nodenet::kube::manifests
