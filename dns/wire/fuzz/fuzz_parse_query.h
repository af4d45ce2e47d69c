// Fuzz entry point for the query path (STYLE.md habit 12, after Knot's tests-fuzz): shared by the libFuzzer
// binary (NODENET_FUZZ=ON) and by the ctest replay of tests/dns/corpus.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nodenet::dns {

/// Feeds arbitrary bytes through parseQuery(), the response composer (answer or error, UDP limits of 512 and
/// the client's size), parseMessage() and a compose/parse round trip, and aborts when an invariant breaks:
/// a composed response must parse, echo the id and question, stay within its limit, and keep OPT for EDNS
/// queries; a parsed message must compose back to an equal message. Always returns 0 (libFuzzer convention).
int fuzzParseQuery(const uint8_t* data, size_t size);

}  // namespace nodenet::dns
