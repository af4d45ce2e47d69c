// The server's query decoder: accepts exactly what an authoritative/forwarding server should answer.
#pragma once

#include <cstdint>
#include <span>

#include "base/result.h"
#include "dns/wire/name.h"
#include "dns/wire/types.h"

namespace nodenet::dns {

/// What the server should do with a query whose header was readable.
enum class QueryVerdict : uint8_t {
  /// Well-formed QUERY: resolve it.
  Answer,
  /// Malformed after the header (RFC 1035 §4.1.1): reply FORMERR, echoing what was readable.
  FormErr,
  /// OPCODE other than QUERY: reply NOTIMP.
  NotImp,
  /// EDNS version other than 0 (RFC 6891 §6.1.3): reply BADVERS with an OPT of version 0.
  BadVers,
};

/// Client EDNS parameters as the server should use them.
struct QueryEdns {
  /// Payload size, clamped to [512, 65535] (RFC 6891 §6.2.5: values below 512 are treated as 512).
  uint16_t udpPayload = kClassicUdpLimit;
  uint8_t version = 0;
  bool dnssecOk = false;
};

/// A decoded query: enough to answer it, or to compose a proper error for it.
///
/// Invariants: when verdict is Answer, hasQuestion is true and the question was fully parsed. When
/// hasQuestion is false (question unreadable), error responses carry QDCOUNT 0.
struct Query {
  uint16_t id = 0;
  Opcode opcode = Opcode::Query;
  /// Raw flag bits the response echoes (RD and CD, RFC 1035 §4.1.1 and RFC 4035 §3.1.6).
  bool rd = false;
  bool cd = false;
  /// AD in a query means "I understand AD" (RFC 6840 §5.7).
  bool ad = false;

  bool hasQuestion = false;
  /// The question exactly as sent (case preserved, RFC 4343); use qname.canonical() for lookups.
  Question question;

  /// True when an OPT record was present and well-formed.
  bool hasEdns = false;
  QueryEdns edns;

  QueryVerdict verdict = QueryVerdict::Answer;
  /// Why the verdict is not Answer (a static string for logs), or nullptr.
  const char* problem = nullptr;

  /// The response size limit for UDP: the client's EDNS payload size, or 512 without EDNS.
  uint16_t udpLimit() const { return hasEdns ? edns.udpPayload : kClassicUdpLimit; }
};

/// Decodes a query received from a client.
///
/// Returns an Error only when the server must stay silent (drop): fewer than 12 bytes (no header to echo),
/// or QR set (a response; answering it could start a loop between servers). Every other input yields a
/// Query whose `verdict` says what to send: Answer for a well-formed QUERY with QDCOUNT 1, ANCOUNT and
/// NSCOUNT 0, at most one OPT (owned by the root) and no trailing bytes; FormErr for anything malformed;
/// NotImp for other opcodes; BadVers for EDNS version != 0. Non-OPT additional records (e.g. TSIG) are
/// checked for well-formedness and otherwise ignored.
Result<Query> parseQuery(std::span<const uint8_t> bytes);

}  // namespace nodenet::dns
