// Test-only: a self-signed certificate generated with the OpenSSL APIs at run time (no files, no openssl CLI).
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace nodenet::fakeapi {

struct CertAndKey {
  std::string certPem;  // self-signed (CA:TRUE), so it doubles as the CA a client trusts
  std::string keyPem;
};

/// A P-256 key and a one-day self-signed certificate for `commonName` with these subjectAltNames: entries
/// that parse as IP addresses become IP SANs, the rest DNS SANs.
Result<CertAndKey> generateSelfSigned(const std::string& commonName, const std::vector<std::string>& sans);

}  // namespace nodenet::fakeapi
