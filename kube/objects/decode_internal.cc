#include "kube/objects/decode_internal.h"

#include <algorithm>
#include <limits>

#include "base/strings.h"

namespace nodenet::kube::detail {

void Path::render(std::string& out) const {
  if (parent_) parent_->render(out);
  switch (kind_) {
    case Kind::Root: break;
    case Kind::Field:
      if (!out.empty()) out += '.';
      out += name_;
      break;
    case Kind::Index:
      out += '[';
      out += std::to_string(index_);
      out += ']';
      break;
    case Kind::MapKey:
      out += "[\"";
      out += jsonEscape(name_);
      out += "\"]";
      break;
  }
}

std::string Path::str() const {
  std::string out;
  render(out);
  return out;
}

std::string describe(const json& v) {
  // Long strings are cut: a message must stay one readable log line even for a pasted certificate.
  constexpr size_t kMaxShown = 64;
  switch (v.type()) {
    case json::value_t::string: {
      const std::string& s = v.get_ref<const std::string&>();
      if (s.size() <= kMaxShown) return strCat('"', jsonEscape(s), '"');
      return strCat('"', jsonEscape(std::string_view(s).substr(0, kMaxShown)), "...\"");
    }
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::null: return "null";
    default: return v.dump();
  }
}

Error typeError(const Path& p, std::string_view expected, const json& got) {
  return Error(strCat(p.str(), ": expected ", expected, ", got ", describe(got)));
}

Error fieldError(const Path& p, std::string_view message) { return Error(strCat(p.str(), ": ", message)); }

Status readString(const json& v, const Path& p, std::string& out) {
  if (!v.is_string()) return typeError(p, "string", v);
  out = v.get_ref<const std::string&>();
  return okStatus();
}

Status readInterned(const json& v, const Path& p, InternedString& out) {
  if (!v.is_string()) return typeError(p, "string", v);
  out = InternedString(v.get_ref<const std::string&>());
  return okStatus();
}

Status readBool(const json& v, const Path& p, bool& out) {
  if (!v.is_boolean()) return typeError(p, "boolean", v);
  out = v.get<bool>();
  return okStatus();
}

Status readInt(const json& v, const Path& p, int64_t lo, int64_t hi, int64_t& out) {
  int64_t n = 0;
  bool ok = false;
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      n = static_cast<int64_t>(u);
      ok = true;
    }
  } else if (v.is_number_integer()) {
    n = v.get<int64_t>();
    ok = true;
  }
  if (!ok || n < lo || n > hi) return typeError(p, strCat("integer ", lo, "-", hi), v);
  out = n;
  return okStatus();
}

Status readPort(const json& v, const Path& p, bool allowZero, uint16_t& out) {
  int64_t n = 0;
  NN_TRY(readInt(v, p, allowZero ? 0 : 1, 65535, n));
  out = static_cast<uint16_t>(n);
  return okStatus();
}

Status readProtocol(const json& v, const Path& p, L4Proto& out) {
  return readEnum<L4Proto>(v, p, {{"TCP", L4Proto::TCP}, {"UDP", L4Proto::UDP}, {"SCTP", L4Proto::SCTP}}, out);
}

Result<IpAddress> parseIpSloppy(std::string_view text) {
  auto strict = IpAddress::parse(text);
  if (strict.ok()) return strict;
  // inet_pton rejects "010.001.002.003"; Go's ParseIPSloppy (used by kube-proxy for objects created before
  // Kubernetes 1.20 tightened validation) reads each octet as decimal. Accept exactly that.
  uint8_t octets[4];
  size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (pos >= text.size() || text[pos] != '.') return strict;
      ++pos;
    }
    size_t start = pos;
    unsigned value = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && pos - start < 3) {
      value = value * 10 + static_cast<unsigned>(text[pos] - '0');
      ++pos;
    }
    if (pos == start || value > 255) return strict;
    octets[i] = static_cast<uint8_t>(value);
  }
  if (pos != text.size()) return strict;
  return IpAddress::fromBytes(IpFamily::V4, octets);
}

Result<Cidr> parseCidrSloppy(std::string_view text) {
  text = trim(text);
  auto strict = Cidr::parse(text);
  if (strict.ok()) return strict->masked();
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return strict;
  auto addr = parseIpSloppy(text.substr(0, slash));
  if (!addr.ok()) return strict;
  auto retry = Cidr::parse(strCat(addr->toString(), text.substr(slash)));
  if (!retry.ok()) return strict;
  return retry->masked();
}

