import Foundation
import HTTPTypes
import Logging
import RelayCore
import RelayDelivery

/// What a request proved about its sender, and so which bodies it may carry (docs/security.md, "Who may post").
///
/// - The relay's own token (`--auth-token`; or none configured) admits any body, but a body of a source that has its
///   own check configured must also pass that check: a B2 body needs a good `X-Bz-Event-Notification-Signature`
///   when `--b2-signing-secret` is set, a Pub/Sub push needs a good Google OIDC token when `--gcs-audience` is set.
/// - A good B2 signature (an HMAC of the whole body under the shared secret) admits any body without the relay's
///   token. A bad one admits nothing but a body of test events (B2 has signed its test events with another key).
/// - A good Google OIDC token admits Pub/Sub pushes of Cloud Storage notifications only: it proves which Google
///   service account sent the request, not that the account may send anything else.
///
/// A refused body is answered 401 before anything of it is routed, spooled or dead-lettered.
public struct SourceAdmission: Sendable {
    /// What the request's B2 signature header said.
    public enum B2Proof: Sendable, Equatable {
        case absent, valid, invalid
    }

    /// The relay's own token was given (or none is configured).
    public var relayAuthenticated: Bool
    public var b2: B2Proof
    /// A Google OIDC token of an allowed service account for `--gcs-audience` was given.
    public var googleVerified: Bool
    /// `--b2-signing-secret` is set: B2 bodies need a valid signature.
    public var b2SignatureRequired: Bool
    /// `--gcs-audience` is set: Pub/Sub pushes need a valid Google OIDC token.
    public var googleTokenRequired: Bool

    public init(
        relayAuthenticated: Bool,
        b2: B2Proof = .absent,
        googleVerified: Bool = false,
        b2SignatureRequired: Bool = false,
        googleTokenRequired: Bool = false
    ) {
        self.relayAuthenticated = relayAuthenticated
        self.b2 = b2
        self.googleVerified = googleVerified
        self.b2SignatureRequired = b2SignatureRequired
        self.googleTokenRequired = googleTokenRequired
    }

    /// Any body (the stream's messages, tests).
    public static let unrestricted = SourceAdmission(relayAuthenticated: true)

    /// The 401 for a body this request may not carry; nil when it may.
    public func refusal(for body: DecodedBody) -> IngressResponse? {
        if b2 == .invalid {
            if case .testEvent = body { return nil }
            return .error(
                401,
                "unauthorized",
                "the \(B2Signature.headerName) header does not verify against --b2-signing-secret"
            )
        }
        var origin: DecodedEvents.Origin?
        if case .events(let events) = body { origin = events.origin }
        if origin == .b2, b2SignatureRequired, b2 != .valid {
            return .error(
                401,
                "unauthorized",
                "a Backblaze B2 body needs \(B2Signature.headerName) (the rule's signing secret is "
                    + "--b2-signing-secret)"
            )
        }
        if origin == .gcsPush, googleTokenRequired, !googleVerified {
            return .error(
                401,
                "unauthorized",
                "a Pub/Sub push needs the subscription's OIDC token (Authorization: Bearer, audience --gcs-audience)"
            )
        }
        if relayAuthenticated || b2 == .valid { return nil }
        if googleVerified, origin == .gcsPush { return nil }
        if googleVerified {
            return .error(
                401,
                "unauthorized",
                "a Google OIDC token authenticates Pub/Sub pushes of Cloud Storage notifications only; send other "
                    + "bodies with the relay's --auth-token"
            )
        }
        return .error(401, "unauthorized", "send Authorization: Bearer TOKEN (the relay's --auth-token)")
    }
}

/// Decides, from a request's headers, whether its body is read at all and what it proved (`SourceAdmission`).
struct SourceAuthenticator: Sendable {
    let relayToken: String?
    let b2: B2Signature?
    let google: GoogleOIDCVerifier?
    let logger: Logger

    /// What the headers proved before the body is read; the B2 signature is checked once it is.
    struct Credentials: Sendable {
        var relayAuthenticated: Bool
        var b2Header: String?
        var googleVerified: Bool
    }

    enum Outcome: Sendable {
        case refused(IngressResponse)
        case proceed(Credentials)
    }

