// Manifest file parsing: YAML (multi-document) or JSON text to typed objects. Pure: the caller reads the file.
//
// YAML scalars are resolved as kubectl resolves them (sigs.k8s.io/yaml, i.e. go-yaml v2's YAML 1.1 rules), then
// the JSON goes through the kube/objects decoders, so a manifest decodes exactly like the object the API
// server would have served:
//  - quoted scalars ("80", '80') and !!str are strings; plain 80, 0x50, 0o120, 0120 (octal), 1_000 are integers;
//    plain 1.5 / 1e3 are floats; true/false/yes/no/on/off/y/n (any of the three casings) are booleans;
//    null, ~ and empty values are JSON null (= "absent" for the decoders); anything else is a string.
//  - mapping keys are always strings (JSON objects); merge keys (`<<: *anchor`) are expanded, explicit keys win.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "kube/objects/decode.h"

namespace nodenet::kube::manifests {

/// One YAML document as JSON, with the 1-based line it starts at (for messages).
struct JsonDocument {
  nlohmann::json json;
  int line = 1;
};

/// Parses a YAML stream (documents separated by `---`) into JSON documents. Empty documents (a trailing `---`,
/// a comment-only file) are skipped. Error: invalid YAML, with the line and column.
Result<std::vector<JsonDocument>> yamlToJson(std::string_view text);

/// What one file contributed.
struct ParsedManifest {
  std::vector<Object> objects;  // in file order, List items in place
  size_t unsupported = 0;       // documents and List items of kinds nodenet does not handle (ConfigMap, Pod, ...)
};

/// Parses a manifest file. `fileName` picks the syntax (".json" = one JSON document; anything else = YAML, which
/// also reads JSON) and prefixes every message. A document may be a single object or a List (`kind: List`, or a
/// typed `ServiceList`...). The file is all or nothing: any invalid document or object fails the whole file,
/// with a message naming the file, the document and the decoder's field path:
///   `web.yaml: document 2 (line 14): Service default/web: spec.ports[0].port: expected integer 1-65535, got "x"`
Result<ParsedManifest> parseManifest(std::string_view fileName, std::string_view text);

/// Whether a directory entry name is a manifest: `*.yaml`, `*.yml`, `*.json`, not hidden (`.x`, vim's `.x.swp`,
/// emacs's `.#x`), not a backup (`x~`) or an emacs autosave (`#x#`).
bool isManifestFileName(std::string_view name);

}  // namespace nodenet::kube::manifests