Status readIp(const json& v, const Path& p, IpAddress& out) {
  if (!v.is_string()) return typeError(p, "IP address", v);
  auto ip = parseIpSloppy(v.get_ref<const std::string&>());
  if (!ip.ok()) return typeError(p, "IP address", v);
  out = *ip;
  return okStatus();
}

Status readCidr(const json& v, const Path& p, Cidr& out) {
  if (!v.is_string()) return typeError(p, "CIDR", v);
  auto c = parseCidrSloppy(v.get_ref<const std::string&>());
  if (!c.ok()) return typeError(p, "CIDR", v);
  out = *c;
  return okStatus();
}

namespace {

bool isKeptAnnotation(std::string_view key) {
  for (std::string_view k : kKeptAnnotations)
    if (k == key) return true;
  return false;
}

/// Reads a map[string]string. `keep` filters keys (all values are type-checked either way).
template <typename Keep>
Status readStringMap(const json& v, const Path& p, Keep keep, StringMap& out) {
  if (!v.is_object()) return typeError(p, "object of strings", v);
  std::vector<StringMap::Entry> entries;
  for (auto it = v.begin(); it != v.end(); ++it) {
    const json& val = it.value();
    // Go decodes a null map value as "".
    if (!val.is_string() && !val.is_null()) return typeError(p.mapKey(it.key()), "string", val);
    if (!keep(it.key())) continue;
    if (entries.empty()) entries.reserve(v.size());
    entries.push_back({InternedString(it.key()), val.is_null() ? std::string() : val.get_ref<const std::string&>()});
  }
  out = StringMap(std::move(entries));
  return okStatus();
}

}  // namespace

Status decodeMeta(const json& obj, bool namespaced, bool requireName, ObjectMeta& m) {
  Path root;
  const json* md = member(obj, "metadata");
  Path mp = root.field("metadata");
  if (!md) {
    if (requireName) return fieldError(mp.field("name"), "required");
    return okStatus();
  }
  NN_TRY(requireObject(*md, mp));
  NN_TRY(optString(*md, "name", mp, m.name));
  if (requireName && m.name.empty()) return fieldError(mp.field("name"), "required");
  if (namespaced) {
    NN_TRY(optInterned(*md, "namespace", mp, m.ns));
    if (m.ns.empty()) {
      static const InternedString kDefault("default");
      m.ns = kDefault;
    }
  }
  NN_TRY(optString(*md, "uid", mp, m.uid));
  NN_TRY(optString(*md, "resourceVersion", mp, m.resourceVersion));
  NN_TRY(optField(*md, "generation", mp, m.generation, [](const json& v, const Path& p, int64_t& out) {
    return readInt(v, p, 0, std::numeric_limits<int64_t>::max(), out);
  }));
  if (const json* v = member(*md, "labels"))
    NN_TRY(readStringMap(
        *v, mp.field("labels"), [](const std::string&) { return true; }, m.labels));
  if (const json* v = member(*md, "annotations"))
    NN_TRY(readStringMap(
        *v, mp.field("annotations"), [](const std::string& k) { return isKeptAnnotation(k); }, m.annotations));
  if (const json* v = member(*md, "deletionTimestamp")) {
    if (!v->is_string()) return typeError(mp.field("deletionTimestamp"), "string", *v);
    m.deleting = true;
  }
  return okStatus();
}

Status checkTypeMeta(const json& obj, std::string_view kind, std::string_view apiVersion) {
  Path root;
  if (const json* k = member(obj, "kind")) {
    if (!k->is_string() || k->get_ref<const std::string&>() != kind)
      return typeError(root.field("kind"), strCat('"', kind, '"'), *k);
  }
  if (const json* a = member(obj, "apiVersion")) {
    if (!a->is_string() || a->get_ref<const std::string&>() != apiVersion)
      return typeError(root.field("apiVersion"), strCat('"', apiVersion, '"'), *a);
  }
  return okStatus();
}

std::string objectIdentity(std::string_view kind, const json& obj) {
  std::string ns, name;
  if (obj.is_object()) {
    if (const json* md = member(obj, "metadata"); md && md->is_object()) {
      if (const json* n = member(*md, "namespace"); n && n->is_string()) ns = n->get_ref<const std::string&>();
      if (const json* n = member(*md, "name"); n && n->is_string()) name = n->get_ref<const std::string&>();
    }
  }
  if (name.empty()) name = "<unnamed>";
  if (kind == "Node") return strCat(kind, ' ', name);
  if (ns.empty()) ns = "default";
  return strCat(kind, ' ', ns, '/', name);
}

Error objectError(std::string_view kind, const json& obj, const Error& e) {
  return Error(strCat(objectIdentity(kind, obj), ": ", e.message()));
}

}  // namespace nodenet::kube::detail
