// Composing responses to parsed queries, with compression, truncation and EDNS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "dns/wire/cursor.h"
#include "dns/wire/name.h"
#include "dns/wire/query.h"
#include "dns/wire/types.h"

namespace nodenet::dns {

enum class Section : uint8_t { Answer = 0, Authority = 1, Additional = 2 };

/// What happened to a record passed to ResponseComposer::add().
enum class AddResult : uint8_t {
  Added,
  /// Did not fit (or an earlier record of this or an earlier section did not): not written. For the answer
  /// and authority sections TC is now set.
  NoRoom,
  /// The RDATA alternative does not suit the type, or a TXT string is over 255 octets: not written.
  BadRecord,
};

/// The UDP payload size this server advertises in its OPT records (RFC 6891 §6.2.5; 1232 per DNS Flag Day 2020
/// avoids IP fragmentation on common paths).
inline constexpr uint16_t kDefaultServerPayload = 1232;

/// Writes one response into caller memory, at most `limit` bytes, in section order.
///
/// Truncation (RFC 1035 §4.2.1, RFC 2181 §9): records are only ever written whole. When an answer or authority
/// record does not fit, TC is set and no later record is added. When an additional record does not fit, it
/// and later additionals are left out without TC (RFC 2181 §9: the client can do without them). Room for the
/// OPT record is reserved up front, so a query with EDNS always gets its OPT back, truncated or not.
///
/// Use: begin(), add()* in section order, finish(). Not thread-safe; reusable after finish() via begin().
class ResponseComposer {
 public:
  /// `buf` must stay valid until finish()'s result is consumed. The limit used is min(limit, buf.size(),
  /// 65535): pass Query::udpLimit() for UDP and 65535 for TCP.
  ResponseComposer(std::span<uint8_t> buf, size_t limit);

  /// Starts a response to `q`: QR set; id, opcode, RD and CD echoed; the question echoed with the client's
  /// spelling when it was readable; `rcode` (extended values need q.hasEdns). Previous content is discarded.
  void begin(const Query& q, Rcode rcode);
  /// Sets or clears AA (authoritative answer), RA (recursion available) or AD (authenticated data). Call after
  /// begin(), which clears them.
  void setAa(bool on) { setFlag(flags::AA, on); }
  void setRa(bool on) { setFlag(flags::RA, on); }
  void setAd(bool on) { setFlag(flags::AD, on); }
  /// Replaces the rcode chosen in begin() (e.g. NXDOMAIN after the lookup).
  void setRcode(Rcode rcode);
  /// The payload size advertised in our OPT (default kDefaultServerPayload).
  void setServerPayload(uint16_t size) { serverPayload_ = size; }

  /// Appends a record to `section`. Sections must come in order (answer, authority, additional); going back
  /// is a programming error and aborts.
  AddResult add(Section section, const ResourceRecord& rr);

  /// True once TC is set.
  bool truncated() const { return tc_; }

  /// Writes the OPT record (when the query had EDNS) and the final counts and flags; returns the message.
  /// The span points into the caller's buffer.
  std::span<const uint8_t> finish();

 private:
  void setFlag(uint16_t bit, bool on) { flags_ = on ? (flags_ | bit) : (flags_ & ~bit); }

  std::span<uint8_t> buf_;
  size_t limit_;
  WireWriter w_;
  NameCompressor compressor_;
  uint16_t flags_ = 0;
  Rcode rcode_ = Rcode::NoError;
  uint16_t counts_[3] = {0, 0, 0};
  Section section_ = Section::Answer;
  bool sectionClosed_[3] = {false, false, false};
  bool tc_ = false;
  bool edns_ = false;
  bool dnssecOk_ = false;
  uint16_t serverPayload_ = kDefaultServerPayload;
  uint16_t qdcount_ = 0;
};

/// Composes an error response (FORMERR, NOTIMP, REFUSED, SERVFAIL, BADVERS, ...) to `q` into `buf`: id,
/// opcode, RD and CD echoed, the question when it was readable, an OPT (version 0) when the query had a
/// well-formed one. `buf` must hold at least 512 bytes. Returns the message (a view into `buf`).
std::span<const uint8_t> composeError(const Query& q, Rcode rcode, std::span<uint8_t> buf);

/// The rcode to answer a non-Answer verdict with (FormErr -> FORMERR, NotImp -> NOTIMP, BadVers -> BADVERS).
Rcode verdictRcode(QueryVerdict v);

}  // namespace nodenet::dns
