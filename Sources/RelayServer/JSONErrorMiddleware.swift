import HTTPTypes
import Hummingbird
import NIOCore
import RelayCore

/// Answers every HTTP error as JSON `{"error": "...", "detail": "..."}` (docs/interface.md, "Answers to an event body"), including routes that do
/// not exist and bodies refused while streaming.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError
            where error.status == .notFound && RelayRoutes.eventPaths.contains(request.uri.path)
        {
            // The event routes exist, for POST (and HEAD, OPTIONS): any other method is 405 (RFC 9110 §15.5.6).
            var response = Self.response(
                status: .methodNotAllowed,
                detail: "events are sent with POST to \(request.uri.path), not \(request.method); HEAD answers 200 "
                    + "for liveness checks"
            )
            response.headers[.allow] = RelayRoutes.eventMethods
            return response
        } catch let error as HTTPError {
            return Self.response(status: error.status, detail: error.body ?? Self.detail(for: error.status, request))
        } catch let error as any HTTPResponseError {
            return Self.response(status: error.status, detail: Self.detail(for: error.status, request))
        }
    }

    static func detail(for status: HTTPResponse.Status, _ request: Request) -> String {
        switch status {
        case .notFound:
            return "no route for \(request.method) \(request.uri.path); events go to POST /minio-event or POST /"
        case .contentTooLarge:
            return "the body is larger than the relay's --max-body (env RELAY_MAX_BODY)"
        default:
            return status.reasonPhrase
        }
    }

    static func response(status: HTTPResponse.Status, detail: String) -> Response {
        var body: [UInt8] = Array(#"{"error":"#.utf8)
        JSONWriter.appendString(status.reasonPhrase.lowercased(), to: &body)
        body.append(contentsOf: Array(#","detail":"#.utf8))
        JSONWriter.appendString(detail, to: &body)
        body.append(UInt8(ascii: "}"))
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
