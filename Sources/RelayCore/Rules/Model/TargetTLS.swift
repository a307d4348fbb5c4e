/// How the relay connects to a target over TLS: the `tls` object of a target (docs/rules.md, "TLS to a target").
///
/// Paths are absolute once loaded (a relative path in a rule file is resolved against that file's folder). Without
/// a `tls` object, an `https://` target is verified against the system's trust store.
public struct TargetTLS: Sendable, Equatable {
    /// PEM file of the certificate authorities to trust for this target, instead of the system's trust store.
    public var caFile: String?
    /// PEM file of the client certificate the relay presents (it may hold the private key too).
    public var certFile: String?
    /// PEM file of the client certificate's private key (unencrypted); needs `certFile`.
    public var keyFile: String?
    /// Whether the target's certificate and host name go unchecked. Loading such a target gives a warning, and the
    /// relay logs one at start: anyone on the path can read and change the deliveries.
    public var insecureSkipVerify: Bool

    public init(
        caFile: String? = nil,
        certFile: String? = nil,
        keyFile: String? = nil,
        insecureSkipVerify: Bool = false
    ) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.insecureSkipVerify = insecureSkipVerify
    }

    /// The files to read, with their field names, in declaration order.
    public var files: [(field: String, path: String)] {
        var files: [(field: String, path: String)] = []
        if let caFile { files.append(("caFile", caFile)) }
        if let certFile { files.append(("certFile", certFile)) }
        if let keyFile { files.append(("keyFile", keyFile)) }
        return files
    }
}
