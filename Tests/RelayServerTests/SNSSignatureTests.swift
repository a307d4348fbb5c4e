import Crypto
import Foundation
import RelayCore
import SwiftASN1
import Testing
import X509
import _CryptoExtras

@testable import RelayServer

/// SNS signatures: SHA1withRSA (version 1) and SHA256withRSA (version 2) over the canonical string, checked against
/// the key of a PEM certificate made here (docs/security.md, "SNS signatures").
struct SNSSignatureTests {
    /// One signing key and its certificate, shared by the tests (RSA key generation is slow).
    static let signer: (key: _RSA.Signing.PrivateKey, pem: String)? = try? makeSigner(validFor: 3600)

    static func makeSigner(
        validFor seconds: TimeInterval,
        from start: Date = Date().addingTimeInterval(-60)
    ) throws -> (key: _RSA.Signing.PrivateKey, pem: String) {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let certificateKey = Certificate.PrivateKey(key)
        let name = try DistinguishedName { CommonName("sns.us-east-1.amazonaws.com") }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: certificateKey.publicKey,
            notValidBefore: start,
            notValidAfter: start.addingTimeInterval(seconds),
            issuer: name,
            subject: name,
            signatureAlgorithm: .sha256WithRSAEncryption,
            extensions: Certificate.Extensions(),
            issuerPrivateKey: certificateKey
        )
        return (key, try certificate.serializeAsPEM().pemString)
    }

    static func message(
        _ kind: SNSMessage.Kind = .notification,
        version: SNSMessage.SignatureVersion,
        text: String = #"{"Records":[{"eventSource":"aws:s3","s3":{"object":{"key":"a+b%2Bc.jpg"}}}]}"#
    ) -> SNSMessage {
        SNSMessage(
            kind: kind,
            messageID: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            topicARN: "arn:aws:sns:us-east-1:123456789012:photos-events",
            message: text,
            subject: kind == .notification ? "Amazon S3 Notification" : nil,
            timestamp: "2026-11-25T10:11:12.345Z",
            token: kind == .notification ? nil : "2336412f37",
            subscribeURL: kind == .notification ? nil : "https://sns.us-east-1.amazonaws.com/?Action=Confirm&Token=1",
            signatureVersion: version,
            signature: "",
            signingCertURL: "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"
        )
    }

    static func signed(_ message: SNSMessage, with key: _RSA.Signing.PrivateKey) throws -> SNSMessage {
        var message = message
        let bytes = message.canonicalString
        let signature: _RSA.Signing.RSASignature
        switch message.signatureVersion {
        case .sha1WithRSA:
            signature = try key.signature(for: Insecure.SHA1.hash(data: bytes), padding: .insecurePKCS1v1_5)
        case .sha256WithRSA:
            signature = try key.signature(for: SHA256.hash(data: bytes), padding: .insecurePKCS1v1_5)
        }
        message.signature = signature.rawRepresentation.base64EncodedString()
        return message
    }

    @Test(arguments: [SNSMessage.SignatureVersion.sha1WithRSA, .sha256WithRSA], SNSMessage.Kind.allCases)
    func aSignedMessageVerifies(_ version: SNSMessage.SignatureVersion, _ kind: SNSMessage.Kind) throws {
        let signer = try #require(Self.signer)
        let publicKey = try SNSCertificates.publicKey(pem: signer.pem)
        let message = try Self.signed(Self.message(kind, version: version), with: signer.key)
        #expect(SNSCertificates.isValidSignature(message, key: publicKey))
    }

    @Test(arguments: [SNSMessage.SignatureVersion.sha1WithRSA, .sha256WithRSA])
    func oneChangedByteOfMessageFails(_ version: SNSMessage.SignatureVersion) throws {
        let signer = try #require(Self.signer)
        let publicKey = try SNSCertificates.publicKey(pem: signer.pem)
        var message = try Self.signed(Self.message(version: version), with: signer.key)
        message.message = message.message.replacingOccurrences(of: "a+b", with: "a+c")
        #expect(!SNSCertificates.isValidSignature(message, key: publicKey))
    }

    @Test func aSignatureOfTheOtherVersionFails() throws {
        let signer = try #require(Self.signer)
        let publicKey = try SNSCertificates.publicKey(pem: signer.pem)
        var message = try Self.signed(Self.message(version: .sha1WithRSA), with: signer.key)
        message.signatureVersion = .sha256WithRSA
        #expect(!SNSCertificates.isValidSignature(message, key: publicKey))
    }

    @Test func aDroppedSubjectFails() throws {
        let signer = try #require(Self.signer)
        let publicKey = try SNSCertificates.publicKey(pem: signer.pem)
        var message = try Self.signed(Self.message(version: .sha256WithRSA), with: signer.key)
        message.subject = nil
        #expect(!SNSCertificates.isValidSignature(message, key: publicKey))
    }

    @Test func anotherKeyFails() throws {
        let signer = try #require(Self.signer)
        let other = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let publicKey = try SNSCertificates.publicKey(pem: signer.pem)
        let message = try Self.signed(Self.message(version: .sha256WithRSA), with: other)
        #expect(!SNSCertificates.isValidSignature(message, key: publicKey))
    }

    @Test(arguments: ["", "not base64!", "c2lnbmF0dXJl"])
    func aSignatureThatIsNotOneFails(_ signature: String) throws {
        let signer = try #require(Self.signer)
        let publicKey = try SNSCertificates.publicKey(pem: signer.pem)
        var message = Self.message(version: .sha256WithRSA)
        message.signature = signature
        #expect(!SNSCertificates.isValidSignature(message, key: publicKey))
    }

    @Test func anExpiredCertificateIsRefused() throws {
        let expired = try Self.makeSigner(validFor: 60, from: Date().addingTimeInterval(-3600))
        #expect(throws: SNSCertificates.Failure.self) { try SNSCertificates.publicKey(pem: expired.pem) }
    }

    @Test func aCertificateWithAnECKeyIsRefused() throws {
        let key = P256.Signing.PrivateKey()
        let certificateKey = Certificate.PrivateKey(key)
        let name = try DistinguishedName { CommonName("ec") }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: certificateKey.publicKey,
            notValidBefore: Date().addingTimeInterval(-60),
            notValidAfter: Date().addingTimeInterval(3600),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: Certificate.Extensions(),
            issuerPrivateKey: certificateKey
        )
        let pem = try certificate.serializeAsPEM().pemString
        #expect(throws: SNSCertificates.Failure.self) { try SNSCertificates.publicKey(pem: pem) }
    }

    @Test(arguments: ["", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "<html>404</html>"])
    func somethingThatIsNotACertificateIsRefused(_ pem: String) {
        #expect(throws: SNSCertificates.Failure.self) { try SNSCertificates.publicKey(pem: pem) }
    }

    // MARK: Basic credentials (an SNS subscription URL https://relay:TOKEN@host/)

    static func basic(_ credentials: String) -> String {
        "Basic " + Data(credentials.utf8).base64EncodedString()
    }

    @Test func basicCredentialsWithTheTokenAsPasswordMatch() {
        #expect(RelayRoutes.basicMatches(Self.basic("relay:s3cr3t"), "s3cr3t"))
        #expect(RelayRoutes.basicMatches(Self.basic(":s3cr3t"), "s3cr3t"))
        #expect(RelayRoutes.basicMatches("basic " + Data("sns:s3:cr3t".utf8).base64EncodedString(), "s3:cr3t"))
    }

    @Test(arguments: ["relay:wrong", "s3cr3t:", "s3cr3t", "relay:s3cr3", "relay:s3cr3tt"])
    func otherBasicCredentialsDoNotMatch(_ credentials: String) {
        #expect(!RelayRoutes.basicMatches(Self.basic(credentials), "s3cr3t"))
    }

    @Test(arguments: ["Basic", "Basic !!!", "Bearer s3cr3t", "Digest relay:s3cr3t"])
    func malformedBasicHeadersDoNotMatch(_ header: String) {
        #expect(!RelayRoutes.basicMatches(header, "s3cr3t"))
    }
}
