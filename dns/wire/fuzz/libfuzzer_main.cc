// libFuzzer target: build with -DNODENET_FUZZ=ON using clang, then
//   build-fuzz/bin/dns_wire_fuzz_parse_query tests/dns/corpus
#include <cstddef>
#include <cstdint>

#include "dns/wire/fuzz/fuzz_parse_query.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nodenet::dns::fuzzParseQuery(data, size);
}