    private static let b2HeaderName = HTTPField.Name(B2Signature.headerName)

    func authenticate(_ headers: HTTPFields) async -> Outcome {
        let bearer = headers[.authorization].flatMap(Self.bearerToken)
        var credentials = Credentials(relayAuthenticated: true, b2Header: nil, googleVerified: false)
        if let relayToken {
            // Bearer, or HTTP Basic with the token as the password (an SNS subscription URL's credentials).
            credentials.relayAuthenticated =
                headers[.authorization].map {
                    RelayRoutes.bearerMatches($0, relayToken) || RelayRoutes.basicMatches($0, relayToken)
                } ?? false
        }
        if b2 != nil, let name = Self.b2HeaderName, let value = headers[name] {
            credentials.b2Header = value
        }
        if let google, let bearer, !(relayToken.map { RelayRoutes.constantTimeEqual(bearer, $0) } ?? false),
            GoogleOIDCVerifier.looksLikeJWT(bearer)
        {
            if let refusal = await google.refusal(bearer) {
                logger.warning(
                    "Refused a Pub/Sub push token",
                    metadata: ["http.response.status_code": "\(refusal.status)", "reason": "\(refusal.reason)"]
                )
                return .refused(
                    .error(refusal.status, refusal.status == 403 ? "forbidden" : "unauthorized", refusal.reason)
                )
            }
            credentials.googleVerified = true
        }
        if !credentials.relayAuthenticated && credentials.b2Header == nil && !credentials.googleVerified {
            return .refused(
                .error(
                    401,
                    "unauthorized",
                    "send Authorization: Bearer TOKEN (the relay's --auth-token), or Basic with the token as the password"
                )
            )
        }
        return .proceed(credentials)
    }

    /// The admission of `credentials` once `body` is read (the B2 signature checked over it).
    func admission(_ credentials: Credentials, body: [UInt8]) -> SourceAdmission {
        var proof = SourceAdmission.B2Proof.absent
        if let b2, let header = credentials.b2Header {
            proof = b2.verifies(header: header, body: body) ? .valid : .invalid
            if proof == .invalid {
                logger.warning(
                    "A Backblaze B2 signature did not verify",
                    metadata: ["header": "\(B2Signature.headerName)"]
                )
            }
        }
        return SourceAdmission(
            relayAuthenticated: credentials.relayAuthenticated,
            b2: proof,
            googleVerified: credentials.googleVerified,
            b2SignatureRequired: b2 != nil,
            googleTokenRequired: google != nil
        )
    }

    /// The token of `Bearer TOKEN` (scheme case-insensitive); nil for another scheme.
    static func bearerToken(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, ASCII.equalsIgnoringCase(parts[0], "bearer") else { return nil }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }
}

extension SourceAuthenticator {
    /// The authenticator of `configuration`'s token and source checks.
    /// - Throws: `RelayStartError` (`source_authentication`) when the `--gcs-keys` file cannot be used.
    static func make(
        configuration: RelayConfiguration,
        client: CurlClient,
        logger: Logger
    ) throws(RelayStartError) -> SourceAuthenticator {
        var google: GoogleOIDCVerifier?
        if let gcs = configuration.gcsPush {
            do {
                google = try GoogleOIDCVerifier(configuration: gcs, client: client, logger: logger)
            } catch {
                throw RelayStartError(
                    code: .sourceAuthentication,
                    message: "--gcs-keys: \(error)",
                    diagnostics: nil
                )
            }
        }
        if configuration.b2SigningSecret != nil {
            logger.info("Backblaze B2 bodies need their signature", metadata: ["header": "\(B2Signature.headerName)"])
        }
        if let gcs = configuration.gcsPush {
            logger.info(
                "Pub/Sub pushes need a Google OIDC token",
                metadata: [
                    "gcs.audience": "\(gcs.audience)",
                    "gcs.service_accounts": "\(gcs.serviceAccounts.joined(separator: ","))",
                    "gcs.keys": "\(gcs.keysFile ?? gcs.keysURL)",
                ]
            )
        }
        return SourceAuthenticator(
            relayToken: configuration.authToken,
            b2: configuration.b2SigningSecret.map(B2Signature.init(secret:)),
            google: google,
            logger: logger
        )
    }
}
