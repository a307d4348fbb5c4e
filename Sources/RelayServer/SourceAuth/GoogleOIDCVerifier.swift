import Crypto
import Foundation
import Logging
import RelayCore
import RelayDelivery
import _CryptoExtras

/// Settings of the Pub/Sub push check (`serve --gcs-audience`, docs/security.md, "Google Cloud Storage through
/// Pub/Sub").
public struct GCSPushAuthConfiguration: Sendable {
    /// `--gcs-audience` / `RELAY_GCS_AUDIENCE`: the audience the push subscription puts in its tokens (by default
    /// Pub/Sub uses the push endpoint's URL). A token for another audience is refused (403).
    public var audience: String
    /// `--gcs-service-account` / `RELAY_GCS_SERVICE_ACCOUNT` (comma-separated): the service accounts whose tokens
    /// are accepted (the token's `email`, with `email_verified` true). Required: any Google account can mint a token
    /// for any audience, so the audience alone does not say who sent it.
    public var serviceAccounts: [String]
    /// `--gcs-keys` / `RELAY_GCS_KEYS`: a file of the keys tokens are checked against, a JWKS (`{"keys":[…]}`) or PEM
    /// public keys; nil: Google's keys, fetched from `keysURL`.
    public var keysFile: String?
    /// Where Google's keys are fetched from (a JWKS), through libcurl; cached by key id, fetched again for an
    /// unknown key id (at most every `refetchInterval`) and when older than an hour.
    public var keysURL: String = "https://www.googleapis.com/oauth2/v3/certs"
    /// The slack allowed on `exp`, `nbf` and `iat` for clocks that differ. Default 30 s.
    public var leeway: Duration = .seconds(30)
    /// The least time between two fetches of the keys for unknown key ids. Default 10 s.
    public var refetchInterval: Duration = .seconds(10)

    public init(audience: String, serviceAccounts: [String], keysFile: String? = nil) {
        self.audience = audience
        self.serviceAccounts = serviceAccounts
        self.keysFile = keysFile
    }
}

/// Why a push's token was refused: the HTTP status (401: not a valid token from Google; 403: a valid token, but not
/// for this relay) and what to say.
public struct OIDCRefusal: Error, Sendable, Equatable {
    public var status: Int
    public var reason: String
}

/// Verifies the OIDC token (`Authorization: Bearer <JWT>`) of a Pub/Sub push: RS256 signature against Google's keys
/// (or the keys of `--gcs-keys`), issuer `https://accounts.google.com` or `accounts.google.com`, audience, expiry,
/// and the service account.
public final class GoogleOIDCVerifier: Sendable {
    /// Google's issuers, as its ID tokens name them.
    public static let issuers: Set<String> = ["https://accounts.google.com", "accounts.google.com"]

    let configuration: GCSPushAuthConfiguration
    private let keys: GoogleKeys
    private let now: @Sendable () -> Timestamp

