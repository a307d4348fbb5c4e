import HummingbirdTLS

/// The relay's own certificate for serving HTTPS (`serve --tls-cert FILE --tls-key FILE`, docs/security.md, "TLS").
public struct ServerTLS: Sendable, Equatable {
    /// PEM file with the server certificate, followed by any intermediate certificates.
    public var certificateFile: String
    /// PEM file with the certificate's private key (unencrypted).
    public var keyFile: String

    public init(certificateFile: String, keyFile: String) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// Reads both files into a server configuration (TLS 1.2 or newer, no client certificate asked for).
    /// - Throws: ``ServerTLSError`` naming the file that cannot be read or parsed.
    func configuration() throws(ServerTLSError) -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw ServerTLSError("cannot read the certificate \(certificateFile): \(error)")
        }
        guard !chain.isEmpty else {
            throw ServerTLSError("\(certificateFile) holds no PEM certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw ServerTLSError("cannot read the private key \(keyFile): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }
}

/// Why the relay's certificate or key cannot be used; the message names the file.
public struct ServerTLSError: Error, CustomStringConvertible {
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
