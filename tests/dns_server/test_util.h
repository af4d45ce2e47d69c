// Helpers shared by the dns_server tests: composing queries and upstream answers with dns/wire.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dns/wire/message.h"
#include "dns/wire/query.h"

namespace nodenet::dns::testutil {

/// A query message for `name`/`type` (RD set), with an OPT of `ednsPayload` when given.
inline Message queryMessage(const std::string& name, RRType type, uint16_t id = 0x1234,
                            std::optional<uint16_t> ednsPayload = std::nullopt, bool dnssecOk = false) {
  Message m;
  m.header.id = id;
  m.header.rd = true;
  auto n = Name::fromText(name);
  EXPECT_TRUE(n.ok()) << name;
  m.questions.push_back({n.ok() ? *n : Name(), type, RRClass::IN});
  if (ednsPayload) {
    Edns e;
    e.udpPayload = *ednsPayload;
    e.dnssecOk = dnssecOk;
    m.edns = e;
  }
  return m;
}

inline std::vector<uint8_t> wire(const Message& m) {
  auto w = composeMessage(m);
  EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().message());
  return w.ok() ? *w : std::vector<uint8_t>{};
}

inline std::vector<uint8_t> queryWire(const std::string& name, RRType type, uint16_t id = 0x1234,
                                      std::optional<uint16_t> ednsPayload = std::nullopt) {
  return wire(queryMessage(name, type, id, ednsPayload));
}

inline Query parsedQuery(const std::vector<uint8_t>& bytes) {
  auto q = parseQuery(bytes);
  EXPECT_TRUE(q.ok());
  return q.ok() ? *q : Query{};
}

/// The response an upstream would send to `query`: QR, RA, the question echoed, the given records.
inline Message answerTo(const Message& query, std::vector<ResourceRecord> answers, Rcode rcode = Rcode::NoError,
                        std::vector<ResourceRecord> authority = {}) {
  Message r;
  r.header = query.header;
  r.header.qr = true;
  r.header.ra = true;
  r.questions = query.questions;
  r.answers = std::move(answers);
  r.authority = std::move(authority);
  r.edns = query.edns;
  r.setRcode(rcode);
  return r;
}

inline ResourceRecord soaRecord(const std::string& zone, uint32_t ttl, uint32_t minimum) {
  ResourceRecord rr;
  rr.owner = *Name::fromText(zone);
  rr.type = RRType::SOA;
  rr.ttl = ttl;
  RdataSoa soa;
  soa.mname = *Name::fromText("ns." + zone);
  soa.rname = *Name::fromText("hostmaster." + zone);
  soa.serial = 1;
  soa.refresh = 2;
  soa.retry = 3;
  soa.expire = 4;
  soa.minimum = minimum;
  rr.rdata = soa;
  return rr;
}

}  // namespace nodenet::dns::testutil
