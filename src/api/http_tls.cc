// The Beast server's TLS: the server context built from HttpTlsOptions and the handshake of a
// connection.
#include "api/http_server_internal.h"

namespace weir::api::internal {

namespace {

// The subject of the client certificate the handshake verified (RFC 2253), "" without one.
std::string PeerSubject(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return "";
  std::string out;
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
      char* data = nullptr;
      long n = BIO_get_mem_data(bio, &data);
      if (n > 0 && data != nullptr) out.assign(data, static_cast<size_t>(n));
    }
    BIO_free(bio);
  }
  X509_free(cert);
  return out;
}

}  // namespace

// The TLS handshake, within the handshake deadline. False when it failed (a plain HTTP request,
// an old protocol, no common cipher, a missing or untrusted client certificate) or took too long.
asio::awaitable<bool> Handshake(TlsSession& s) {
  s.tcp().expires_after(s.server->options().tls.handshake_timeout);
  auto [ec] = co_await s.stream.async_handshake(asio::ssl::stream_base::server, kTok);
  if (ec) co_return false;
  s.client_subject = PeerSubject(s.stream.native_handle());
  co_return true;
}

namespace {

// TLS 1.2 suites: ECDHE key exchange (forward secrecy) with AEAD encryption only.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

// The newest OpenSSL error as text ("no start line"), else `fallback`.
std::string OpenSslError(const beast::error_code& fallback) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return fallback.message();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

Status BeastServer::LoadTls() {
  const HttpTlsOptions& t = options_.tls;
  if (!t.enabled()) return Status::Ok();
  const std::string cert = t.cert_file.string();
  const std::string key = t.key_file.string();
  if (key.empty()) return InvalidArgument("server.tls.key: required with server.tls.cert");
  struct stat st {};
  if (::stat(key.c_str(), &st) != 0) return ErrnoStatus("server.tls.key: " + key, errno);
  if ((st.st_mode & S_IROTH) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return PermissionDenied("server.tls.key: " + key + " is readable by every user (mode " + mode +
                            "); make it readable by the server's user only (chmod 600 " + key +
                            ")");
  }
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* c = ctx->native_handle();
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(c, kTls13Suites) != 1) {
    return Internal("server.tls: cannot set the TLS policy: " + OpenSslError({}));
  }
  SSL_CTX_set_options(
      c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  beast::error_code ec;
  ctx->use_certificate_chain_file(cert, ec);
  if (ec) {
    return InvalidArgument("server.tls.cert: cannot load " + cert +
                           " (a PEM certificate): " + OpenSslError(ec));
  }
  ctx->use_private_key_file(key, asio::ssl::context::pem, ec);
  if (ec) {
    return InvalidArgument("server.tls.key: cannot load " + key +
                           " (a PEM private key): " + OpenSslError(ec));
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    return InvalidArgument("server.tls.key: " + key + " is not the key of the certificate in " +
                           cert);
  }
  static const unsigned char kSessionContext[] = "weir";
  SSL_CTX_set_session_id_context(c, kSessionContext, sizeof kSessionContext - 1);
  if (!t.client_ca_file.empty()) {
    const std::string ca = t.client_ca_file.string();
    ctx->load_verify_file(ca, ec);
    STACK_OF(X509_NAME)* names = ec ? nullptr : SSL_load_client_CA_file(ca.c_str());
    if (ec || names == nullptr) {
      return InvalidArgument("server.tls.client_ca: cannot load " + ca +
                             " (PEM CA certificates): " + OpenSslError(ec));
    }
    SSL_CTX_set_client_CA_list(c, names);  // named in the certificate request
    ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  ssl_ctx_ = std::move(ctx);
  return Status::Ok();
}

}  // namespace weir::api::internal
