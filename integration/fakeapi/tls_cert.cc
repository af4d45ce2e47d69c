#include "integration/fakeapi/tls_cert.h"

#include <arpa/inet.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>

#include "base/strings.h"

namespace nodenet::fakeapi {

namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

std::string bioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

bool addExt(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

}  // namespace

Result<CertAndKey> generateSelfSigned(const std::string& commonName, const std::vector<std::string>& sans) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Error("EVP_EC_gen failed");
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(commonName.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  std::string san;
  for (const auto& s : sans) {
    unsigned char buf[16];
    bool ip = inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
    san += strCat(san.empty() ? "" : ",", ip ? "IP:" : "DNS:", s);
  }
  if (!addExt(cert.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !addExt(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign") ||
      !addExt(cert.get(), NID_subject_key_identifier, "hash") ||
      (!san.empty() && !addExt(cert.get(), NID_subject_alt_name, san)))
    return Error("adding certificate extensions failed");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return Error("X509_sign failed");

  BioPtr certBio(BIO_new(BIO_s_mem()));
  BioPtr keyBio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(certBio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(keyBio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return Error("PEM encoding failed");
  return CertAndKey{bioText(certBio.get()), bioText(keyBio.get())};
}

}  // namespace nodenet::fakeapi
