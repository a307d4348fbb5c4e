import Foundation
import RelayCore
import RelayDelivery
import RelayLog
import Testing

/// Standard Webhooks signatures, against the example in the specification's reference implementations.
struct WebhookSignerTests {
    @Test func signsLikeTheStandardWebhooksReference() {
        // From the Standard Webhooks libraries' test suite (svix): secret, id, timestamp, payload, signature.
        let signer = WebhookSigner(secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
        let signature = signer.signature(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp: 1_614_265_330,
            body: Array(#"{"test": 2432232314}"#.utf8)
        )
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test func signsWithEverySecretForRotation() {
        let signer = WebhookSigner(secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "plain-secret"])
        let signature = signer.signature(id: "msg_1", timestamp: 1, body: Array("{}".utf8))
        let parts = signature.split(separator: " ")
        #expect(parts.count == 2)
        #expect(parts.allSatisfy { $0.hasPrefix("v1,") })
        #expect(parts[0] != parts[1])
    }
}