    /// - Throws: a message when the keys file cannot be read or holds no RSA key.
    public init(
        configuration: GCSPushAuthConfiguration,
        client: CurlClient,
        logger: Logger,
        now: @escaping @Sendable () -> Timestamp = { Timestamp.now() }
    ) throws {
        self.configuration = configuration
        self.now = now
        if let file = configuration.keysFile {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw OIDCKeyFileError(message: "cannot read \(file); it must exist and be readable by this user")
            }
            let set = try GoogleKeys.KeySet.parse(Array(data))
            guard !set.isEmpty else {
                throw OIDCKeyFileError(message: "\(file) holds no RSA public key (a JWKS or PEM PUBLIC KEY blocks)")
            }
            self.keys = GoogleKeys(fixed: set, logger: logger)
        } else {
            self.keys = GoogleKeys(
                url: configuration.keysURL,
                client: client,
                refetchInterval: configuration.refetchInterval,
                logger: logger
            )
        }
    }

    /// Whether `token` looks like a JSON Web Token (three base64url segments, the first a JSON object): only such a
    /// bearer is checked as Google's, any other is the relay's own `--auth-token` or nothing.
    public static func looksLikeJWT(_ token: String) -> Bool {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Base64.decode(parts[0]) else { return false }
        return header.first == UInt8(ascii: "{")
    }

    /// Checks `token`; nil when it is a valid token of an allowed service account for the audience.
    public func refusal(_ token: String) async -> OIDCRefusal? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64.decode(parts[0]), let payloadBytes = Base64.decode(parts[1]),
            let signature = Base64.decode(parts[2]),
            let header = try? JSONParser.parse(headerBytes), let claims = try? JSONParser.parse(payloadBytes),
            header.objectValue != nil, claims.objectValue != nil
        else {
            return OIDCRefusal(status: 401, reason: "the bearer token is not a well-formed JSON Web Token")
        }
        guard header["alg"]?.stringValue == "RS256" else {
            return OIDCRefusal(status: 401, reason: "the token is not signed with RS256")
        }
        let candidates = await keys.candidates(kid: header["kid"]?.stringValue)
        guard !candidates.isEmpty else {
            return OIDCRefusal(status: 401, reason: "the token's key id is not one of Google's keys")
        }
        let digest = SHA256.hash(data: Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count)))
        let rsaSignature = _RSA.Signing.RSASignature(rawRepresentation: signature)
        guard
            candidates.contains(where: {
                $0.isValidSignature(rsaSignature, for: digest, padding: .insecurePKCS1v1_5)
            })
        else {
            return OIDCRefusal(status: 401, reason: "the token's signature does not verify")
        }
        guard let issuer = claims["iss"]?.stringValue, Self.issuers.contains(issuer) else {
            return OIDCRefusal(status: 401, reason: "the token's issuer is not Google (accounts.google.com)")
        }
        let nowSeconds = now().millisecondsSince1970 / 1000
        let leeway = configuration.leeway.components.seconds
        guard let expiry = claims["exp"]?.doubleValue else {
            return OIDCRefusal(status: 401, reason: "the token has no expiry (exp)")
        }
        guard Double(nowSeconds - leeway) < expiry else {
            return OIDCRefusal(status: 401, reason: "the token has expired")
        }
        if let notBefore = claims["nbf"]?.doubleValue, Double(nowSeconds + leeway) < notBefore {
            return OIDCRefusal(status: 401, reason: "the token is not valid yet (nbf)")
        }
        if let issuedAt = claims["iat"]?.doubleValue, Double(nowSeconds + leeway) < issuedAt {
            return OIDCRefusal(status: 401, reason: "the token was issued in the future (iat)")
        }
        let audiences: [String]
        if let audience = claims["aud"]?.stringValue {
            audiences = [audience]
        } else {
            audiences = claims["aud"]?.arrayValue?.compactMap(\.stringValue) ?? []
        }
        guard audiences.contains(where: { RelayRoutes.constantTimeEqual($0, configuration.audience) }) else {
            return OIDCRefusal(status: 403, reason: "the token's audience is not this relay's --gcs-audience")
        }
        guard let email = claims["email"]?.stringValue, claims["email_verified"]?.boolValue == true,
            configuration.serviceAccounts.contains(where: { $0.lowercased() == email.lowercased() })
        else {
            return OIDCRefusal(
                status: 403,
                reason: "the token's service account (email) is not one of --gcs-service-account"
            )
        }
        return nil
    }
}

