import ArgumentParser
import Foundation
import RelayServer

/// The flags of the stores that prove their requests their own way: Backblaze B2's signature and Google's OIDC
/// token on Pub/Sub pushes (docs/security.md, "Who may post"). Part of `serve` (`@OptionGroup`).
struct SourceOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Backblaze B2 bodies need X-Bz-Event-Notification-Signature made with this signing secret of the B2 "
                + "notification rule; a good signature stands in for --auth-token (RELAY_B2_SIGNING_SECRET). "
                + "Default none: B2 bodies need only the relay's token.",
            valueName: "secret"
        )
    )
    var b2SigningSecret: String?
    @Option(
        help: ArgumentHelp(
            "Read the B2 signing secret from FILE, so that it is not in the command line "
                + "(RELAY_B2_SIGNING_SECRET_FILE). Default none.",
            valueName: "file"
        )
    )
    var b2SigningSecretFile: String?
    @Option(
        help: ArgumentHelp(
            "Pub/Sub pushes (Google Cloud Storage) need the push subscription's OIDC token for this audience, "
                + "which stands in for --auth-token on them; needs --gcs-service-account (RELAY_GCS_AUDIENCE). "
                + "Default none: pushes need only the relay's token.",
            valueName: "audience"
        )
    )
    var gcsAudience: String?
    @Option(
        help: ArgumentHelp(
            "The push subscription's service account (the token's email); repeatable "
                + "(RELAY_GCS_SERVICE_ACCOUNT, comma-separated).",
            valueName: "email"
        )
    )
    var gcsServiceAccount: [String] = []
    @Option(
        help: ArgumentHelp(
            "Check push tokens against the keys in FILE (a JWKS or PEM public keys) instead of Google's, fetched "
                + "from https://www.googleapis.com/oauth2/v3/certs (RELAY_GCS_KEYS). Default Google's.",
            valueName: "file"
        )
    )
    var gcsKeys: String?

    /// Sets `configuration.b2SigningSecret` and `configuration.gcsPush` from the flags and their twins.
    /// - Throws: `ValidationError` for exclusive or missing companions, and an unreadable or empty secret file.
    func apply(to configuration: inout RelayConfiguration) throws {
        configuration.b2SigningSecret = try b2Secret()
        let audience = ProcessEnvironment.twin(gcsAudience, "GCS_AUDIENCE")
        var accounts = gcsServiceAccount
        if accounts.isEmpty, let text = ProcessEnvironment.twin(nil, "GCS_SERVICE_ACCOUNT") {
            accounts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
        }
        let keys = ProcessEnvironment.twin(gcsKeys, "GCS_KEYS")
        guard let audience else {
            if !accounts.isEmpty || keys != nil {
                throw ValidationError("--gcs-service-account and --gcs-keys need --gcs-audience")
            }
            return
        }
        guard !audience.isEmpty else { throw ValidationError("--gcs-audience: the audience is empty") }
        guard !accounts.isEmpty else {
            throw ValidationError(
                "--gcs-audience needs --gcs-service-account EMAIL, the push subscription's service account: any "
                    + "Google account can get a token for any audience, so the audience alone proves nothing"
            )
        }
        configuration.gcsPush = GCSPushAuthConfiguration(audience: audience, serviceAccounts: accounts, keysFile: keys)
    }

    /// The secret of `--b2-signing-secret`, `--b2-signing-secret-file` or their twins (exclusive); a file's trailing
    /// newline is dropped.
    private func b2Secret() throws -> String? {
        if b2SigningSecret != nil && b2SigningSecretFile != nil {
            throw ValidationError("--b2-signing-secret and --b2-signing-secret-file are exclusive; give one")
        }
        let inline = b2SigningSecretFile == nil ? ProcessEnvironment.twin(b2SigningSecret, "B2_SIGNING_SECRET") : nil
        let file = b2SigningSecret == nil ? ProcessEnvironment.twin(b2SigningSecretFile, "B2_SIGNING_SECRET_FILE") : nil
        if inline != nil && file != nil {
            throw ValidationError("RELAY_B2_SIGNING_SECRET and RELAY_B2_SIGNING_SECRET_FILE are exclusive; set one")
        }
        if let inline {
            guard !inline.isEmpty else { throw ValidationError("--b2-signing-secret: the secret is empty") }
            return inline
        }
        guard let file else { return nil }
        let name = b2SigningSecretFile != nil ? "--b2-signing-secret-file" : "RELAY_B2_SIGNING_SECRET_FILE"
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ValidationError("\(name): cannot read \(file); it must exist and be readable by this user")
        }
        var secret = String(decoding: data, as: UTF8.self)
        while let last = secret.last, last.isNewline { secret.removeLast() }
        guard !secret.isEmpty, !secret.contains(where: { $0.isNewline }) else {
            throw ValidationError("\(name): \(file) must hold the secret alone, on one line")
        }
        return secret
    }
}
