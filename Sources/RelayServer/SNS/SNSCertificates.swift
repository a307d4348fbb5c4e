import Crypto
import Foundation
import RelayCore
import RelayDelivery
import SwiftASN1
import Synchronization
import X509
import _CryptoExtras

/// The public keys of SNS's signing certificates, fetched from `SigningCertURL` through libcurl and kept by URL.
///
/// A URL is fetched only once ``SNSURLPolicy`` allows it. The fetch is verified TLS against the system's trust store
/// plus `--sns-ca`; the certificate must be a PEM X.509 certificate with an RSA key of at least 2048 bits, valid now.
/// At most ``SNSConfiguration/maxCachedCertificates`` keys are kept; the oldest is dropped first. A failed fetch is
/// not kept, so the next message tries again.
final class SNSCertificates: Sendable {
    /// Why no key came from a URL.
    enum Failure: Error, Equatable, CustomStringConvertible {
        /// The certificate will never do (not PEM, not RSA, expired, ...): the message is treated as unsigned.
        case refused(String)
        /// The certificate could not be fetched now (connection, TLS, timeout, non-200): worth a retry.
        case unavailable(String)

        var description: String {
            switch self {
            case .refused(let reason), .unavailable(let reason): reason
            }
        }
    }

    private struct Cache {
        var keys: [String: _RSA.Signing.PublicKey] = [:]
        var order: [String] = []
    }

    private let client: CurlClient
    private let tls: TargetTLS?
    private let timeout: Duration
    private let capacity: Int
    private let cache = Mutex(Cache())
    private let fetches = Atomic<Int>(0)

    init(client: CurlClient, configuration: SNSConfiguration) {
        self.client = client
        self.tls = configuration.caFile.map { TargetTLS(caFile: $0) }
        self.timeout = configuration.fetchTimeout
        self.capacity = max(1, configuration.maxCachedCertificates)
    }

    /// Certificates fetched so far (for tests and the log).
    var fetchCount: Int { fetches.load(ordering: .relaxed) }

    /// The key of the certificate at `url`, from the cache or fetched (the caller has checked the URL).
    func publicKey(at url: String) async throws(Failure) -> _RSA.Signing.PublicKey {
        if let key = cache.withLock({ $0.keys[url] }) { return key }
        fetches.add(1, ordering: .relaxed)
        let response: HTTPResponse
        do {
            response = try await client.execute(HTTPRequest(method: "GET", url: url, timeout: timeout, tls: tls))
        } catch {
            throw .unavailable("cannot fetch the signing certificate: \(error)")
        }
        guard response.status == 200 else {
            throw .unavailable("the signing certificate URL answered \(response.status)")
        }
        guard !response.isBodyTruncated else { throw .refused("the signing certificate is too large to be one") }
        let key = try Self.publicKey(pem: String(decoding: response.body, as: UTF8.self))
        cache.withLock { cache in
            if cache.keys.updateValue(key, forKey: url) == nil { cache.order.append(url) }
            while cache.order.count > capacity {
                cache.keys[cache.order.removeFirst()] = nil
            }
        }
        return key
    }

    /// The RSA key of a PEM certificate valid at `now`.
    static func publicKey(pem: String, now: Date = Date()) throws(Failure) -> _RSA.Signing.PublicKey {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: pem)
        } catch {
            throw .refused("the signing certificate is not a PEM X.509 certificate: \(error)")
        }
        guard certificate.notValidBefore <= now, now <= certificate.notValidAfter else {
            throw .refused(
                "the signing certificate is not valid now (\(certificate.notValidBefore) to "
                    + "\(certificate.notValidAfter))"
            )
        }
        guard let key = _RSA.Signing.PublicKey(certificate.publicKey) else {
            throw .refused("the signing certificate's key is not an RSA key of 2048 bits or more")
        }
        return key
    }

    /// Whether `message`'s `Signature` is `key`'s RSA PKCS #1 v1.5 signature of its canonical string: SHA-1 for
    /// `SignatureVersion` 1, SHA-256 for 2.
    static func isValidSignature(_ message: SNSMessage, key: _RSA.Signing.PublicKey) -> Bool {
        guard let bytes = Data(base64Encoded: message.signature), !bytes.isEmpty else { return false }
        let signature = _RSA.Signing.RSASignature(rawRepresentation: bytes)
        let signed = message.canonicalString
        switch message.signatureVersion {
        case .sha1WithRSA:
            return key.isValidSignature(signature, for: Insecure.SHA1.hash(data: signed), padding: .insecurePKCS1v1_5)
        case .sha256WithRSA:
            return key.isValidSignature(signature, for: SHA256.hash(data: signed), padding: .insecurePKCS1v1_5)
        }
    }
}
