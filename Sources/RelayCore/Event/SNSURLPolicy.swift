/// Which URLs of an SNS message the relay may fetch: its `SigningCertURL` and a confirmation's `SubscribeURL`
/// (docs/security.md, "SNS signatures").
///
/// Only `https://` URLs on an SNS host, `sns.<region>.amazonaws.com` or, in AWS's China partition,
/// `sns.<region>.amazonaws.com.cn` (port 443), where `<region>` is a region name such as `us-east-1` (so that
/// `sns.s3.amazonaws.com`, an S3 bucket named `sns`, is not one); or on the one more host of `--sns-cert-host
/// HOST:PORT`, meant for a stand-in of SNS in tests. No user name or password, no fragment, no control characters or
/// backslashes; a certificate URL has a path ending in `.pem` and no query.
public struct SNSURLPolicy: Sendable, Equatable {
    /// A host and a port, as `--sns-cert-host` gives them: `HOST:PORT` or `[IPv6]:PORT`.
    public struct HostPort: Sendable, Equatable, CustomStringConvertible {
        /// Lowercased; an IPv6 address without its brackets.
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host.lowercased()
            self.port = port
        }

        /// `HOST:PORT` (`[HOST]:PORT` for IPv6); nil when it is not of that form or the port is not 1-65535.
        public static func parse(_ text: String) -> HostPort? {
            guard let parts = SNSURLPolicy.splitAuthority(Substring(text)), let port = parts.port, !parts.host.isEmpty
            else { return nil }
            return HostPort(host: parts.host, port: port)
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The host `--sns-cert-host` allows beside SNS's own; nil: SNS's hosts only.
    public var extraHost: HostPort?

    public init(extraHost: HostPort? = nil) {
        self.extraHost = extraHost
    }

    /// Why `url` must not be fetched as a signing certificate; nil when it may.
    public func certificateURLProblem(_ url: String) -> String? {
        problem(url, certificate: true)
    }

    /// Why `url` must not be fetched to confirm a subscription; nil when it may.
    public func subscribeURLProblem(_ url: String) -> String? {
        problem(url, certificate: false)
    }

    /// True for `sns.<region>.amazonaws.com` and `sns.<region>.amazonaws.com.cn` (lowercase, no trailing dot).
    public static func isSNSHost(_ host: String) -> Bool {
        let suffix: String
        if host.hasSuffix(".amazonaws.com") {
            suffix = ".amazonaws.com"
        } else if host.hasSuffix(".amazonaws.com.cn") {
            suffix = ".amazonaws.com.cn"
        } else {
            return false
        }
        guard host.hasPrefix("sns.") else { return false }
        let region = host.utf8.dropFirst(4).dropLast(suffix.utf8.count)
        return isRegion(region)
    }

    /// `[a-z]{2}(-[a-z]+)+-[0-9]+`: `us-east-1`, `us-gov-west-1`, `cn-north-1`.
    static func isRegion(_ region: Substring.UTF8View) -> Bool {
        let parts = region.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        guard parts.count >= 3, let first = parts.first, let last = parts.last else { return false }
        guard first.count == 2, first.allSatisfy(isLowerLetter) else { return false }
        guard !last.isEmpty, last.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return false
        }
        return parts.dropFirst().dropLast().allSatisfy { !$0.isEmpty && $0.allSatisfy(isLowerLetter) }
    }

    private static func isLowerLetter(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")
    }

    private func problem(_ url: String, certificate: Bool) -> String? {
        let what = certificate ? "SigningCertURL" : "SubscribeURL"
        for byte in url.utf8 where byte <= 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\\") {
            return "\(what) holds a space, a control character, a backslash or a non-ASCII byte"
        }
        let scheme = "https://"
        guard url.utf8.count > scheme.utf8.count, url.prefix(scheme.count).lowercased() == scheme else {
            return "\(what) is not an https:// URL"
        }
        let rest = url.dropFirst(scheme.count)
        guard !rest.contains("#") else { return "\(what) has a fragment" }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let pathAndQuery = rest[authorityEnd...]
        guard !authority.contains("@") else { return "\(what) carries a user name or password" }
        guard let parts = Self.splitAuthority(authority), !parts.host.isEmpty else {
            return "\(what) has no valid host and port"
        }
        let host = parts.host
        let port = parts.port
        if certificate {
            guard !pathAndQuery.contains("?") else { return "\(what) has a query; SNS's certificates have none" }
            guard pathAndQuery.hasSuffix(".pem") else {
                return "\(what) does not name a .pem file, as SNS's certificate URLs do"
            }
        }
        if Self.isSNSHost(host) && (port == nil || port == 443) { return nil }
        if let extraHost, extraHost.host == host, extraHost.port == (port ?? 443) { return nil }
        let allowed = extraHost.map { "an SNS host (sns.<region>.amazonaws.com) or \($0)" }
        return "\(what) host \(host) is not \(allowed ?? "an SNS host (sns.<region>.amazonaws.com)")"
    }

    /// `host[:port]` or `[v6][:port]`: the lowercased host (no brackets) and the port when given; nil when malformed.
    static func splitAuthority(_ authority: Substring) -> (host: String, port: Int?)? {
        let host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
            guard host.utf8.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { return nil }
        } else {
            if let colon = authority.lastIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            } else {
                host = authority
            }
            guard
                host.utf8.allSatisfy({
                    isLowerLetter($0 | 0x20) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                        || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
                })
            else { return nil }
        }
        var port: Int?
        if let portText {
            guard !portText.isEmpty, portText.count <= 5,
                portText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let value = Int(portText), (1...65535).contains(value)
            else { return nil }
            port = value
        }
        return (host.lowercased(), port)
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || isLowerLetter(byte | 0x20) && (byte | 0x20) <= 0x66
    }
}