/// A keys file that cannot be used.
public struct OIDCKeyFileError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The RSA keys tokens are checked against: fixed (a keys file), or Google's JWKS fetched through libcurl and cached.
actor GoogleKeys {
    /// Keys by key id, and keys without one (PEM), which any key id may use.
    struct KeySet: @unchecked Sendable {
        var byID: [String: _RSA.Signing.PublicKey] = [:]
        var withoutID: [_RSA.Signing.PublicKey] = []

        var isEmpty: Bool { byID.isEmpty && withoutID.isEmpty }

        /// A JWKS (`{"keys":[{"kty":"RSA","kid","n","e"}]}`, keys of other types skipped) or PEM `PUBLIC KEY` blocks.
        static func parse(_ bytes: [UInt8]) throws(OIDCKeyFileError) -> KeySet {
            let text = String(decoding: bytes, as: UTF8.self)
            if text.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("{") {
                guard let root = try? JSONParser.parse(bytes), let keys = root["keys"]?.arrayValue else {
                    throw OIDCKeyFileError(message: "not a JWKS: expected {\"keys\":[…]}")
                }
                var set = KeySet()
                for key in keys where key["kty"]?.stringValue == "RSA" {
                    guard let n = key["n"]?.stringValue.flatMap({ Base64.decode($0) }),
                        let e = key["e"]?.stringValue.flatMap({ Base64.decode($0) }),
                        let publicKey = try? _RSA.Signing.PublicKey(n: n, e: e)
                    else { continue }
                    if let kid = key["kid"]?.stringValue {
                        set.byID[kid] = publicKey
                    } else {
                        set.withoutID.append(publicKey)
                    }
                }
                return set
            }
            var set = KeySet()
            let marker = "-----END PUBLIC KEY-----"
            for block in text.components(separatedBy: marker) where block.contains("-----BEGIN PUBLIC KEY-----") {
                guard let start = block.range(of: "-----BEGIN PUBLIC KEY-----") else { continue }
                let pem = String(block[start.lowerBound...]) + marker
                guard let key = try? _RSA.Signing.PublicKey(pemRepresentation: pem) else {
                    throw OIDCKeyFileError(
                        message: "a PEM PUBLIC KEY block is not an RSA public key of 2048 bits or more"
                    )
                }
                set.withoutID.append(key)
            }
            return set
        }
    }

    private var set: KeySet
    private let fixed: Bool
    private let url: String
    private let client: CurlClient?
    private let refetchInterval: Duration
    private let logger: Logger
    private var fetchedAt: ContinuousClock.Instant?
    private var attemptedAt: ContinuousClock.Instant?
    private var refresh: Task<Void, Never>?

    init(fixed set: KeySet, logger: Logger) {
        self.set = set
        self.fixed = true
        self.url = ""
        self.client = nil
        self.refetchInterval = .zero
        self.logger = logger
    }

    init(url: String, client: CurlClient, refetchInterval: Duration, logger: Logger) {
        self.set = KeySet()
        self.fixed = false
        self.url = url
        self.client = client
        self.refetchInterval = refetchInterval
        self.logger = logger
    }

    /// The keys a token with key id `kid` may be signed with; fetches Google's keys first when `kid` is unknown (at
    /// most every `refetchInterval`) or the cache is older than an hour.
    func candidates(kid: String?) async -> [_RSA.Signing.PublicKey] {
        if !fixed {
            let stale = fetchedAt.map { ContinuousClock.now - $0 > .seconds(3600) } ?? true
            let unknown = kid.map { set.byID[$0] == nil } ?? false
            let mayTry = attemptedAt.map { ContinuousClock.now - $0 >= refetchInterval } ?? true
            if (stale || unknown) && (mayTry || refresh != nil) {
                await fetch()
            }
        }
        if let kid, let key = set.byID[kid] { return [key] + set.withoutID }
        if kid == nil { return Array(set.byID.values) + set.withoutID }
        return set.withoutID
    }

    /// One fetch at a time: callers arriving during a fetch wait for it.
    private func fetch() async {
        if let refresh {
            await refresh.value
            return
        }
        attemptedAt = ContinuousClock.now
        let task = Task { await self.load() }
        refresh = task
        await task.value
        refresh = nil
    }

    private func load() async {
        guard let client else { return }
        do {
            let response = try await client.execute(HTTPRequest(method: "GET", url: url, timeout: .seconds(10)))
            guard response.status == 200 else {
                logger.warning(
                    "Cannot fetch Google's token keys",
                    metadata: ["url": "\(url)", "http.response.status_code": "\(response.status)"]
                )
                return
            }
            let fetched = try KeySet.parse(response.body)
            guard !fetched.isEmpty else {
                logger.warning("Google's token keys hold no RSA key", metadata: ["url": "\(url)"])
                return
            }
            set = fetched
            fetchedAt = ContinuousClock.now
            logger.info("Fetched Google's token keys", metadata: ["url": "\(url)", "keys": "\(fetched.byID.count)"])
        } catch {
            logger.warning("Cannot fetch Google's token keys", metadata: ["url": "\(url)", "error": "\(error)"])
        }
    }
}
