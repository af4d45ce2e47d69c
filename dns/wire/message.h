// Whole-message parse and compose, and single-record read/write used by the response composer.
//
// parseMessage() is the general, lenient-but-bounded decoder (upstream answers, tests, tools); the server's
// query path uses parseQuery() in query.h, which is stricter and allocation-light.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/result.h"
#include "dns/wire/cursor.h"
#include "dns/wire/name.h"
#include "dns/wire/types.h"

namespace nodenet::dns {

/// A decoded message. Counts in `header` are informational after parsing; composeMessage() writes the counts
/// from the vectors. The OPT record is not kept in `additional`: it becomes `edns`.
struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<ResourceRecord> answers;
  std::vector<ResourceRecord> authority;
  std::vector<ResourceRecord> additional;
  std::optional<Edns> edns;

  /// The full 12-bit RCODE: the header's 4 bits plus the OPT's upper 8 bits when EDNS is present.
  Rcode rcode() const;
  /// Sets the header bits and, when `edns` is present, the OPT's upper bits. Extended values (> 15)
  /// need EDNS; without it only the low 4 bits survive.
  void setRcode(Rcode r);
  /// Field-wise equality; names compare case-insensitively (compression may change case, RFC 4343 §4.1).
  bool operator==(const Message&) const = default;
};

/// Parses a complete message. Fails (naming the section and record) on truncation, bad names or pointers,
/// RDATA whose length disagrees with its type, more than one OPT, an OPT not in the additional section or
/// not owned by the root, or trailing bytes after the last record.
Result<Message> parseMessage(std::span<const uint8_t> bytes);

/// Composes a whole message with name compression into a new buffer (up to 65535 bytes). Fails when the
/// message does not fit in 65535 bytes or an RDATA alternative does not suit its type. Never truncates:
/// use ResponseComposer (response.h) for size-limited responses.
Result<std::vector<uint8_t>> composeMessage(const Message& m);

/// Reads one resource record (owner, type, class, TTL, RDATA) into `out`. OPT records are read as
/// RdataOpaque with the raw class/TTL kept in cls/ttl. On malformed input the reader's sticky error is set.
void readRecord(WireReader& r, ResourceRecord& out);

/// Writes one record with compression (owner, and names inside NS/CNAME/PTR/MX/SOA RDATA; SRV targets are
/// written uncompressed per RFC 2782). Returns false when the RDATA alternative does not suit the type or a
/// TXT string is over 255 octets; the writer's no-room state reports lack of space.
/// On any failure the caller must rewind the writer and call compressor.forgetFrom() with its mark.
bool writeRecord(WireWriter& w, NameCompressor& c, const ResourceRecord& rr);

}  // namespace nodenet::dns
